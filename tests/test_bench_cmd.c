/* A user's command as a bench estimator: the cmd: spec grammar (the command runs to the end of
 * the list), and bench_cmd_estimate against small shell commands: what they print, what they
 * read back from the .npy, how they fail, the timeout killing the whole process group, and
 * nothing left behind (scratch folder, processes, file descriptors), also from several threads. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_internal.h"
#include "mist_bench.h"
#include "mist_classical.h"
#include "testutil.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

#define N 50
#define DX 2
#define DY 1
#define COLS (DX + DY)

static double data[N * COLS];

static void fill_data(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < COLS; j++) data[i * COLS + j] = sin(0.7 * i + j) + 0.01 * i - 0.3 * j;
}

/* A fresh scratch folder (tu_tmpdir); the caller checks and removes it with done_root(). */
static char *make_root(void)
{
    const char *t = tu_tmpdir("cmd");
    ck_assert_ptr_nonnull(t);
    char *d = malloc(strlen(t) + 1);
    strcpy(d, t);
    return d;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) k++;
    closedir(d);
    return k;
}

/* rmdir fails unless every call removed its scratch folder. */
static void done_root(char *root)
{
    ck_assert_msg(entries(root) == 0, "scratch left in %s", root);
    ck_assert_int_eq(rmdir(root), 0);
    free(root);
}

static int open_fds(void)
{
    return entries("/proc/self/fd");
}

static mist_bench_est spec_of(const char *text)
{
    mist_bench_est e;
    mist_err err;
    ck_assert_msg(mist_bench_parse_estimator(text, &e, &err) == MIST_OK, "%s: %s", text, err.msg);
    return e;
}

typedef struct result {
    int rc;
    double est, lo, hi, q[BENCH_MAX_TAUS];
    int q_ok;
    mist_err err;
} result;

/* Runs the spec on data under root and checks the scratch folder is gone afterwards. */
static result run_taus(const char *text, const char *root, const double *taus, size_t nq)
{
    mist_bench_est e = spec_of(text);
    result r;
    memset(&r, 0, sizeof r);
    r.rc = bench_cmd_estimate(&e, data, N, DX, DY, root, taus, nq, &r.est, &r.lo, &r.hi, r.q,
                              &r.q_ok, &r.err);
    ck_assert_msg(entries(root) == 0, "%s: scratch folder left behind", text);
    if (r.rc) {
        ck_assert(isnan(r.est) && isnan(r.lo) && isnan(r.hi));
        ck_assert_int_eq(r.q_ok, 0);
        ck_assert_msg(strchr(r.err.msg, '\n') == NULL, "multi-line message: %s", r.err.msg);
    }
    return r;
}

static result run(const char *text, const char *root)
{
    return run_taus(text, root, NULL, 0);
}

/* Alive = exists and not a zombie (a killed orphan waits for pid 1, which may not reap). */
static int alive(pid_t pid)
{
    if (kill(pid, 0) != 0) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = '\0';
    const char *rp = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* Waits up to 5 s for pid to die (the kernel delivers SIGKILL asynchronously). */
static int dies(pid_t pid)
{
    for (int i = 0; i < 500 && alive(pid); i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
    return !alive(pid);
}

static void read_pids(const char *path, long *a, long *b)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s not written", path);
    ck_assert_int_eq(fscanf(f, "%ld %ld", a, b), 2);
    fclose(f);
    unlink(path);
}

/* ---- specs ---------------------------------------------------------------------------------- */

START_TEST(test_cmd_specs)
{
    mist_bench_est e[8];
    size_t n;
    mist_err err;
    /* the command keeps its commas, colons and '=' */
    ck_assert_int_eq(mist_bench_parse_estimators(
                         "ksg1:k=3,cmd:gauss-py=python3 est.py --a=1,2 {file} x:y", e, 8, &n,
                         &err),
                     MIST_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(e[0].label, "ksg1:k=3");
    ck_assert_str_eq(e[1].name, "cmd");
    ck_assert_str_eq(e[1].label, "cmd:gauss-py");
    ck_assert_str_eq(e[1].command, "python3 est.py --a=1,2 {file} x:y");
    ck_assert_double_eq(e[1].timeout_s, 600);

    /* a cmd: spec first swallows the rest of the list: the documented rule */
    ck_assert_int_eq(mist_bench_parse_estimators("cmd:a=echo 1,ksg1", e, 8, &n, &err), MIST_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(e[0].command, "echo 1,ksg1");

    ck_assert_int_eq(mist_bench_parse_estimators("gaussian,cmd:A.b_c-9:timeout=0.5=sleep 1", e,
                                                 8, &n, &err),
                     MIST_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(e[1].label, "cmd:A.b_c-9");
    ck_assert_str_eq(e[1].command, "sleep 1");
    ck_assert_double_eq(e[1].timeout_s, 0.5);

    /* one spec alone, commas included; a 32-character NAME and a 2047-byte COMMAND fit */
    ck_assert_int_eq(mist_bench_parse_estimator("cmd:x=echo a,b", &e[0], &err), MIST_OK);
    ck_assert_str_eq(e[0].command, "echo a,b");
    char name32[40], text[MIST_BENCH_CMD_LEN + 64];
    memset(name32, 'n', 32);
    name32[32] = '\0';
    snprintf(text, sizeof text, "cmd:%s=true", name32);
    ck_assert_int_eq(mist_bench_parse_estimator(text, &e[0], &err), MIST_OK);
    ck_assert_uint_eq(strlen(e[0].label), 4 + 32);
    int k = snprintf(text, sizeof text, "cmd:long=");
    memset(text + k, 'x', MIST_BENCH_CMD_LEN - 1);
    text[k + MIST_BENCH_CMD_LEN - 1] = '\0';
    ck_assert_int_eq(mist_bench_parse_estimators(text, e, 8, &n, &err), MIST_OK);
    ck_assert_uint_eq(strlen(e[0].command), MIST_BENCH_CMD_LEN - 1);

    struct {
        const char *list, *msg;
    } bad[] = {{"cmd", "empty or bad NAME"},
               {"cmd:", "empty or bad NAME"},
               {"cmd:=echo 1", "empty or bad NAME"},
               {"cmd:a b=echo 1", "NAME may hold only"},
               {"cmd:a/b=echo 1", "NAME may hold only"},
               {"cmd:a", "no =COMMAND"},
               {"cmd:a=", "empty COMMAND"},
               {"ksg1,cmd:a=", "'cmd:a='"},
               {"cmd:a:timeout=5", "no =COMMAND"},
               {"cmd:a:timeout=0=echo 1", "bad timeout '0'"},
               {"cmd:a:timeout=-1=echo 1", "bad timeout"},
               {"cmd:a:timeout=abc=echo 1", "bad timeout 'abc'"},
               {"cmd:a:timeout=inf=echo 1", "bad timeout"},
               {"cmd:a:timeout==echo 1", "bad timeout"},
               {"cmd:a:retries=2=echo 1", "unknown cmd option 'retries'"},
               {"cmd:a=echo 1,cmd:b=echo 2", "runs to the end of the list"},
               {"cmdx=echo 1", "unknown estimator"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mist_bench_parse_estimators(bad[i].list, e, 8, &n, &err);
        ck_assert_msg(rc == MIST_EINVAL, "'%s' accepted", bad[i].list);
        ck_assert_msg(strstr(err.msg, bad[i].msg) != NULL, "'%s': message '%s' lacks '%s'",
                      bad[i].list, err.msg, bad[i].msg);
    }
    /* the message about the list rule comes with the grammar's errors */
    ck_assert_int_ne(mist_bench_parse_estimators("cmd:a=", e, 8, &n, &err), MIST_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "runs to the end of the list"));
    /* a 33-character NAME and a 2048-byte COMMAND do not */
    snprintf(text, sizeof text, "cmd:%sn=true", name32);
    ck_assert_int_eq(mist_bench_parse_estimator(text, &e[0], &err), MIST_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "NAME longer than 32"));
    k = snprintf(text, sizeof text, "cmd:long=");
    memset(text + k, 'x', MIST_BENCH_CMD_LEN);
    text[k + MIST_BENCH_CMD_LEN] = '\0';
    ck_assert_int_eq(mist_bench_parse_estimators(text, e, 8, &n, &err), MIST_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "COMMAND longer than 2047"));
}
END_TEST

/* ---- what the command prints ---------------------------------------------------------------- */

START_TEST(test_cmd_number)
{
    fill_data();
    char *root = make_root();
    int fds = open_fds();
    result r = run("cmd:a=printf '  0.25\\n\\n'", root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_double_eq(r.est, 0.25);
    ck_assert(isnan(r.lo) && isnan(r.hi));
    ck_assert_int_eq(r.q_ok, 0);
    /* the placeholders: n=50, dx=2, dy=1 */
    r = run("cmd:a=echo {n}.{dx}{dy}", root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_double_eq(r.est, 50.21);
    /* a number in full precision comes back bit for bit */
    r = run("cmd:a=echo 0.1000000000000000055511151231257827", root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_double_eq(r.est, 0.1);
    /* stderr is for diagnostics and does not disturb the result */
    r = run("cmd:a=echo working >&2; echo -1.5e-3", root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_double_eq(r.est, -1.5e-3);
    ck_assert_int_eq(open_fds(), fds);
    done_root(root);
}
END_TEST

START_TEST(test_cmd_json)
{
    fill_data();
    char *root = make_root();
    const char *spec = "cmd:j=printf '{\"estimate\": 0.5, \"lower\": 0.25, \"upper\": 0.75, "
                       "\"quantiles\": {\"0.1\": 0.3, \"0.5\": 0.5, \"0.9\": 0.7}}\\n'";
    double taus[4] = {0.1, 0.5, 0.9, 0.95};
    result r = run_taus(spec, root, taus, 3);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_double_eq(r.est, 0.5);
    ck_assert_double_eq(r.lo, 0.25);
    ck_assert_double_eq(r.hi, 0.75);
    ck_assert_int_eq(r.q_ok, 1);
    ck_assert_double_eq(r.q[0], 0.3);
    ck_assert_double_eq(r.q[1], 0.5);
    ck_assert_double_eq(r.q[2], 0.7);
    /* the wanted levels in another order: values follow taus */
    double perm[3] = {0.9, 0.1, 0.5};
    r = run_taus(spec, root, perm, 3);
    ck_assert_int_eq(r.q_ok, 1);
    ck_assert_double_eq(r.q[0], 0.7);
    ck_assert_double_eq(r.q[1], 0.3);
    ck_assert_double_eq(r.q[2], 0.5);
    /* other levels than wanted (a level missing, one too many, none wanted): no quantiles, but
     * the rest stands */
    r = run_taus(spec, root, taus, 4);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.q_ok, 0);
    ck_assert_double_eq(r.lo, 0.25);
    r = run_taus(spec, root, taus, 2);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.q_ok, 0);
    r = run(spec, root);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.q_ok, 0);
    /* estimate alone; null means absent; pretty-printed over lines */
    r = run("cmd:j=echo '{\"estimate\": 2}'", root);
    ck_assert_msg(r.rc == 0 && r.est == 2 && isnan(r.lo), "%s", r.err.msg);
    r = run("cmd:j=printf '{\\n  \"estimate\": 1e-2,\\n  \"lower\": null,\\n  \"upper\": null\\n}'",
            root);
    ck_assert_msg(r.rc == 0 && r.est == 0.01 && isnan(r.lo) && isnan(r.hi), "%s", r.err.msg);
    /* {taus} names the wanted levels */
    r = run_taus("cmd:t=test {taus} = 0.1,0.5,0.9 && echo 1", root, taus, 3);
    ck_assert_msg(r.rc == 0 && r.est == 1, "%s", r.err.msg);
    done_root(root);
}
END_TEST

/* The .npy holds the data: its size is header + 8 n (dx+dy) bytes with a 64-byte aligned
 * header, its last 8 bytes are the last value (little-endian float64), the path is quoted. */
START_TEST(test_cmd_reads_file)
{
    fill_data();
    char *root = make_root();
    result r = run("cmd:f=wc -c < {file}", root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    double body = 8.0 * N * COLS;
    ck_assert(r.est > body);
    ck_assert_double_eq(fmod(r.est - body, 64), 0);
    r = run("cmd:f=tail -c 8 {file} | od -An -tf8", root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_double_eq_tol(r.est, data[N * COLS - 1], 1e-15 * fabs(data[N * COLS - 1]));
    /* the sidecar beside it, and a scratch root whose name needs quoting */
    r = run("cmd:f=grep -q '\"dx\": *2' \"$(dirname {file})/data.npy.json\" && echo 7", root);
    ck_assert_msg(r.rc == 0 && r.est == 7, "%s", r.err.msg);
    char odd[128];
    snprintf(odd, sizeof odd, "%s/it's a $dir", root);
    ck_assert_int_eq(mkdir(odd, 0755), 0);
    r = run("cmd:f=test -s {file} && echo 3", odd);
    ck_assert_msg(r.rc == 0 && r.est == 3, "%s", r.err.msg);
    /* what the command leaves in its folder goes with it */
    r = run("cmd:f=mkdir \"$(dirname {file})/sub\" && touch \"$(dirname {file})/sub/x\" && echo 1",
            odd);
    ck_assert_msg(r.rc == 0 && r.est == 1, "%s", r.err.msg);
    ck_assert_int_eq(rmdir(odd), 0);
    done_root(root);
}
END_TEST

/* numpy reads the file back: a column mean and one value, against the C side; and the example
 * script of the README agrees with the library's gaussian estimator. */
START_TEST(test_cmd_numpy)
{
    fill_data();
    const char *py = NULL;
    const char *cands[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 2 && !py; i++) {
        char probe[128];
        snprintf(probe, sizeof probe, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(probe) == 0) py = cands[i];
    }
    if (!py) {
        printf("test_cmd_numpy: skipped (no python3 with numpy; apt-get install python3-numpy)\n");
        return;
    }
    char *root = make_root();
    char spec[1024];
    snprintf(spec, sizeof spec,
             "cmd:np=%s -c 'import sys, json, numpy as np; d = np.load(sys.argv[1]); "
             "n, dx, dy = map(int, sys.argv[2:]); assert d.dtype == np.float64; "
             "assert d.shape == (n, dx + dy), d.shape; "
             "print(json.dumps({\"estimate\": float(d[:, 1].mean()), \"lower\": float(d[7, 2]), "
             "\"upper\": float(d[7, 2])}))' {file} {n} {dx} {dy}",
             py);
    result r = run(spec, root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    double mean = 0;
    for (int i = 0; i < N; i++) mean += data[i * COLS + 1];
    mean /= N;
    ck_assert_double_eq_tol(r.est, mean, 1e-13);
    ck_assert_double_eq(r.lo, data[7 * COLS + 2]); /* repr round-trips: exact */

    /* __FILE__ is this source's absolute path (CMake compiles by absolute path) */
    char script[1024];
    snprintf(script, sizeof script, "%s", __FILE__);
    char *slash = strrchr(script, '/');
    ck_assert_ptr_nonnull(slash);
    snprintf(slash, sizeof script - (size_t)(slash - script), "/../tools/example_estimator.py");
    snprintf(spec, sizeof spec, "cmd:gauss-py=%s '%.900s' {file} {dx} {dy}", py, script);
    r = run(spec, root);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    mist_est_opts o;
    mist_est_opts_default(&o);
    mist_est_result ref;
    mist_err err;
    ck_assert_int_eq(mist_estimate_classical("gaussian", data, N, DX, DY, &o, &ref, &err), 0);
    ck_assert_double_eq_tol(r.est, ref.estimate, 1e-10);
    ck_assert(r.lo <= r.hi && isfinite(r.lo));
    done_root(root);
}
END_TEST

/* ---- how it fails --------------------------------------------------------------------------- */

START_TEST(test_cmd_failures)
{
    fill_data();
    char *root = make_root();
    int fds = open_fds();
    struct {
        const char *spec, *msg;
    } bad[] = {
        {"cmd:f=echo step 1 >&2; echo 'boom: bad input' >&2; echo 0.5; exit 3",
         "exited with status 3: boom: bad input"},
        {"cmd:f=exit 4", "status 4: (nothing on stderr)"},
        {"cmd:f=no-such-program-here {file}", "status 127"},
        {"cmd:f=kill -9 $$", "killed by signal 9"},
        {"cmd:f=echo hello world", "neither one number nor one JSON object"},
        {"cmd:f=echo hello world", "'hello world'"},
        {"cmd:f=echo 1; echo 2", "'1 2'"},
        {"cmd:f=true", "printed nothing"},
        {"cmd:f=echo nan", "non-finite"},
        {"cmd:f=echo 1e999", "non-finite"},
        {"cmd:f=echo '{\"estimate\": 1,}'", "malformed JSON"},
        {"cmd:f=echo '[1]'", "neither one number nor one JSON object"},
        {"cmd:f=echo '{\"est\": 1}'", "unknown member \"est\""},
        {"cmd:f=echo '{\"lower\": 1}'", "without \"estimate\""},
        {"cmd:f=echo '{\"estimate\": null}'", "null \"estimate\""},
        {"cmd:f=echo '{\"estimate\": \"1\"}'", "bad \"estimate\""},
        {"cmd:f=echo '{\"estimate\": 1, \"lower\": 0.5}'", "only one of"},
        {"cmd:f=echo '{\"estimate\": 1, \"lower\": 2, \"upper\": 1}'", "lower > upper"},
        {"cmd:f=echo '{\"estimate\": 1, \"upper\": 1e400, \"lower\": 0}'", "bad \"upper\""},
        {"cmd:f=echo '{\"estimate\": 1, \"quantiles\": [[0.5, 1]]}'", "not an object"},
        {"cmd:f=echo '{\"estimate\": 1, \"quantiles\": {\"1.5\": 1}}'", "level '1.5'"},
        {"cmd:f=echo '{\"estimate\": 1, \"quantiles\": {\"0.5\": 1, \"0.50\": 2}}'", "twice"},
        {"cmd:f=echo '{\"estimate\": 1, \"quantiles\": {\"0.5\": null}}'", "bad quantile"},
        {"cmd:f=echo '{\"estimate\": 1}{}'", "malformed JSON"},
        /* more than the 64 KiB kept: refused, and the command is not left blocked */
        {"cmd:f=yes 1 | head -c 200000", "more than 65536 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        result r = run(bad[i].spec, root);
        ck_assert_msg(r.rc != 0, "'%s' accepted (%g)", bad[i].spec, r.est);
        ck_assert_msg(strstr(r.err.msg, bad[i].msg) != NULL, "'%s': message '%s' lacks '%s'",
                      bad[i].spec, r.err.msg, bad[i].msg);
    }
    /* A megabyte on stderr while stdout waits: both pipes are drained, so no deadlock. */
    result r = run("cmd:f=yes err | head -c 1000000 >&2; echo 0.5", root);
    ck_assert_msg(r.rc == 0 && r.est == 0.5, "%s", r.err.msg);
    r = run("cmd:f=yes err | head -c 1000000 >&2; echo 'the last word' >&2; exit 1", root);
    ck_assert_msg(strstr(r.err.msg, "status 1: the last word"), "%s", r.err.msg);
    ck_assert_int_eq(open_fds(), fds);
    done_root(root);
}
END_TEST

/* timeout=0.5 on a 30 s sleep: the call comes back long before the sleep would end, and the
 * shell and the sleep it started are both gone. */
START_TEST(test_cmd_timeout)
{
    fill_data();
    char *root = make_root();
    char pidfile[128], spec[512];
    snprintf(pidfile, sizeof pidfile, "%s.pids", root);
    snprintf(spec, sizeof spec, "cmd:slow:timeout=0.5=sleep 30 & echo $$ $! > %s; wait", pidfile);
    double t0 = mist_clock_s();
    result r = run(spec, root);
    double took = mist_clock_s() - t0;
    ck_assert_int_ne(r.rc, 0);
    ck_assert_msg(strstr(r.err.msg, "timed out after 0.5 s"), "%s", r.err.msg);
    ck_assert_msg(took < 10, "took %g s", took);
    long sh, sl;
    read_pids(pidfile, &sh, &sl);
    ck_assert_msg(dies((pid_t)sh), "shell %ld still running", sh);
    ck_assert_msg(dies((pid_t)sl), "sleep %ld still running", sl);

    /* Exiting normally while a background job still holds stdout: the result is taken, the
     * job killed with its group, and the call does not wait for it. */
    snprintf(spec, sizeof spec, "cmd:bg=sleep 30 & echo $$ $! > %s; echo 0.5", pidfile);
    t0 = mist_clock_s();
    r = run(spec, root);
    took = mist_clock_s() - t0;
    ck_assert_msg(r.rc == 0 && r.est == 0.5, "%s", r.err.msg);
    ck_assert_msg(took < 10, "took %g s", took);
    read_pids(pidfile, &sh, &sl);
    ck_assert_msg(dies((pid_t)sl), "background sleep %ld still running", sl);
    done_root(root);
}
END_TEST

/* ---- several threads at once ---------------------------------------------------------------- */

typedef struct job {
    const char *root;
    int id, bad;
    char msg[MIST_ERRMSG_LEN];
} job;

static void *worker(void *arg)
{
    job *j = arg;
    char text[256];
    /* each thread its own n, checked against the size of the file it was given */
    snprintf(text, sizeof text,
             "cmd:t%d=sleep 0.0%d; test $(wc -c < {file}) -gt $(( {n} * %d )) && echo {n}", j->id,
             j->id, 8 * COLS);
    mist_bench_est e;
    mist_err err;
    if (mist_bench_parse_estimator(text, &e, &err)) {
        j->bad = 1;
        snprintf(j->msg, sizeof j->msg, "%s", err.msg);
        return NULL;
    }
    size_t n = (size_t)(10 * j->id);
    for (int k = 0; k < 5; k++) {
        double est, lo, hi, q;
        int q_ok;
        if (bench_cmd_estimate(&e, data, n, DX, DY, j->root, NULL, 0, &est, &lo, &hi, &q, &q_ok,
                               &err) ||
            est != (double)n) {
            j->bad = 1;
            snprintf(j->msg, sizeof j->msg, "thread %d: %g: %.400s", j->id, est, err.msg);
            return NULL;
        }
    }
    return NULL;
}

START_TEST(test_cmd_threads)
{
    fill_data();
    char *root = make_root();
    int fds = open_fds();
    pthread_t th[4];
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){.root = root, .id = i + 1};
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(!jobs[i].bad, "%s", jobs[i].msg);
    }
    ck_assert_int_eq(open_fds(), fds);
    done_root(root);
}
END_TEST

static Suite *cmd_suite(void)
{
    Suite *s = suite_create("bench_cmd");
    tu_case(s, "bench_cmd", 120, test_cmd_specs, test_cmd_number, test_cmd_json,
            test_cmd_reads_file, test_cmd_numpy, test_cmd_failures, test_cmd_timeout,
            test_cmd_threads, NULL);
    return s;
}

int main(void)
{
    return tu_run(cmd_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
