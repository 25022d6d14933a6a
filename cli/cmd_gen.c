/* mist gen: one task to one file, a suite to a folder, or the catalogue. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mist_gen.h"
#include "mist_io.h"
#include "opts.h"

static void gen_usage(FILE *f)
{
    fputs("usage:\n"
          "  mist gen TASK --dims DXxDY --n N [--seed S] [--param k=v ...] [--transform T]\n"
          "           -o FILE\n"
          "  mist gen --suite NAME [--n N] [--seeds A-B] [--threads T] [--transform T] -o DIR\n"
          "  mist gen --list\n"
          "\n"
          "TASK is BASE-STRUCTURE[-TRANSFORM[+TRANSFORM...]], e.g. normal-sparse-wiggly,\n"
          "student-dense-base, additive-base, normal-2pair-normal_cdf+spiral, channel-sine-base,\n"
          "mixture-xshape-base, categorical-gauss-base (see --list).\n"
          "Parameters not given with --param are drawn from their default ranges using the\n"
          "seed; every value used is recorded in the file's metadata with the exact MI.\n"
          "\n"
          "options:\n"
          "  --dims DXxDY      dimensions of X and Y (base dims: swissroll turns dx=1 into 2)\n"
          "  --n N             number of rows\n"
          "  --seed S          64-bit seed (default 0); same seed, same bytes\n"
          "  --param k=v       fix a task parameter (repeatable), e.g. --param c=0.5\n"
          "  -o, --out PATH    output file (.npy, .csv, .msgpack) or suite folder\n"
          "  --format F        npy | csv | msgpack (default: from the extension; suites: npy)\n"
          "  --dtype T         f64 (default) | f32, for .npy\n"
          "  --suite NAME      mist-imd | mist-oomd | mist-imd-official |\n"
          "                    mist-oomd-official | bmi40 | smoke\n"
          "  --seeds A-B       suite seeds (default 0-0); bmi40's protocol uses 0-9\n"
          "  --threads T       worker threads for suites (default 1); output bytes do not\n"
          "                    depend on T\n"
          "  --transform T     apply an MI-preserving map to every dataset written: none, perm\n"
          "                    (shuffle the X and the Y columns), rotate (random orthogonal\n"
          "                    mixing within X and within Y), swap (exchange X and Y), flow\n"
          "                    (random smooth invertible map of X and of Y), negate (a random\n"
          "                    sign per column), or a chain such as rotate+swap. Drawn from\n"
          "                    the dataset's seed; the MI and the metadata's mi are\n"
          "                    unchanged, the metadata records the transform\n"
          "  --quiet           no progress line\n"
          "\n"
          "npy and csv files get a JSON sidecar FILE.json (data.npy: data.npy.json; mist 0.1\n"
          "wrote data.json, still read) with the metadata; msgpack records\n"
          "hold it inline; a suite folder gets manifest.csv (id,task,dx,dy,n,seed,mi,file,params,\n"
          "and transform after --transform; mist bench reports that transform for the folder).\n",
          f);
}

static void print_list(void)
{
    struct { const char *title; const mist_catalog_entry *(*fn)(size_t *); } groups[] = {
        {"bases", mist_gen_bases},         {"structures (normal, student)", mist_gen_structures},
        {"families (BASE-STRUCTURE; every parameter per pair/class, or one value for all)",
         mist_gen_families},
        {"transforms", mist_gen_transforms}, {"suites", mist_gen_suites},
        {"meta-distributions (training)", mist_gen_metadists}};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        size_t count;
        const mist_catalog_entry *e = groups[g].fn(&count);
        printf("%s:\n", groups[g].title);
        for (size_t i = 0; i < count; i++) printf("  %-12s %s\n", e[i].name, e[i].summary);
        printf("\n");
    }
    printf("Task names: BASE-STRUCTURE[-TRANSFORM[+TRANSFORM...]] (additive: additive[-TRANSFORM]).\n"
           "Transforms compose left to right and leave the MI unchanged.\n");
}

/* ---- suites ------------------------------------------------------------------------------ */

typedef struct suite_job {
    const mist_task_spec *specs;
    size_t count;
    mist_manifest_row *rows;
    const char *dir;
    mist_format fmt;
    mist_dtype dtype;
    const char *transform; /* NULL: none */
    pthread_mutex_t lock;
    size_t next, done;
    int failed;
    mist_err err;
} suite_job;

static int gen_one(suite_job *job, size_t i, mist_err *err)
{
    const mist_task_spec *sp = &job->specs[i];
    mist_dataset *ds = NULL;
    int rc = mist_gen_dataset(&ds, sp, err);
    if (rc) return rc;
    if (job->transform)
        rc = mist_mipt_apply(ds, job->transform, mist_mipt_seed(sp->seed), err);
    if (rc) {
        mist_dataset_free(ds);
        return rc;
    }
    mist_manifest_row *row = &job->rows[i];
    snprintf(row->id, sizeof row->id, "%s", sp->id);
    snprintf(row->task, sizeof row->task, "%s", ds->meta.task);
    row->dx = ds->dx;
    row->dy = ds->dy;
    row->n = ds->n;
    row->seed = sp->seed;
    row->mi = ds->meta.mi;
    snprintf(row->file, sizeof row->file, "%s.%s", sp->id, mist_format_name(job->fmt));
    snprintf(row->transform, sizeof row->transform, "%s", job->transform ? job->transform : "");
    size_t len = 0;
    row->params[0] = '\0';
    for (size_t k = 0; k < ds->meta.nparams; k++) {
        int w = snprintf(row->params + len, sizeof row->params - len, "%s%s=%.17g", k ? ";" : "",
                         ds->meta.params[k].name, ds->meta.params[k].value);
        if (w < 0 || (size_t)w >= sizeof row->params - len) { /* a cut list would misstate it */
            mist_dataset_free(ds);
            return mist_fail(err, MIST_EINVAL,
                             "%s: its %zu parameters exceed the manifest's params column (%zu "
                             "characters)",
                             sp->task, ds->meta.nparams, sizeof row->params - 1);
        }
        len += (size_t)w;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", job->dir, row->file);
    rc = mist_dataset_write(ds, path, job->fmt, job->dtype, err);
    mist_dataset_free(ds);
    return rc;
}

static void *suite_worker(void *arg)
{
    suite_job *job = arg;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        size_t i = job->next++;
        int stop = job->failed || i >= job->count;
        pthread_mutex_unlock(&job->lock);
        if (stop) return NULL;
        mist_err err = {0};
        int rc = gen_one(job, i, &err);
        pthread_mutex_lock(&job->lock);
        if (rc && !job->failed) {
            job->failed = rc;
            mist_fail(&job->err, rc, "%s: %.400s", job->specs[i].id, err.msg);
        }
        job->done++;
        pthread_mutex_unlock(&job->lock);
    }
}

/* When this process started: temporaries older than that are leftovers of killed runs. */
static time_t gen_started;

static void report_cleaned(size_t removed, const char *dir, int quiet)
{
    if (removed && !quiet)
        fprintf(stderr, "removed %zu stale temporary file%s of killed runs from '%s'\n", removed,
                removed == 1 ? "" : "s", dir);
}

/* The NAME.tmp.XXXXXX files a killed `mist gen` left for this suite's outputs (data files,
 * sidecars, manifest). Best effort: a failure here never stops the run. */
static void clean_suite_temps(const char *dir, const mist_task_spec *specs, size_t count,
                              mist_format fmt, int quiet)
{
    int side = fmt != MIST_FMT_MSGPACK;
    size_t nn = count * (side ? 2 : 1) + 1, k = 0;
    char **names = calloc(nn, sizeof *names);
    if (!names) return;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(specs[i].id) + 16;
        if ((names[k] = malloc(l)))
            snprintf(names[k++], l, "%s.%s", specs[i].id, mist_format_name(fmt));
        if (side && (names[k] = malloc(l)))
            snprintf(names[k++], l, "%s.%s.json", specs[i].id, mist_format_name(fmt));
    }
    names[k++] = "manifest.csv";
    size_t removed = 0;
    mist_err err = {0};
    if (!mist_atomic_clean_stale(dir, (const char *const *)names, k, gen_started, &removed, &err))
        report_cleaned(removed, dir, quiet);
    for (size_t i = 0; i + 1 < k; i++) free(names[i]);
    free(names);
}

/* The same for one output file and its sidecar. */
static void clean_file_temps(const char *out, mist_format fmt, int quiet)
{
    char dir[4096], side[4096];
    const char *base = strrchr(out, '/');
    if (base) snprintf(dir, sizeof dir, "%.*s", (int)(base == out ? 1 : base - out), out);
    else snprintf(dir, sizeof dir, ".");
    base = base ? base + 1 : out;
    const char *names[2] = {base, NULL};
    size_t k = 1;
    mist_err err = {0};
    if (fmt != MIST_FMT_MSGPACK && !mist_sidecar_path(side, sizeof side, out, &err)) {
        const char *sb = strrchr(side, '/');
        names[k++] = sb ? sb + 1 : side;
    }
    size_t removed = 0;
    if (!mist_atomic_clean_stale(dir, names, k, gen_started, &removed, &err))
        report_cleaned(removed, dir, quiet);
}

static int run_suite(const char *name, size_t n, uint64_t s_lo, uint64_t s_hi, const char *dir,
                     mist_format fmt, mist_dtype dtype, const char *transform, int threads,
                     int quiet)
{
    mist_err err = {0};
    /* collect every seed's specs first: errors (unknown suite, bad --n) before any writing */
    mist_task_spec *all = NULL;
    size_t total = 0;
    for (uint64_t s = s_lo;; s++) {
        mist_task_spec *specs;
        size_t count;
        mist_suite_opts o = {.suite_seed = s, .n = n};
        if (mist_suite_specs(name, &o, &specs, &count, &err)) {
            mist_task_specs_free(all, total);
            cli_error("%s", err.msg);
            return 1;
        }
        mist_task_spec *grown = realloc(all, (total + count) * sizeof *all);
        if (!grown) {
            mist_task_specs_free(specs, count);
            mist_task_specs_free(all, total);
            cli_error("out of memory");
            return 1;
        }
        all = grown;
        memcpy(all + total, specs, count * sizeof *specs); /* moves their params */
        total += count;
        free(specs);
        if (s == s_hi) break;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_error("cannot create folder '%s': %s", dir, strerror(errno));
        mist_task_specs_free(all, total);
        return 1;
    }
    suite_job job = {.specs = all, .count = total, .dir = dir, .fmt = fmt, .dtype = dtype,
                     .transform = transform};
    job.rows = calloc(total, sizeof *job.rows);
    if (!job.rows) {
        mist_task_specs_free(all, total);
        cli_error("out of memory");
        return 1;
    }
    clean_suite_temps(dir, all, total, fmt, quiet);
    pthread_mutex_init(&job.lock, NULL);
    pthread_t tids[64];
    int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads, started = 0;
    /* the workers share one queue, so any that start finish the suite; when none can, this
     * thread does the work (the loop below then only reports) */
    for (int i = 0; i < nt; i++)
        if (pthread_create(&tids[started], NULL, suite_worker, &job) == 0) started++;
    if (started == 0) suite_worker(&job);
    int tty = isatty(STDERR_FILENO);
    double t0 = mist_clock_s(), last = t0;
    for (;;) {
        pthread_mutex_lock(&job.lock);
        size_t done = job.done;
        int failed = job.failed;
        pthread_mutex_unlock(&job.lock);
        int finished = done >= total || failed;
        double t = mist_clock_s();
        if (!quiet && (finished || (tty && t - last > 0.2) || (!tty && t - last > 5.0))) {
            double rate = done / (t - t0 + 1e-9);
            fprintf(stderr, "%sgen %s: %zu/%zu datasets (%.0f%%), %.1f/s, %.1f s%s", tty ? "\r" : "",
                    name, done, total, 100.0 * done / (total ? total : 1), rate, t - t0,
                    tty && !finished ? "" : "\n");
            last = t;
        }
        if (finished) break;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
    pthread_mutex_destroy(&job.lock);
    int rc = 0;
    if (job.failed) {
        cli_error("%s", job.err.msg);
        rc = 1;
    } else {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.csv", dir);
        if (mist_manifest_write(path, job.rows, total, &err)) {
            cli_error("%s", err.msg);
            rc = 1;
        } else if (!quiet) {
            fprintf(stderr, "wrote %zu datasets and %s\n", total, path);
        }
    }
    free(job.rows);
    mist_task_specs_free(all, total);
    return rc;
}

/* ---- one task ---------------------------------------------------------------------------- */

/* sp collects the --param values (any number) and becomes the task's spec; cmd_gen frees it. */
static int gen_main(int argc, char **argv, mist_task_spec *sp)
{
    const char *task = NULL, *out = NULL, *suite = NULL, *transform = NULL;
    int dx = 0, dy = 0, threads = 1, quiet = 0, have_n = 0;
    size_t n = 0;
    uint64_t seed = 0, s_lo = 0, s_hi = 0;
    mist_format fmt = MIST_FMT_AUTO;
    mist_dtype dtype = MIST_DTYPE_F64;
    mist_err err = {0};

    enum {
        O_LIST = 1, O_DIMS, O_N, O_SEED, O_SEEDS, O_PARAM, O_OUT, O_FORMAT, O_DTYPE, O_SUITE,
        O_THREADS, O_TRANSFORM, O_QUIET
    };
    static const cli_opt opts[] = {{O_LIST, "--list", NULL, 0},
                                   {O_DIMS, "--dims", NULL, 1},
                                   {O_N, "--n", NULL, 1},
                                   {O_SEED, "--seed", NULL, 1},
                                   {O_SEEDS, "--seeds", NULL, 1},
                                   {O_PARAM, "--param", NULL, 1},
                                   {O_OUT, "--out", "-o", 1},
                                   {O_FORMAT, "--format", NULL, 1},
                                   {O_DTYPE, "--dtype", NULL, 1},
                                   {O_SUITE, "--suite", NULL, 1},
                                   {O_THREADS, "--threads", NULL, 1},
                                   {O_TRANSFORM, "--transform", NULL, 1},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "gen", opts, argc, argv);
    const char *v;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: gen_usage(stdout); return 0;
        case O_LIST: print_list(); return 0;
        case O_DIMS:
            if (cli_parse_dims(v, &dx, &dy)) {
                cli_error("gen: --dims wants DXxDY with positive integers, e.g. 5x5 (got '%s')", v);
                return 2;
            }
            break;
        case O_N:
            if (cli_parse_size(v, 1, (size_t)1 << 32, &n)) {
                cli_error("gen: --n wants a positive integer (got '%s')", v);
                return 2;
            }
            have_n = 1;
            break;
        case O_SEED:
            if (mist_parse_u64(v, &seed)) {
                cli_error("gen: --seed wants a non-negative 64-bit integer (got '%s')", v);
                return 2;
            }
            break;
        case O_SEEDS:
            if (cli_parse_range(v, &s_lo, &s_hi) || s_hi - s_lo >= 100000) {
                cli_error("gen: --seeds wants A-B with A <= B (got '%s')", v);
                return 2;
            }
            break;
        case O_PARAM: {
            const char *eq = strchr(v, '=');
            double value;
            if (!eq || eq == v || (size_t)(eq - v) >= MIST_PARAM_NAME_LEN ||
                mist_parse_double(eq + 1, &value)) {
                cli_error("gen: --param wants NAME=NUMBER with a name of at most %d characters, "
                          "e.g. --param c=0.5 (got '%s')",
                          MIST_PARAM_NAME_LEN - 1, v);
                return 2;
            }
            char pname[MIST_PARAM_NAME_LEN];
            snprintf(pname, sizeof pname, "%.*s", (int)(eq - v), v);
            if (mist_task_spec_add_param(sp, pname, value, &err)) {
                cli_error("gen: %s", err.msg);
                return 1;
            }
            break;
        }
        case O_OUT: out = v; break;
        case O_FORMAT:
            if (mist_format_parse(v, &fmt, &err) || fmt == MIST_FMT_NPZ) {
                cli_error("gen: --format is npy, csv or msgpack (got '%s')", v);
                return 2;
            }
            break;
        case O_DTYPE:
            if (!strcmp(v, "f64")) dtype = MIST_DTYPE_F64;
            else if (!strcmp(v, "f32")) dtype = MIST_DTYPE_F32;
            else {
                cli_error("gen: --dtype is f64 or f32 (got '%s')", v);
                return 2;
            }
            break;
        case O_SUITE: suite = v; break;
        case O_THREADS:
            if (mist_parse_int(v, 1, 64, &threads)) {
                cli_error("gen: --threads wants 1..64 (got '%s')", v);
                return 2;
            }
            break;
        case O_TRANSFORM:
            if (mist_mipt_check(v, &err)) {
                cli_error("gen: --transform: %s", err.msg);
                return 2;
            }
            transform = v;
            break;
        case O_QUIET: quiet = 1; break;
        default:
            if (task) return cli_opts_extra(&p, v);
            task = v;
        }
    }
    if (!out) {
        cli_error("gen: -o FILE (or -o DIR with --suite) is required (run `mist gen --help`)");
        return 2;
    }
    if (suite) {
        if (task || dx || sp->nparams) {
            cli_error("gen: --suite takes no TASK, --dims or --param (its tasks are built in)");
            return 2;
        }
        if (fmt == MIST_FMT_AUTO) fmt = MIST_FMT_NPY;
        return run_suite(suite, have_n ? n : 0, s_lo, s_hi, out, fmt, dtype, transform, threads,
                         quiet);
    }
    if (!task) {
        cli_error("gen: a TASK name, --suite NAME or --list is required (run `mist gen --help`)");
        return 2;
    }
    if (!dx || !have_n) {
        cli_error("gen: --dims DXxDY and --n N are required for a task");
        return 2;
    }
    if (fmt == MIST_FMT_AUTO && (fmt = mist_format_from_path(out)) == MIST_FMT_AUTO) {
        cli_error("gen: cannot tell the format of '%s': use .npy, .csv or .msgpack, or --format",
                  out);
        return 2;
    }
    sp->dx = dx;
    sp->dy = dy;
    sp->n = n;
    sp->seed = seed;
    snprintf(sp->task, sizeof sp->task, "%s", task);
    mist_dataset *ds = NULL;
    if (mist_gen_dataset(&ds, sp, &err) ||
        (transform && mist_mipt_apply(ds, transform, mist_mipt_seed(seed), &err))) {
        mist_dataset_free(ds);
        cli_error("gen: %s", err.msg);
        return 1;
    }
    clean_file_temps(out, fmt, quiet);
    int rc = mist_dataset_write(ds, out, fmt, dtype, &err);
    if (rc) cli_error("gen: %s", err.msg);
    else if (!quiet)
        fprintf(stderr, "%s%s%s %dx%d n=%zu seed=%llu: true MI %.6f nats -> %s\n", ds->meta.task,
                ds->meta.transform[0] ? " with " : "", ds->meta.transform, ds->dx, ds->dy, ds->n,
                (unsigned long long)seed, ds->meta.mi, out);
    mist_dataset_free(ds);
    return rc ? 1 : 0;
}

int cmd_gen(int argc, char **argv)
{
    mist_task_spec sp = {0};
    gen_started = time(NULL);
    int rc = gen_main(argc, argv, &sp);
    mist_task_spec_clear(&sp);
    return rc;
}
