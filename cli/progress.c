#include "progress.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Seconds before the first line; $MIST_PROGRESS_AFTER overrides it (0: from the start, which
 * is how the tests see the line without a slow run). */
#define DELAY_S 2.0

struct cli_progress {
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, tty, shown, open_line;
    double t0, last, delay;
    char what[128], stage[128];
    size_t done, total;
};

/* Called with the lock held. */
static void show(cli_progress *p, double t)
{
    char count[64] = "";
    if (p->total)
        snprintf(count, sizeof count, " %zu/%zu (%.0f%%),", p->done, p->total,
                 100.0 * (double)p->done / (double)p->total);
    fprintf(stderr, "%s%s%s%s:%s %.0f s%s", p->tty ? "\r" : "", p->what, p->stage[0] ? ", " : "",
            p->stage, count, t - p->t0, p->tty ? "\033[K" : "\n");
    fflush(stderr);
    p->shown = 1;
    p->open_line = p->tty;
    p->last = t;
}

static void *run(void *arg)
{
    cli_progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
        if (p->stop) break;
        double t = mist_clock_s();
        if (t - p->t0 >= p->delay && (p->tty || !p->shown || t - p->last >= 10.0)) show(p, t);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

cli_progress *cli_progress_start(const char *what, int quiet)
{
    if (quiet) return NULL;
    cli_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->what, sizeof p->what, "%s", what);
    p->tty = isatty(STDERR_FILENO);
    p->t0 = mist_clock_s();
    const char *env = getenv("MIST_PROGRESS_AFTER");
    char *end;
    p->delay = env && *env ? strtod(env, &end) : DELAY_S;
    if (!env || !*env || *end || !(p->delay >= 0)) p->delay = DELAY_S;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    /* shown from the start: the first line here, before any stage can change (so every stage
     * gets its line whatever the thread's timing) */
    if (p->delay <= 0) show(p, p->t0);
    if (pthread_create(&p->tid, NULL, run, p) != 0) { /* no line rather than no answer */
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void cli_progress_stage(cli_progress *p, const char *stage)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    p->done = p->total = 0;
    if (p->shown && p->delay <= 0) show(p, mist_clock_s()); /* every stage, when shown from the start */
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_count(cli_progress *p, size_t done, size_t total)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    if (done > p->done || total != p->total) p->done = done;
    p->total = total;
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_stop(cli_progress *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->tid, NULL);
    if (p->shown) {
        p->stage[0] = '\0';
        p->done = p->total;
        fprintf(stderr, "%s%s: done in %.1f s%s\n", p->tty ? "\r" : "", p->what,
                mist_clock_s() - p->t0, p->tty ? "\033[K" : "");
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
