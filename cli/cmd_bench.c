/* mist bench: estimators over a suite -> results.csv, summary.md/json, plots; and merge. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mist_bench.h"
#include "mpi_hook.h"
#include "opts.h"

#define MAX_EST 64
#define MAX_TRANSFORMS 16

static void bench_usage(FILE *f)
{
    fputs(
        "usage: mist bench --suite NAME --estimators LIST --out DIR [options]\n"
        "       mist bench merge DIR... [-o OUT] [--no-plots] [--quiet]\n"
        "\n"
        "Runs every estimator of LIST on every dataset of a suite, one results row per\n"
        "(dataset, estimator), and writes DIR/results.csv, DIR/summary.md, DIR/summary.json\n"
        "and DIR/plots/ (PNG via gnuplot). MI is in nats.\n"
        "\n"
        "options:\n"
        "  --suite NAME       mist-imd-official | mist-oomd-official (the MIST paper's test\n"
        "                     tasks) | mist-imd | mist-oomd | bmi40 | smoke, or a folder written by\n"
        "                     `mist gen --suite` (datasets read from its files, truth from its\n"
        "                     manifest.csv; write ./NAME for a folder named like a built-in\n"
        "                     suite); built-in suites are generated in memory\n"
        "  --seeds A-B        suite seeds (default 0-0); --suite-seed S is --seeds S-S\n"
        "  --n N              rows per dataset for bmi40 and smoke (MIST suites have a fixed "
        "grid)\n"
        "  --estimators LIST  comma-separated specs NAME[:OPTION...]:\n"
        "                       ksg1, ksg2   k=K (default 5), noise=S, no-zscore, copula\n"
        "                       gaussian     copula, unbiased (Wishart bias removed)\n"
        "                       histogram    bins=B, mm (Miller-Madow), copula\n"
        "                       kde          bandwidth=H, copula\n"
        "                       discrete     (discrete data: the table's MI, bias-corrected)\n"
        "                       mist         PATH or weights=PATH (a mist weights file), raw;\n"
        "                                    mist:qr, mist:point: the shipped models (bare mist:\n"
        "                                    the default, as in `mist estimate`); guard: the\n"
        "                                    answer `mist estimate` gives (the guard's fallback\n"
        "                                    where it finds a reason)\n"
        "                     e.g. ksg1:k=5,ksg2,gaussian,gaussian:copula,histogram,\n"
        "                          mist:qr\n"
        "                     Each gets a canonical label (ksg1:k=5, gaussian:copula, ...) used\n"
        "                     in results and tables (an absolute path by its file name). Paths\n"
        "                     cannot contain ',' or ':'.\n"
        "  -o, --out DIR      output folder (created when missing)\n"
        "  --threads T        datasets run in parallel on T threads (default 1); each estimate\n"
        "                     is single-threaded, results do not depend on T\n"
        "                     --estimators may be given several times (the lists add up).\n"
        "  --transform LIST   run every dataset under each MI-preserving transform of LIST\n"
        "                     (comma-separated; a chain joins steps with '+'): none (default),\n"
        "                     perm (columns permuted within X and within Y), rotate (random\n"
        "                     orthogonal mixing within X and within Y), swap (X and Y\n"
        "                     exchanged), flow (a random smooth invertible map of X and of Y),\n"
        "                     negate (a random sign per column);\n"
        "                     seeded per dataset (as `mist gen --transform`), recorded per row\n"
        "  --score MODE       single (default): a dataset's score is (estimate - MI)^2;\n"
        "                     bootstrap:B: the MIST paper's score, the mean of (estimate - MI)^2\n"
        "                     over B bootstrap resamples of the dataset (the same resamples for\n"
        "                     every estimator; quantile models: their median)\n"
        "  --bootstrap B      classical estimators: percentile bootstrap interval, B resamples\n"
        "  --ci LEVEL         interval level (default 0.9): the bootstrap's, and quantile models'\n"
        "                     ((1-LEVEL)/2 and (1+LEVEL)/2 quantiles; their median is the "
        "estimate)\n"
        "  --shard i/N        run datasets i, i+N, i+2N, ... only (0 <= i < N), into\n"
        "                     DIR/results-shard-i-of-N.csv; N processes may share one DIR or use\n"
        "                     one each; join them with `mist bench merge`\n"
        "  --no-plots         write the plot data and script but do not run gnuplot\n"
        "  --quiet            no progress output\n"
        "\n"
        "Rows are appended to results.csv one whole line at a time as they are computed. Running\n"
        "again with the same --out (same suite and settings) skips every (dataset, estimator)\n"
        "pair already there - an interrupted run loses nothing - and adds estimators new to\n"
        "LIST. An estimator that fails on a dataset records the error in its row. Several suites\n"
        "may share one DIR: the summary covers each separately.\n"
        "\n"
        "merge: joins results.csv and results-shard-*-of-*.csv of every DIR into OUT/results.csv\n"
        "(default: the first DIR), deduplicated and in suite order, and writes the summary and\n"
        "plots there.\n",
        f);
}

typedef struct progress_ctx {
    int tty, quiet, printed_header, open_line;
    double last;
    const char *suite;
    size_t nest;
} progress_ctx;

static void fmt_dur(char *buf, size_t cap, double s)
{
    if (!isfinite(s) || s < 0) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void on_progress(void *arg, const mist_bench_progress *p)
{
    progress_ctx *c = arg;
    if (c->quiet) return;
    double t = mist_clock_s();
    if (!c->printed_header) {
        c->printed_header = 1;
        fprintf(stderr, "bench %s: %zu datasets x %zu estimators to run", c->suite, p->total,
                c->nest);
        if (p->skipped) fprintf(stderr, " (%zu datasets already done)", p->skipped);
        fputc('\n', stderr);
        c->last = t;
    }
    int final = p->done >= p->total;
    if (!final && t - c->last < (c->tty ? 0.2 : 5.0)) return;
    if (final && !c->open_line && p->total == 0) return;
    c->last = t;
    double rate = p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0;
    char eta[32], el[32];
    fmt_dur(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : NAN);
    fmt_dur(el, sizeof el, p->elapsed_s);
    char failed[48] = "";
    if (p->failed_rows) snprintf(failed, sizeof failed, ", %zu failed rows", p->failed_rows);
    if (c->tty) {
        char bar[31];
        size_t w = 30, fill = p->total ? p->done * w / p->total : w;
        for (size_t i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu datasets, %.2f/s, %s, ETA %s%s\033[K", bar, p->done,
                p->total, rate, el, final ? "0s" : eta, failed);
        c->open_line = !final;
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "bench %s: %zu/%zu datasets (%.0f%%), %.2f/s, %s elapsed, ETA %s%s\n",
                c->suite, p->done, p->total,
                p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, rate, el,
                final ? "0s" : eta, failed);
    }
    fflush(stderr);
}

static void print_report(const mist_bench_report *r, const char *dir, int quiet, double wall)
{
    if (r->plots == MIST_BENCH_PLOTS_NO_GNUPLOT) fprintf(stderr, "mist: note: %s\n", r->plot_msg);
    else if (r->plots == MIST_BENCH_PLOTS_FAILED)
        fprintf(stderr, "mist: warning: %s\n", r->plot_msg);
    if (quiet) return;
    if (r->dropped_partial)
        fprintf(stderr, "dropped a partial last line of the results (a run was interrupted while "
                        "writing it)\n");
    fprintf(stderr, "%s: %zu rows (%zu with an error)", r->results_path, r->total_rows,
            r->failed_rows);
    if (r->summary_written)
        fprintf(stderr, "; summary in %s/summary.md and %s/summary.json", dir, dir);
    if (r->plots == MIST_BENCH_PLOTS_OK) fprintf(stderr, "; %s", r->plot_msg);
    fprintf(stderr, "\nwall time %.1f s\n", wall);
}

static int cmd_merge(int argc, char **argv)
{
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    size_t nd = 0;
    const char *out = NULL;
    int plots = 1, quiet = 0;
    if (!dirs) {
        cli_error("out of memory");
        return 1;
    }
    enum { O_OUT = 1, O_NOPLOTS, O_QUIET };
    static const cli_opt opts[] = {{O_OUT, "--out", "-o", 1},
                                   {O_NOPLOTS, "--no-plots", NULL, 0},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "bench merge", opts, argc, argv);
    const char *v;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_ERROR: free(dirs); return 2;
        case CLI_OPT_HELP: bench_usage(stdout); free(dirs); return 0;
        case O_OUT: out = v; break;
        case O_NOPLOTS: plots = 0; break;
        case O_QUIET: quiet = 1; break;
        default: dirs[nd++] = v;
        }
    }
    if (nd == 0) {
        cli_error("bench merge: give the folders to join: mist bench merge DIR... [-o OUT]");
        free(dirs);
        return 2;
    }
    double t0 = mist_clock_s();
    mist_bench_report rep;
    mist_err err = {0};
    int rc = mist_bench_merge(dirs, nd, out, plots, &rep, &err);
    if (rc) {
        cli_error("bench merge: %s", err.msg);
        free(dirs);
        return 1;
    }
    if (!quiet) fprintf(stderr, "merged %zu folder(s): %zu datasets\n", nd, rep.datasets);
    print_report(&rep, out ? out : dirs[0], quiet, mist_clock_s() - t0);
    free(dirs);
    return 0;
}

/* "a,b,c" into items pointing into buf; -1 on an empty item or too many. */
static int split_transforms(const char *list, char *buf, size_t cap, const char **items,
                            size_t *count)
{
    if (!list || !*list || strlen(list) >= cap) return -1;
    strcpy(buf, list);
    size_t k = 0;
    for (char *p = buf;;) {
        char *c = strchr(p, ',');
        if (c) *c = '\0';
        if (!*p || k == MAX_TRANSFORMS) return -1;
        items[k++] = p;
        if (!c) break;
        p = c + 1;
    }
    *count = k;
    return 0;
}

/* "single" -> 0, "bootstrap:B" -> B. */
static int parse_score(const char *s, int *boot)
{
    if (!s) return -1;
    if (!strcmp(s, "single")) {
        *boot = 0;
        return 0;
    }
    if (strncmp(s, "bootstrap:", 10)) return -1;
    return mist_parse_int(s + 10, 1, 1000000, boot);
}

static int parse_shard(const char *s, int *i, int *n)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash) return -1;
    char a[32];
    size_t la = (size_t)(slash - s);
    if (la == 0 || la >= sizeof a) return -1;
    memcpy(a, s, la);
    a[la] = '\0';
    if (mist_parse_int(a, 0, 1 << 20, i) || mist_parse_int(slash + 1, 1, 1 << 20, n)) return -1;
    return *i < *n ? 0 : -1;
}

/* Ctrl-C, kill, a closed terminal: the `cmd:` commands run in process groups of their own,
 * out of the terminal's reach, so they are killed here before the bench dies as it would
 * have. The results file keeps every finished row (each is written whole); a rerun resumes. */
static void on_stop_signal(int sig)
{
    mist_bench_kill_commands();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void kill_commands_on_stop(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        /* a signal the caller ignores (nohup's SIGHUP) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "merge")) return cmd_merge(argc - 1, argv + 1);
    mist_bench_opts o;
    mist_bench_opts_default(&o);
    const char *lists[MAX_EST];
    size_t nlists = 0;
    static const char *transforms[MAX_TRANSFORMS];
    static char transform_buf[1024];
    size_t ntransforms = 0;
    int quiet = 0, have_seeds = 0;
    enum {
        O_SUITE = 1, O_SEEDS, O_SUITE_SEED, O_N, O_EST, O_TRANSFORM, O_SCORE, O_OUT, O_THREADS,
        O_SHARD, O_CI, O_BOOT, O_NOPLOTS, O_QUIET
    };
    static const cli_opt opts[] = {{O_SUITE, "--suite", NULL, 1},
                                   {O_SEEDS, "--seeds", NULL, 1},
                                   {O_SUITE_SEED, "--suite-seed", NULL, 1},
                                   {O_N, "--n", NULL, 1},
                                   {O_EST, "--estimators", NULL, 1},
                                   {O_TRANSFORM, "--transform", NULL, 1},
                                   {O_SCORE, "--score", NULL, 1},
                                   {O_OUT, "--out", "-o", 1},
                                   {O_THREADS, "--threads", NULL, 1},
                                   {O_SHARD, "--shard", NULL, 1},
                                   {O_CI, "--ci", NULL, 1},
                                   {O_BOOT, "--bootstrap", NULL, 1},
                                   {O_NOPLOTS, "--no-plots", NULL, 0},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "bench", opts, argc, argv);
    const char *v;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: bench_usage(stdout); return 0;
        case O_SUITE: o.suite = v; break;
        case O_SEEDS:
        case O_SUITE_SEED:
            if (have_seeds) {
                cli_error("bench: give the suite seeds once (--seeds A-B or --suite-seed S)");
                return 2;
            }
            have_seeds = 1;
            if (id == O_SUITE_SEED) {
                if (mist_parse_u64(v, &o.seed_lo)) return cli_opts_bad(&p, v, "a seed");
                o.seed_hi = o.seed_lo;
            } else if (cli_parse_range(v, &o.seed_lo, &o.seed_hi) || o.seed_lo > o.seed_hi)
                return cli_opts_bad(&p, v, "A-B with A <= B");
            break;
        case O_N:
            if (cli_parse_size(v, 2, (size_t)1 << 32, &o.n)) return cli_opts_bad(&p, v, ">= 2");
            break;
        case O_EST:
            if (nlists == MAX_EST) {
                cli_error("bench: too many --estimators options");
                return 2;
            }
            lists[nlists++] = v;
            break;
        case O_TRANSFORM:
            if (ntransforms) {
                cli_error("bench: give --transform once, with a comma-separated list");
                return 2;
            }
            if (split_transforms(v, transform_buf, sizeof transform_buf, transforms,
                                 &ntransforms)) {
                cli_error("bench: --transform wants a comma-separated list of transforms, e.g. "
                          "none,perm,rotate,swap,flow (got '%s')",
                          v);
                return 2;
            }
            break;
        case O_SCORE:
            if (parse_score(v, &o.score_bootstrap))
                return cli_opts_bad(&p, v, "single or bootstrap:B");
            break;
        case O_OUT: o.out_dir = v; break;
        case O_THREADS:
            if (mist_parse_int(v, 1, 256, &o.threads)) return cli_opts_bad(&p, v, "1..256");
            break;
        case O_SHARD:
            if (parse_shard(v, &o.shard_i, &o.shard_n)) return cli_opts_bad(&p, v, "i/N, 0 <= i < N");
            break;
        case O_CI:
            if (mist_parse_double(v, &o.ci) || !(o.ci > 0 && o.ci < 1))
                return cli_opts_bad(&p, v, "a level in (0, 1)");
            break;
        case O_BOOT:
            if (mist_parse_int(v, 1, 1000000, &o.bootstrap)) return cli_opts_bad(&p, v, "1..1000000");
            break;
        case O_NOPLOTS: o.plots = 0; break;
        case O_QUIET: quiet = 1; break;
        default: return cli_opts_extra(&p, v);
        }
    }
    if (!o.suite || !nlists || !o.out_dir) {
        cli_error("bench: --suite, --estimators and --out are required (run `mist bench --help`)");
        return 2;
    }
    static mist_bench_est est[MAX_EST];
    size_t nest = 0;
    mist_err err = {0};
    for (size_t l = 0; l < nlists; l++) {
        size_t got = 0;
        if (mist_bench_parse_estimators(lists[l], est + nest, MAX_EST - nest, &got, &err)) {
            cli_error("bench: --estimators: %s", err.msg);
            return 2;
        }
        nest += got;
    }
    /* under mpirun the ranks are the shards, and rank 0 joins them */
    int ranks = cli_mpi_size(), rank = cli_mpi_rank();
    if (ranks > 1) {
        if (o.shard_n > 1) {
            if (rank == 0) cli_error("bench: under mpirun the ranks are the shards: drop --shard");
            return 2;
        }
        o.shard_i = rank;
        o.shard_n = ranks;
        if (rank != 0) quiet = 1;
    }
    o.est = est;
    o.nest = nest;
    o.transforms = transforms;
    o.ntransforms = ntransforms;
    progress_ctx pc = {
        .tty = isatty(STDERR_FILENO), .quiet = quiet, .suite = o.suite, .nest = nest};
    o.progress = on_progress;
    o.progress_ctx = &pc;
    double t0 = mist_clock_s();
    mist_bench_report rep;
    kill_commands_on_stop();
    int rc = mist_bench_run(&o, &rep, &err);
    if (pc.open_line) fputc('\n', stderr);
    if (ranks > 1) {
        int own = rc;
        if (own) cli_error("bench: rank %d: %s", rank, err.msg);
        if (cli_mpi_agree(own, &err) || own) {
            if (!own && rank == 0) cli_error("bench: %s", err.msg);
            return own == MIST_EINVAL ? 2 : 1;
        }
        if (rank != 0) return 0;
        const char *dirs[1] = {o.out_dir};
        rc = mist_bench_merge(dirs, 1, o.out_dir, o.plots, &rep, &err);
    }
    if (rc) {
        cli_error("bench: %s", err.msg);
        return rc == MIST_EINVAL ? 2 : 1;
    }
    print_report(&rep, o.out_dir, quiet, mist_clock_s() - t0);
    if (!quiet && o.shard_n > 1 && ranks == 1)
        fprintf(stderr,
                "shard %d/%d done; when every shard is, join them: mist bench merge DIR... "
                "[-o OUT]\n",
                o.shard_i, o.shard_n);
    return 0;
}
