/* Private parts of the benchmark harness shared by the bench sources. Not installed. */
#ifndef MIST_BENCH_INTERNAL_H
#define MIST_BENCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mist_bench.h"
#include "mist_core.h"
#include "mist_gen.h"
#include "mist_infer.h"
#include "mist_io.h"

#define BENCH_SUITE_LEN 128
#define BENCH_PATH_LEN 1024
#define BENCH_RESULTS "results.csv"
#define BENCH_RUNINFO "run.json"
/* Version 2 added transform, sq_err and scored (version 1 files are refused with a message). */
#define BENCH_HEADER                                                                               \
    "suite,index,id,task,dx,dy,n,seed,mi,transform,estimator,estimate,lower,upper,sq_err,scored,"  \
    "quantiles,quantile_values,time_us,status"
#define BENCH_HEADER_V1_START "suite,index,id,task,dx,dy,n,seed,mi,estimator,"
#define BENCH_NFIELDS 20
#define BENCH_TRANSFORM_LEN 32
/* Largest line we write or accept. */
#define BENCH_LINE_MAX 4096

/* ---- one results row (results.c) ------------------------------------------------------------ */
typedef struct bench_row {
    char suite[BENCH_SUITE_LEN];
    size_t index; /* the dataset's position in the suite run (sort order) */
    char id[64];
    char task[MIST_TASK_NAME_LEN];
    int dx, dy;
    size_t n;
    uint64_t seed;
    double mi; /* NaN when unknown (dataset could not be made) */
    char transform[BENCH_TRANSFORM_LEN]; /* the MI-preserving transform applied ("none") */
    char label[MIST_BENCH_LABEL_LEN];
    double estimate, lower, upper; /* on the dataset itself; NaN when absent */
    /* The dataset's score: (estimate - MI)^2 for --score single; for bootstrap:B the mean of
     * (estimate_b - MI)^2 over the resamples the estimator succeeded on (quantile models: their
     * median), scored = how many (1 for single). NaN / 0 on a failed row. */
    double sq_err;
    int scored;
    char quantiles[256];           /* requested taus, ';'-separated, "" for none */
    char qvalues[640];             /* their values, ';'-separated */
    long long time_us;
    char status[384]; /* "ok" or the sanitised error message */
} bench_row;

int bench_row_ok(const bench_row *r);
/* Replaces ',' by ';' and control characters by ' ' (in place), so that the text is one field. */
void bench_sanitize(char *s);
/* The row as one CSV line with its '\n'; returns its length, or -1 when it does not fit. */
int bench_row_format(const bench_row *r, char *buf, size_t cap);
/* Parses one line (no '\n'; modified in place). 0 on success, else -1 with a static reason. */
int bench_row_parse(char *line, bench_row *r, const char **why);
/* Fills q with the values at the MIST_BENCH_NTAU grid levels; 1 when all are present. */
int bench_row_grid_quantiles(const bench_row *r, double *q);

/* Reads a results file. A missing file gives 0 rows (*exists = 0). A last line without '\n'
 * (a crash mid-write) is dropped: *partial = 1 and *good_len is the length of the complete
 * part. A malformed complete line is MIST_EFORMAT. */
int bench_results_read(const char *path, bench_row **rows, size_t *nrows, int *exists, int *partial,
                       off_t *good_len, mist_err *err);
/* Writes header + rows atomically. */
int bench_results_write(const char *path, const bench_row *rows, size_t nrows, mist_err *err);

/* ---- run.json (runinfo.c) -------------------------------------------------------------------- */
typedef struct bench_suite_info {
    char suite[BENCH_SUITE_LEN];
    char source[BENCH_PATH_LEN]; /* "builtin" or the manifest folder */
    uint64_t seed_lo, seed_hi;
    size_t n;
    int bootstrap;
    double ci;
    int score_bootstrap; /* 0: single estimate; B: mean over B resamples */
    size_t datasets;
} bench_suite_info;

typedef struct bench_runinfo {
    bench_suite_info *suites;
    size_t nsuites;
    char (*labels)[MIST_BENCH_LABEL_LEN];
    size_t nlabels;
    char (*transforms)[BENCH_TRANSFORM_LEN]; /* in table order */
    size_t ntransforms;
    /* cmd: estimators: the command behind each label, so that rows of another command under
     * the same name are never resumed or merged */
    struct bench_command {
        char label[MIST_BENCH_LABEL_LEN];
        char command[MIST_BENCH_CMD_LEN];
    } *commands;
    size_t ncommands;
} bench_runinfo;

/* *found = 0 and an empty runinfo when dir has no run.json. */
int bench_runinfo_read(const char *dir, bench_runinfo *ri, int *found, mist_err *err);
int bench_runinfo_write(const char *dir, const bench_runinfo *ri, mist_err *err);
void bench_runinfo_free(bench_runinfo *ri);
/* Adds s, or checks it against the entry of the same suite (MIST_EINVAL naming the difference;
 * where names the folder in the message). */
int bench_runinfo_add_suite(bench_runinfo *ri, const bench_suite_info *s, const char *where,
                            mist_err *err);
int bench_runinfo_add_label(bench_runinfo *ri, const char *label, mist_err *err);
/* Whether run.json named the label; the command (or fingerprint) stored for it (NULL: none). */
int bench_runinfo_has_label(const bench_runinfo *ri, const char *label);
const char *bench_runinfo_command(const bench_runinfo *ri, const char *label);
/* "single" or "bootstrap:B": the --score setting as written. */
void bench_score_text(char *buf, size_t cap, int score_bootstrap);
int bench_runinfo_add_transform(bench_runinfo *ri, const char *name, mist_err *err);
/* Records the command of a cmd: label, or checks it against the one recorded (MIST_EINVAL). */
int bench_runinfo_add_command(bench_runinfo *ri, const char *label, const char *command,
                              const char *where, mist_err *err);
/* The position of a transform in table order: "none" first, then run.json's order; SIZE_MAX
 * for one not listed. */
size_t bench_transform_order(const bench_runinfo *ri, const char *name);
const bench_suite_info *bench_runinfo_suite(const bench_runinfo *ri, const char *suite);

/* Dedupes (suite, id, estimator; the first row wins) and sorts rows by suite order, dataset index
 * and estimator order (runinfo order, then by name for anything not listed). *nrows shrinks. */
void bench_rows_canonical(bench_row *rows, size_t *nrows, const bench_runinfo *ri);

/* ---- summary (summary.c) ------------------------------------------------------------------- */
typedef struct bench_cell {
    mist_bench_bucket bucket;
    mist_bench_metrics m;
    /* over suite seeds (when the rows hold several): the MSE of each seed's datasets alone,
     * their mean and sample sd (NaN with fewer than 2 seeds) */
    size_t nseeds;
    double seed_mse_mean, seed_mse_sd;
} bench_cell;

/* A cell of the by-family and by-dimension tables. */
typedef struct bench_gcell {
    char key[MIST_TASK_NAME_LEN]; /* the family (task name) or the dimension class */
    mist_bench_metrics m;
} bench_gcell;

typedef struct bench_est_summary {
    char label[MIST_BENCH_LABEL_LEN];
    int quantile_model; /* some rows carry grid quantiles */
    bench_cell overall;
    bench_cell *buckets; /* by bucket scheme, sorted by lo */
    size_t nbuckets;
    bench_cell *per_n; /* one per distinct n (plots) */
    size_t nper_n;
    bench_gcell *family; /* by task, in order of first appearance */
    size_t nfamily;
    bench_gcell *dims; /* by max(dx, dy) class: 1, 2-4, 5-8, 9-16, 17-32, >32 */
    size_t ndims;
} bench_est_summary;

/* The rows of one suite under one transform. */
typedef struct bench_suite_summary {
    char suite[BENCH_SUITE_LEN];
    char transform[BENCH_TRANSFORM_LEN];
    char name[BENCH_SUITE_LEN + BENCH_TRANSFORM_LEN]; /* "mist-imd", "mist-imd+perm" */
    int scheme;
    int bootstrap;       /* from run.json (-1 unknown) */
    double ci;           /* NaN unknown */
    int score_bootstrap; /* from run.json (-1 unknown) */
    size_t datasets;     /* distinct datasets in the rows */
    size_t nseeds;       /* distinct suite seeds among the dataset ids */
    bench_est_summary *est;
    size_t nest;
} bench_suite_summary;

typedef struct bench_summary {
    bench_suite_summary *suites;
    size_t nsuites;
} bench_summary;

/* rows must be canonical (bench_rows_canonical). */
int bench_summary_build(const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                        bench_summary *s, mist_err *err);
void bench_summary_free(bench_summary *s);
int bench_summary_write_md(const char *dir, const bench_summary *s, mist_err *err);
int bench_summary_write_json(const char *dir, const bench_summary *s, mist_err *err);

/* ---- plots (plots.c) ----------------------------------------------------------------------- */
/* Writes dir/plots/ data and scripts, then runs gnuplot when asked and found. *status is a
 * MIST_BENCH_PLOTS_* value; an error return means the data files could not be written. */
int bench_plots_write(const char *dir, const bench_summary *s, const bench_row *rows, size_t nrows,
                      int render, int *status, char *msg, size_t msglen, mist_err *err);

/* ---- suites (suite.c) ---------------------------------------------------------------------- */
typedef struct bench_suite {
    char name[BENCH_SUITE_LEN];  /* the suite column of the results */
    char source[BENCH_PATH_LEN]; /* "builtin" or the manifest folder (absolute) */
    int is_manifest;
    mist_task_spec *specs; /* built-in: every dataset of every seed, in order */
    mist_manifest_row *mrows;
    size_t count;
} bench_suite;

/* Resolves o->suite: a built-in name, or a folder with manifest.csv. */
int bench_suite_open(const mist_bench_opts *o, bench_suite *s, mist_err *err);
void bench_suite_close(bench_suite *s);
const char *bench_suite_id(const bench_suite *s, size_t i);
/* A built-in dataset id "SUITE-sSEED-INDEX" ("mist-imd-s3-0007"): 1 and its suite (when suite is
 * not NULL; cap bytes) and suite seed (when seed is not NULL); 0 when id has another form. */
int bench_id_parse(const char *id, char *suite, size_t cap, uint64_t *seed);
/* Fills the dataset fields of row (suite .. mi) from the suite's description of dataset i. */
void bench_suite_describe(const bench_suite *s, size_t i, bench_row *row);
/* Makes (built-in) or reads (manifest) dataset i; updates row's task/dims/MI from it. */
int bench_suite_load(const bench_suite *s, size_t i, mist_dataset **ds, bench_row *row,
                     mist_err *err);

/* ---- one estimator on one dataset (estimate.c) ---------------------------------------------- */
#define BENCH_MAX_TAUS (MIST_BENCH_NTAU + 3)
typedef struct bench_est_rt {
    const mist_bench_est *spec;
    int is_mist, is_cmd, quantile_model;
    double taus[BENCH_MAX_TAUS]; /* quantile models: the grid plus the interval levels */
    size_t ntaus, i_lo, i_hi, i_med;
    char taus_text[256];
    /* mist: "weights:HEX", a hash of what decides its answers (the parameters, meta and
     * recalibration of its model and of the second model it routes to), with ";guard:V" (the
     * guard's rules, MIST_GUARD_RULES) for a guarded label; a classical estimator whose answers
     * changed since its first version: "NAME:V" (mist_est_version); "" otherwise. Recorded in
     * run.json beside the label as a cmd: estimator's command, so that rows of other weights,
     * rules or versions under the same label (a model trained again into the same file, a
     * rebuilt binary) are never resumed or merged */
    char fingerprint[48];
} bench_est_rt;

/* Prepares spec for a run at interval level ci; for mist, opens the weights once to check them,
 * read the model kind and take its fingerprint. */
int bench_est_rt_init(bench_est_rt *rt, const mist_bench_est *spec, double ci, mist_err *err);
/* Runs the estimator on ds and fills the estimate fields, score, time and status of row (an
 * error is a row with its message); row->mi must hold the truth. model: the calling thread's
 * handle for mist specs (NULL otherwise). seed: the estimator's own randomness (KSG noise,
 * bootstrap intervals); score_seed: the score's resamples (score_bootstrap > 0). time_us is the
 * estimate on the dataset alone, without the score's resamples. */
void bench_est_rt_run(const bench_est_rt *rt, mist_model *model, const mist_dataset *ds,
                      uint64_t seed, uint64_t score_seed, int bootstrap, double ci,
                      int score_bootstrap, bench_row *row);

/* ---- helpers (results.c) ------------------------------------------------------------------- */
/* snprintf into buf of size cap "a/b"; MIST_EINVAL when too long. */
int bench_path(char *buf, size_t cap, const char *dir, const char *name, mist_err *err);
/* strcpy that truncates to cap - 1 bytes. */
void bench_copy(char *dst, size_t cap, const char *src);
/* mkdir unless it exists. */
int bench_mkdir(const char *dir, mist_err *err);
/* Writes the summary files and plots of canonical rows into dir (run and merge). */
int bench_finish(const char *dir, const bench_row *rows, size_t nrows, const bench_runinfo *ri,
                 int plots, mist_bench_report *rep, mist_err *err);

/* ---- a user's command as an estimator (cmd_estimator.c) ------------------------------------ */
/* Largest stdout (and stderr tail) kept from one call; more on stdout is an error. */
#define BENCH_CMD_OUTPUT_MAX (64 * 1024)
/* Runs spec's command once on the dataset (n rows of dx+dy values, X first): writes the data to
 * an .npy (float64) in a fresh private folder under tmp_root (mkdtemp; removed afterwards; NULL:
 * $TMPDIR or /tmp), substitutes {file}, {dx}, {dy}, {n}, {taus} in the command (file path
 * shell-quoted), runs it with /bin/sh -c in its own process group, stdin from /dev/null, and
 * parses its stdout (mist_bench.h has the protocol). Fills *estimate, and *lower / *upper
 * (NaN when absent); q[0..nq) = values at taus[0..nq) when the command printed quantiles at
 * exactly those levels (else *q_ok = 0). Errors (spawn failure, non-zero exit with the last line
 * of stderr, killed by a signal, timeout after spec->timeout_s with the whole process group
 * killed, unparsable or non-finite output) return non-zero with a one-line message in err.
 * Thread-safe; leaves no process, fd or file behind. */
int bench_cmd_estimate(const mist_bench_est *spec, const double *data, size_t n, int dx, int dy,
                       const char *tmp_root, const double *taus, size_t nq, double *estimate,
                       double *lower, double *upper, double *q, int *q_ok, mist_err *err);

#endif
