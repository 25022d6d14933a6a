/* A user's command as an estimator (cmd:NAME=COMMAND, mist_bench.h has the protocol): the data
 * goes to a private .npy, the command runs through /bin/sh in a process group of its own, and
 * its stdout is read as one number or one JSON object.
 *
 * Bench calls this from several threads at once, so: no global state, posix_spawn (no code of
 * ours runs in the child), pipes close-on-exec from birth (a command spawned by another thread
 * must not inherit them, or our read would wait for EOF until that command ends), the child is
 * always reaped, and both pipes are drained through one poll loop so that neither can fill up
 * and stall the command. */
#define _GNU_SOURCE /* pipe2: O_CLOEXEC atomically (POSIX only from 2024) */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_internal.h"
#include "io_internal.h"

extern char **environ;

/* How much of the output a message quotes. */
#define QUOTE_MAX 120

static const char *errtext(int e, char *buf, size_t cap)
{
    return strerror_r(e, buf, cap); /* GNU variant: thread-safe, returns the text */
}

/* ---- the scratch folder --------------------------------------------------------------------- */

/* Removes path and, for a folder, everything the command may have left in it. 0, or the
 * errno of the first failure. */
static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) ? errno : 0;
    int rc = 0;
    DIR *d = opendir(path);
    if (!d) return errno;
    struct dirent *de;
    while ((de = readdir(d))) { /* a stream of our own: glibc's readdir is safe on it */
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *child = malloc(len);
        if (!child) {
            rc = ENOMEM;
            break;
        }
        snprintf(child, len, "%s/%s", path, de->d_name);
        int r = remove_tree(child);
        if (r && !rc) rc = r;
        free(child);
    }
    closedir(d);
    if (rmdir(path) && !rc) rc = errno;
    return rc;
}

/* ---- the command line ----------------------------------------------------------------------- */

/* Appends s to the growing string *buf (length *len); -1 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t slen)
{
    if (*len + slen + 1 > *cap) {
        size_t ncap = (*len + slen + 1) * 2;
        char *nb = realloc(*buf, ncap);
        if (!nb) return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, slen);
    *len += slen;
    (*buf)[*len] = '\0';
    return 0;
}

/* path inside single quotes, each ' written as '\'' */
static int append_quoted(char **buf, size_t *len, size_t *cap, const char *path)
{
    if (append(buf, len, cap, "'", 1)) return -1;
    for (const char *p = path; *p; p++) {
        int rc = *p == '\'' ? append(buf, len, cap, "'\\''", 4) : append(buf, len, cap, p, 1);
        if (rc) return -1;
    }
    return append(buf, len, cap, "'", 1);
}

/* The command with its placeholders filled; NULL when out of memory. */
static char *expand_command(const char *cmd, const char *file, size_t n, int dx, int dy,
                            const char *taus_text)
{
    char *buf = NULL, num[32];
    size_t len = 0, cap = 0;
    if (append(&buf, &len, &cap, "", 0)) return NULL;
    for (const char *p = cmd; *p;) {
        int rc;
        if (!strncmp(p, "{file}", 6)) {
            rc = append_quoted(&buf, &len, &cap, file);
            p += 6;
        } else if (!strncmp(p, "{dx}", 4) || !strncmp(p, "{dy}", 4)) {
            snprintf(num, sizeof num, "%d", p[2] == 'x' ? dx : dy);
            rc = append(&buf, &len, &cap, num, strlen(num));
            p += 4;
        } else if (!strncmp(p, "{n}", 3)) {
            snprintf(num, sizeof num, "%zu", n);
            rc = append(&buf, &len, &cap, num, strlen(num));
            p += 3;
        } else if (!strncmp(p, "{taus}", 6)) {
            rc = append(&buf, &len, &cap, taus_text, strlen(taus_text));
            p += 6;
        } else {
            rc = append(&buf, &len, &cap, p, 1);
            p++;
        }
        if (rc) {
            free(buf);
            return NULL;
        }
    }
    return buf;
}

/* ---- running it ----------------------------------------------------------------------------- */

typedef struct capture {
    char *buf; /* BENCH_CMD_OUTPUT_MAX + 1 bytes, NUL-terminated */
    size_t len;
    int overflow; /* more arrived than fits */
    int keep_tail; /* on overflow keep the latest bytes (stderr), else the first (stdout) */
} capture;

static void capture_add(capture *c, const char *s, size_t k)
{
    const size_t cap = BENCH_CMD_OUTPUT_MAX;
    if (c->len + k > cap) {
        c->overflow = 1;
        if (c->keep_tail) {
            if (k >= cap) {
                s += k - cap;
                k = cap;
                c->len = 0;
            } else {
                size_t drop = c->len + k - cap;
                memmove(c->buf, c->buf + drop, c->len - drop);
                c->len -= drop;
            }
        } else {
            k = cap - c->len;
        }
    }
    memcpy(c->buf + c->len, s, k);
    c->len += k;
    c->buf[c->len] = '\0';
}

/* Reads what is there; 1 at EOF or on an error that ends the stream. */
static int drain(int fd, capture *c)
{
    char chunk[4096];
    ssize_t k = read(fd, chunk, sizeof chunk);
    if (k > 0) {
        capture_add(c, chunk, (size_t)k);
        return 0;
    }
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    return 1;
}

/* A pipe whose ends sit above stderr: were an end 0, 1 or 2 (the caller closed those), the
 * child's dup2 onto that number would be a no-op that leaves close-on-exec set. */
static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC)) return -1;
    for (int i = 0; i < 2; i++)
        if (p[i] <= 2) {
            int moved = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
            close(p[i]);
            p[i] = moved;
        }
    if (p[0] < 0 || p[1] < 0) {
        int e = errno;
        if (p[0] >= 0) close(p[0]);
        if (p[1] >= 0) close(p[1]);
        p[0] = p[1] = -1; /* never closed twice: the numbers may belong to another thread now */
        errno = e;
        return -1;
    }
    return 0;
}

enum { RUN_EXITED, RUN_TIMEOUT, RUN_LINGER };

/* The process groups of the commands running now (0: a free slot), for
 * mist_bench_kill_commands. A slot is cleared while its group leader is still an unreaped
 * zombie (WNOWAIT below), so a listed id never names a reused pid. More commands at once than
 * slots (one per bench thread in practice) go unlisted: they still end at their timeout. */
#define LIVE_SLOTS 1024
static atomic_int live_groups[LIVE_SLOTS];

static int live_add(pid_t pid)
{
    for (int i = 0; i < LIVE_SLOTS; i++) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong(&live_groups[i], &free_slot, (int)pid)) return i;
    }
    return -1;
}

static void live_del(int slot)
{
    if (slot >= 0) atomic_store(&live_groups[slot], 0);
}

void mist_bench_kill_commands(void)
{
    for (int i = 0; i < LIVE_SLOTS; i++) {
        int pid = atomic_load(&live_groups[i]);
        if (pid > 0) kill(-(pid_t)pid, SIGKILL);
    }
}

/* Spawns `sh -c line`, collects its output until the main process has exited and both pipes
 * are at EOF, or until the deadline (then the group is killed). *how is RUN_*, *wstatus the
 * main process's status. Fails only when it could not start. */
static int run_command(const char *line, double timeout_s, capture *out, capture *errc,
                       int *how, int *wstatus, mist_err *err)
{
    char eb[128];
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (make_pipe(po) || make_pipe(pe)) {
        int e = errno;
        if (po[0] >= 0) {
            close(po[0]);
            close(po[1]);
        }
        return mist_fail(err, MIST_EIO, "cannot create a pipe: %s", errtext(e, eb, sizeof eb));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int fa_ok = posix_spawn_file_actions_init(&fa) == 0;
    int at_ok = posix_spawnattr_init(&at) == 0;
    int rc = fa_ok && at_ok ? 0 : ENOMEM;
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    /* Own process group: a timeout kills the command and everything it started, and nothing
     * else. The signal mask and ignored signals would otherwise carry over from this thread. */
    if (!rc)
        rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGQUIT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGHUP);
    if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &dfl);
    pid_t pid = -1;
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)line, NULL};
    if (!rc) rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    if (fa_ok) posix_spawn_file_actions_destroy(&fa);
    if (at_ok) posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    if (rc) {
        close(po[0]);
        close(pe[0]);
        return mist_fail(err, MIST_EIO, "cannot start /bin/sh: %s", errtext(rc, eb, sizeof eb));
    }

    int slot = live_add(pid);
    double deadline = mist_clock_s() + timeout_s;
    int open_out = 1, open_err = 1, exited = 0;
    *how = RUN_EXITED;
    *wstatus = 0;
    while (!exited || open_out || open_err) {
        if (!exited) {
            /* WNOWAIT: the exited main process stays a zombie, so its pid (the group's id)
             * cannot be reused until the group is killed below. */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
            if (w == 0 && si.si_pid == pid) {
                /* what it left running would hold the pipes open and outlive the call */
                kill(-pid, SIGKILL);
                live_del(slot);
                while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR) {
                }
                exited = 1;
                continue;
            }
            if (w < 0 && errno != EINTR) {
                /* ECHILD: the process ignores SIGCHLD, so the kernel reaped the command and its
                 * status is lost (read as 0); its pid may be reused, so no group kill. */
                live_del(slot);
                exited = 1;
                continue;
            }
        }
        double left = deadline - mist_clock_s();
        if (left <= 0) {
            if (!exited) {
                kill(-pid, SIGKILL);
                live_del(slot);
                while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR) {
                }
                exited = 1;
                *how = RUN_TIMEOUT;
            } else {
                *how = RUN_LINGER; /* something outside the group still holds a pipe */
            }
            break;
        }
        /* Until the main process is seen to exit, wake up now and then to look. */
        int ms = (int)ceil(left * 1000);
        if (!exited && ms > 20) ms = 20;
        struct pollfd pf[2];
        int np = 0;
        if (open_out) pf[np++] = (struct pollfd){.fd = po[0], .events = POLLIN};
        if (open_err) pf[np++] = (struct pollfd){.fd = pe[0], .events = POLLIN};
        int r = poll(np ? pf : NULL, (nfds_t)np, ms);
        if (r <= 0) continue;
        for (int i = 0; i < np; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) continue;
            int is_out = pf[i].fd == po[0];
            if (drain(pf[i].fd, is_out ? out : errc)) {
                if (is_out) open_out = 0;
                else open_err = 0;
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    return MIST_OK;
}

/* ---- reading what it printed ---------------------------------------------------------------- */

/* A one-line excerpt of s: control characters as spaces, at most QUOTE_MAX bytes. */
static void excerpt(char *dst, size_t cap, const char *s, size_t len)
{
    size_t k = 0;
    for (; k < len && k + 4 < cap && k < QUOTE_MAX; k++) {
        unsigned char c = (unsigned char)s[k];
        dst[k] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    if (k < len && k + 4 <= cap) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The last non-empty line of stderr as an excerpt ("" when none). */
static void last_line(char *dst, size_t cap, const capture *c)
{
    size_t end = c->len;
    while (end > 0 && is_space(c->buf[end - 1])) end--;
    size_t start = end;
    while (start > 0 && c->buf[start - 1] != '\n') start--;
    excerpt(dst, cap, c->buf + start, end - start);
}

static int member_double(const mist_json *v, const char *key, double *out, const char *shown,
                         mist_err *err)
{
    /* null is NaN (absent); a literal too large for a double is +-inf, refused */
    if (mist_json_double(v, 1, out) || isinf(*out))
        return mist_fail(err, MIST_EFORMAT,
                         "command printed a bad \"%s\" (want a finite number): '%s'", key, shown);
    return MIST_OK;
}

/* "quantiles": {"0.05": v, ...}. Fills q in taus' order when the levels are exactly taus. */
static int parse_quantiles(const mist_json *v, const double *taus, size_t nq, double *q, int *q_ok,
                           const char *shown, mist_err *err)
{
    if (v->type == MIST_JSON_NULL) return MIST_OK;
    if (v->type != MIST_JSON_OBJ)
        return mist_fail(err, MIST_EFORMAT,
                         "command printed \"quantiles\" that is not an object of level: value "
                         "(e.g. {\"0.05\": 0.1, \"0.5\": 0.3}): '%s'",
                         shown);
    size_t matched = 0;
    for (size_t i = 0; i < v->n; i++) {
        double level, value;
        if (mist_io_parse_double(v->keys[i], &level) || !(level > 0 && level < 1))
            return mist_fail(err, MIST_EFORMAT,
                             "command printed a quantile level '%.40s' that is not a number in "
                             "(0, 1): '%s'",
                             v->keys[i], shown);
        for (size_t j = 0; j < i; j++) {
            double other;
            if (!mist_io_parse_double(v->keys[j], &other) && fabs(other - level) < 1e-9)
                return mist_fail(err, MIST_EFORMAT,
                                 "command printed the quantile level %g twice: '%s'", level,
                                 shown);
        }
        if (v->items[i].type != MIST_JSON_NUM || mist_json_double(&v->items[i], 0, &value) ||
            !isfinite(value))
            return mist_fail(err, MIST_EFORMAT,
                             "command printed a bad quantile at level %g (want a finite "
                             "number): '%s'",
                             level, shown);
        for (size_t j = 0; j < nq; j++)
            if (fabs(taus[j] - level) < 1e-9) {
                q[j] = value;
                matched++;
                break;
            }
    }
    *q_ok = nq > 0 && matched == nq && v->n == nq;
    return MIST_OK;
}

static int parse_json(const char *s, size_t len, const double *taus, size_t nq, double *estimate,
                      double *lower, double *upper, double *q, int *q_ok, const char *shown,
                      mist_err *err)
{
    mist_json root;
    mist_err jerr = {0};
    if (mist_json_parse("stdout", s, len, &root, &jerr))
        return mist_fail(err, MIST_EFORMAT, "command printed malformed JSON (%s): '%s'", jerr.msg,
                         shown);
    int rc = MIST_OK, have_est = 0;
    if (root.type != MIST_JSON_OBJ) {
        rc = mist_fail(err, MIST_EFORMAT, "command printed JSON that is not an object: '%s'",
                       shown);
        goto done;
    }
    for (size_t i = 0; i < root.n && !rc; i++) {
        const char *key = root.keys[i];
        const mist_json *v = &root.items[i];
        if (!strcmp(key, "estimate")) {
            rc = member_double(v, key, estimate, shown, err);
            if (!rc && !isfinite(*estimate))
                rc = mist_fail(err, MIST_EFORMAT, "command printed a null \"estimate\": '%s'",
                               shown);
            have_est = 1;
        } else if (!strcmp(key, "lower")) {
            rc = member_double(v, key, lower, shown, err);
        } else if (!strcmp(key, "upper")) {
            rc = member_double(v, key, upper, shown, err);
        } else if (!strcmp(key, "quantiles")) {
            rc = parse_quantiles(v, taus, nq, q, q_ok, shown, err);
        } else {
            rc = mist_fail(err, MIST_EFORMAT,
                           "command printed an unknown member \"%.40s\" (known: estimate, lower, "
                           "upper, quantiles): '%s'",
                           key, shown);
        }
    }
    if (rc) goto done;
    if (!have_est)
        rc = mist_fail(err, MIST_EFORMAT, "command printed JSON without \"estimate\": '%s'",
                       shown);
    else if (isnan(*lower) != isnan(*upper))
        rc = mist_fail(err, MIST_EFORMAT,
                       "command printed only one of \"lower\" and \"upper\": '%s'", shown);
    else if (*lower > *upper)
        rc = mist_fail(err, MIST_EFORMAT, "command printed lower > upper: '%s'", shown);
done:
    mist_json_free(&root);
    if (rc) {
        *lower = *upper = NAN;
        *q_ok = 0;
    }
    return rc;
}

static int parse_output(capture *c, const double *taus, size_t nq, double *estimate,
                        double *lower, double *upper, double *q, int *q_ok, mist_err *err)
{
    char *s = c->buf;
    size_t len = c->len;
    while (len && is_space(*s)) s++, len--;
    while (len && is_space(s[len - 1])) len--;
    s[len] = '\0';
    char shown[QUOTE_MAX + 8];
    excerpt(shown, sizeof shown, s, len);
    if (len == 0)
        return mist_fail(err, MIST_EFORMAT,
                         "command printed nothing on stdout (want a number or a JSON object with "
                         "\"estimate\")");
    if (strlen(s) != len)
        return mist_fail(err, MIST_EFORMAT, "command printed a NUL byte on stdout: '%s'", shown);
    if (*s == '{')
        return parse_json(s, len, taus, nq, estimate, lower, upper, q, q_ok, shown, err);
    if (mist_io_parse_double(s, estimate))
        return mist_fail(err, MIST_EFORMAT,
                         "command printed neither one number nor one JSON object on stdout "
                         "(diagnostics belong on stderr): '%s'",
                         shown);
    if (!isfinite(*estimate))
        return mist_fail(err, MIST_EFORMAT, "command printed a non-finite estimate: '%s'", shown);
    return MIST_OK;
}

/* ---- the whole call ------------------------------------------------------------------------- */

static int outcome(int how, int wstatus, double timeout_s, const capture *errc, mist_err *err)
{
    char line[QUOTE_MAX + 8];
    last_line(line, sizeof line, errc);
    if (how == RUN_TIMEOUT)
        return mist_fail(err, MIST_EIO,
                         "command timed out after %g s (its process group was killed)%s%s",
                         timeout_s, *line ? "; last stderr line: " : "", line);
    if (WIFSIGNALED(wstatus))
        return mist_fail(err, MIST_EIO, "command killed by signal %d%s%s", WTERMSIG(wstatus),
                         *line ? ": " : "", line);
    if (!WIFEXITED(wstatus))
        return mist_fail(err, MIST_EIO, "command ended with wait status %d", wstatus);
    if (WEXITSTATUS(wstatus) != 0)
        return mist_fail(err, MIST_EIO, "command exited with status %d: %s",
                         WEXITSTATUS(wstatus), *line ? line : "(nothing on stderr)");
    if (how == RUN_LINGER)
        return mist_fail(err, MIST_EIO,
                         "command exited but something it started outside its process group "
                         "kept its output open past the %g s limit",
                         timeout_s);
    return MIST_OK;
}

int bench_cmd_estimate(const mist_bench_est *spec, const double *data, size_t n, int dx, int dy,
                       const char *tmp_root, const double *taus, size_t nq, double *estimate,
                       double *lower, double *upper, double *q, int *q_ok, mist_err *err)
{
    *estimate = *lower = *upper = NAN;
    *q_ok = 0;
    if (!spec || strcmp(spec->name, "cmd") || !spec->command[0] || !(spec->timeout_s > 0))
        return mist_fail(err, MIST_EINVAL, "not a cmd: estimator spec");
    if (!data || dx < 1 || dy < 1)
        return mist_fail(err, MIST_EINVAL, "no data, or dx=%d, dy=%d", dx, dy);
    if (nq > BENCH_MAX_TAUS || (nq && (!taus || !q)))
        return mist_fail(err, MIST_EINVAL, "bad quantile levels (%zu)", nq);
    if (!tmp_root || !*tmp_root) tmp_root = getenv("TMPDIR");
    if (!tmp_root || !*tmp_root) tmp_root = "/tmp";

    char eb[128], dir[BENCH_PATH_LEN], file[BENCH_PATH_LEN + 16];
    if ((size_t)snprintf(dir, sizeof dir, "%s/mist-cmd-XXXXXX", tmp_root) >= sizeof dir)
        return mist_fail(err, MIST_EINVAL, "scratch folder '%.200s' is too long", tmp_root);
    if (!mkdtemp(dir))
        return mist_fail(err, MIST_EIO, "cannot create a scratch folder in '%.200s': %s",
                         tmp_root, errtext(errno, eb, sizeof eb));
    snprintf(file, sizeof file, "%s/data.npy", dir);

    char taus_text[BENCH_MAX_TAUS * 16 + 1] = "";
    size_t tl = 0;
    for (size_t i = 0; i < nq; i++)
        tl += (size_t)snprintf(taus_text + tl, sizeof taus_text - tl, "%s%.10g", i ? "," : "",
                               taus[i]);

    capture out = {.buf = malloc(BENCH_CMD_OUTPUT_MAX + 1)};
    capture errc = {.buf = malloc(BENCH_CMD_OUTPUT_MAX + 1), .keep_tail = 1};
    char *line = NULL;
    int rc = MIST_OK;
    if (!out.buf || !errc.buf) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the command's output");
        goto done;
    }
    out.buf[0] = errc.buf[0] = '\0';
    /* The writer only reads ds.data: the cast does not let anything change the caller's data. */
    mist_dataset ds = {.n = n, .dx = dx, .dy = dy, .data = (double *)data};
    ds.meta.mi = NAN;
    rc = mist_dataset_write(&ds, file, MIST_FMT_NPY, MIST_DTYPE_F64, err);
    if (rc) goto done;
    line = expand_command(spec->command, file, n, dx, dy, taus_text);
    if (!line) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for the command line");
        goto done;
    }
    int how = RUN_EXITED, wstatus = 0;
    rc = run_command(line, spec->timeout_s, &out, &errc, &how, &wstatus, err);
    if (!rc) rc = outcome(how, wstatus, spec->timeout_s, &errc, err);
    if (!rc && out.overflow)
        rc = mist_fail(err, MIST_EFORMAT, "command printed more than %d bytes on stdout",
                       BENCH_CMD_OUTPUT_MAX);
    if (!rc) rc = parse_output(&out, taus, nq, estimate, lower, upper, q, q_ok, err);
done:
    free(line);
    free(out.buf);
    free(errc.buf);
    int rm = remove_tree(dir);
    if (rm && !rc)
        rc = mist_fail(err, MIST_EIO, "cannot remove the scratch folder '%s': %s", dir,
                       errtext(rm, eb, sizeof eb));
    if (rc) {
        *estimate = *lower = *upper = NAN;
        *q_ok = 0;
    }
    return rc;
}
