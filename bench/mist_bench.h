/* mist bench: runs MI estimators over a suite of datasets with known MI and reports accuracy,
 * interval coverage, calibration and time (bench.md).
 *
 *     mist_bench_est est[4];
 *     size_t nest;
 *     mist_err err;
 *     mist_bench_parse_estimators("ksg1:k=5,gaussian,mist:weights/mist-qr.msgpack", est, 4,
 *                                 &nest, &err);
 *     mist_bench_opts o;
 *     mist_bench_opts_default(&o);
 *     o.suite = "mist-imd"; o.est = est; o.nest = nest; o.out_dir = "out/imd";
 *     mist_bench_report rep;
 *     if (mist_bench_run(&o, &rep, &err)) puts(err.msg);
 *
 * Files in the output folder:
 *   run.json       the settings of every suite run into the folder, and the estimator labels
 *   results.csv    one row per (dataset, estimator), appended one whole line at a time while the
 *                  run goes (a crash loses at most the line being written; a rerun drops that
 *                  partial line and skips every pair already there); sorted and rewritten
 *                  atomically when the run completes. A shard run (--shard i/N) writes
 *                  results-shard-i-of-N.csv instead; mist_bench_merge joins shard files.
 *   summary.md     tables: per n-bucket and overall accuracy, coverage, time; the MIST-paper table
 *   summary.json   the same numbers
 *   plots/         gnuplot data (.csv), scripts (.gp) and the PNGs rendered from them
 * The library never prints: progress goes to a callback, a missing gnuplot to the report. */
#ifndef MIST_BENCH_H
#define MIST_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "mist_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- estimator specs ---------------------------------------------------------------------
 * LIST  = SPEC[,SPEC...]
 * SPEC  = NAME[:OPTION[:OPTION...]]
 * NAME  = ksg1 | ksg2 | gaussian | histogram | kde | mist | cmd
 * classical OPTIONs: k=K, bins=B, bandwidth=H, noise=S, copula, mm (Miller-Madow), no-zscore
 *   (flags also take =0/=1: copula=1, mm=0, zscore=0).
 * mist OPTIONs: weights=PATH (or a bare PATH: `mist:weights/mist-qr.msgpack`), raw (report the
 *   network's quantiles unsorted), guard (the answer `mist estimate` gives: the guard's fallback
 *   estimate and interval where it finds a reason, mist_guard.h; such rows keep no quantiles,
 *   since the fallback has only an interval), canon (the columns put in a canonical order and
 *   sign first, and X/Y symmetrised: mist_model_set_col_canon; canon=0: as given, for a model
 *   whose weights ask for canonical columns), route=0 (a model whose weights name a second
 *   model answers alone: mist_model_set_route; label ":route=0"), chunk=ROWS (rows per
 *   chunk of the feature block, mist_model_set_row_chunk; 0: one attention over all rows;
 *   label ":chunk=ROWS"). Paths cannot contain ',' or
 *   ':'. `mist:qr`, `mist:point` (or
 *   a shipped file name such as `mist:mist-qr.msgpack`, when no such file is in the working
 *   folder) are the shipped models and bare `mist` the default one, found wherever they are
 *   installed (mist_model_resolve); the label keeps the name as given, an absolute path by its
 *   file name only.
 * Each spec gets a canonical label used in results and tables: the name, then the options that
 * matter in a fixed order, defaults left out except k for KSG: "ksg1:k=5", "gaussian:copula",
 * "histogram:bins=8:mm", "mist:weights/mist-qr.msgpack". Two specs with one label are an error.
 *
 * A user's own estimator, any command run through /bin/sh once per dataset:
 *   cmd:NAME=COMMAND                      label "cmd:NAME"
 *   cmd:NAME:timeout=SECONDS=COMMAND      per-call limit (default 600 s, must be > 0)
 * NAME: letters, digits, '-', '_', '.' (at most 32). COMMAND may hold any character, ',' and ':'
 * included, so a cmd: spec runs to the END of the LIST: put it last, or give one list per
 * command (`cmd:a=x,cmd:b=y` is refused rather than read as one command "x,cmd:b=y").
 * In COMMAND, {file} becomes the dataset's path (shell-quoted: write {file}, not '{file}'), a
 * float64 .npy of n rows of dx+dy columns, X first (numpy.load reads it; data.npy.json beside it
 * has dx, dy, n); {dx}, {dy}, {n} the integers; {taus} the quantile levels wanted, as
 * "0.05,0.1,...". Other braces are left alone. The command prints on stdout either one number
 * or one JSON object {"estimate": E, "lower": L, "upper": U, "quantiles": {"0.05": Q, ...}}
 * (all but estimate optional; lower and upper together; null means absent). Anything else, a
 * non-zero exit, a signal or the timeout is that row's error; diagnostics belong on stderr,
 * whose last line goes into the message. When the command's main process exits, whatever it
 * left running in its process group is killed. */
#define MIST_BENCH_LABEL_LEN 256
#define MIST_BENCH_SCORE_STREAM 0x73636f7265ULL /* "score": see mist_bench_opts.score_bootstrap */
#define MIST_BENCH_CMD_LEN 2048         /* longest COMMAND + 1 */
#define MIST_BENCH_CMD_NAME_MAX 32      /* longest NAME of a cmd: spec */
#define MIST_BENCH_CMD_TIMEOUT_S 600.0 /* default per-call limit of a cmd: spec */

typedef struct mist_bench_est {
    char name[16]; /* ksg1 ksg2 gaussian histogram kde mist cmd */
    char label[MIST_BENCH_LABEL_LEN];
    /* classical options (the meanings of mist_est_opts) */
    int k, bins, miller_madow, zscore, copula, unbiased;
    double noise, bandwidth;
    /* mist */
    char weights[200];
    int raw_quantiles;
    int guard; /* 1: the answer `mist estimate` gives, after the guard (mist_guard.h) */
    int col_canon; /* 1: columns canonicalised first (mist_model_set_col_canon); 0: as given;
                    * -1 (no option): as the model's weights say */
    int route;     /* 0: a routed model answers alone; 1 (default): as its weights say */
    int row_chunk; /* rows per feature-block chunk (mist_model_set_row_chunk; 0: all rows);
                    * -1 (no option): the model's default */
    /* cmd: the COMMAND as given (placeholders not yet substituted) and its per-call limit */
    char command[MIST_BENCH_CMD_LEN];
    double timeout_s;
} mist_bench_est;

/* Parses LIST into at most cap specs. Fails with MIST_EINVAL and a message naming the bad spec
 * (unknown estimator, unknown or malformed option, an option of another estimator, a duplicate
 * label, mist without weights, a cmd: spec with an empty or bad NAME, an empty or too long
 * COMMAND, a bad timeout). A cmd: spec takes the rest of LIST. */
MIST_API int mist_bench_parse_estimators(const char *list, mist_bench_est *out, size_t cap, size_t *count,
                                         mist_err *err);
/* One spec (no commas, except in a cmd: spec's COMMAND). */
MIST_API int mist_bench_parse_estimator(const char *spec, mist_bench_est *out, mist_err *err);

/* ---- metrics (pure functions) -------------------------------------------------------------- */

/* The calibration grid of quantile models: tau = 0.05, 0.10, ..., 0.95. */
#define MIST_BENCH_NTAU 19
MIST_API double mist_bench_tau(int j); /* (j + 1) / 20 */

/* One successful estimate. lower/upper NaN without an interval; q NULL or the model's quantiles
 * at the MIST_BENCH_NTAU grid levels. */
typedef struct mist_bench_point {
    double mi, estimate, lower, upper, time_us;
    const double *q;
    double sq; /* the dataset's score: (estimate - MI)^2, or its mean over bootstrap resamples */
} mist_bench_point;

typedef struct mist_bench_metrics {
    size_t n_ok, n_failed;
    /* e = estimate - MI over the ok points (NaN when there are none); s = the points' scores */
    double mse;                    /* mean s (= mean e^2 when every s = e^2) */
    double mse_sd;                 /* sample sd (m - 1) of s: the paper's "+-" (NaN when m < 2) */
    double mse_se;                 /* mse_sd / sqrt(m): the standard error of mse */
    double bias;                   /* mean e */
    double variance;               /* mean (e - bias)^2 (divisor m; mse = bias^2 + variance when
                                    * the scores are e^2) */
    double mae;                    /* mean |e| */
    double mre;                    /* mean |e| / max(MI, 0.1) */
    size_t n_interval;             /* points with a finite interval */
    double coverage;               /* share of those with lower <= MI <= upper */
    double width;                  /* mean (upper - lower) */
    size_t n_calib;                /* points with quantiles */
    double calib[MIST_BENCH_NTAU]; /* share with MI <= q_tau */
    double time_median_us, time_p90_us;
} mist_bench_metrics;

/* Metrics of m points (n_failed failures are counted, not used). MIST_ENOMEM only. */
MIST_API int mist_bench_metrics_compute(const mist_bench_point *pts, size_t m, size_t n_failed,
                                        mist_bench_metrics *out, mist_err *err);

/* The p-quantile (0 <= p <= 1) of m values by linear interpolation between order statistics
 * at position p (m - 1) (numpy's default). Sorts v in place. NaN when m == 0. */
MIST_API double mist_bench_percentile(double *v, size_t m, double p);

/* n-buckets: the MIST suites use [10,100), [100,300), [300,500] (MIST_BENCH_BUCKETS_MIST);
 * every other suite one bucket per n (MIST_BENCH_BUCKETS_PER_N). */
enum { MIST_BENCH_BUCKETS_PER_N = 0, MIST_BENCH_BUCKETS_MIST = 1 };
MIST_API int mist_bench_bucket_scheme(const char *suite);

typedef struct mist_bench_bucket {
    size_t lo, hi;  /* lo <= n < hi ([300,500] has hi = 501) */
    char label[32]; /* "[10,100)", "[300,500]", "n=1000", or "other" */
} mist_bench_bucket;

/* The bucket of n under scheme. MIST n outside [10, 500] goes to "other" (lo = hi = n). */
MIST_API void mist_bench_bucket_of(int scheme, size_t n, mist_bench_bucket *b);

/* ---- runs -------------------------------------------------------------------------------- */

typedef struct mist_bench_progress {
    size_t done;        /* datasets finished in this run */
    size_t total;       /* datasets this run has to do (the shard's, less those already done) */
    size_t skipped;     /* datasets of the shard already complete in the results file */
    size_t failed_rows; /* rows with an error so far in this run */
    double elapsed_s;
} mist_bench_progress;
typedef void (*mist_bench_progress_fn)(void *ctx, const mist_bench_progress *p);

typedef struct mist_bench_opts {
    const char *suite; /* mist-imd | mist-oomd | bmi40 | smoke | a folder with manifest.csv */
    uint64_t seed_lo, seed_hi; /* suite seeds (built-in suites), default 0-0 */
    size_t n;                  /* bmi40, smoke: rows per dataset (0: the suite's default) */
    const mist_bench_est *est;
    size_t nest;
    const char *out_dir;  /* created when missing */
    int threads;          /* datasets in parallel (each estimator single-threaded); default 1 */
    int shard_i, shard_n; /* shard_n <= 1: the whole suite; else datasets i, i+N, i+2N, ... */
    int bootstrap;        /* classical: percentile bootstrap over B resamples (0: none) */
    double ci;            /* interval level: bootstrap and quantile models (default 0.9) */
    /* How a dataset is scored: 0 (default) one estimate on the sample, (estimate - MI)^2;
     * B > 0 the MIST paper's way, the mean of (estimate_b - MI)^2 over B bootstrap resamples
     * (seeded per dataset, the same resamples for every estimator; quantile models score their
     * median). */
    int score_bootstrap;
    /* (Resample b of the dataset of seed s draws its n row indices with gsl_rng_uniform_int from
     * mist's stream seeded mist_seed_derive(mist_seed_derive(s, MIST_BENCH_SCORE_STREAM), b).) */
    /* MI-preserving transforms (mist_mipt_names: none, perm, rotate, swap, flow, negate) each dataset
     * is run under, seeded per dataset; NULL / 0: "none" alone. */
    const char *const *transforms;
    size_t ntransforms;
    int plots;            /* 1 (default): render plots with gnuplot when it is there */
    mist_bench_progress_fn progress; /* may be NULL; called from worker threads, serialised */
    void *progress_ctx;
} mist_bench_opts;

MIST_API void mist_bench_opts_default(mist_bench_opts *o);

enum {
    MIST_BENCH_PLOTS_NONE = 0,       /* not asked for, or a shard run (no summary) */
    MIST_BENCH_PLOTS_OK = 1,         /* PNGs rendered */
    MIST_BENCH_PLOTS_NO_GNUPLOT = 2, /* gnuplot not on PATH: data and scripts written only */
    MIST_BENCH_PLOTS_FAILED = 3      /* gnuplot ran and failed: see plot_msg / plots/gnuplot.log */
};

typedef struct mist_bench_report {
    char suite[128];         /* the suite name used in results (manifest: derived) */
    size_t datasets;         /* in the shard */
    size_t skipped_datasets; /* already complete before this run */
    size_t new_rows, failed_rows;
    size_t total_rows;   /* rows in the results file at the end */
    int dropped_partial; /* 1 when a truncated last line was dropped */
    int summary_written; /* 0 for shard runs */
    int plots;           /* MIST_BENCH_PLOTS_* */
    char plot_msg[256];
    char results_path[1024];
} mist_bench_report;

/* Runs the estimators over the suite (or its shard) into o->out_dir, resuming what is there;
 * then, unless sharded, sorts results.csv and writes summary.md, summary.json and the plots.
 * A failing estimator on one dataset is a row with its error, not a failed run. Fails (nothing
 * run) on bad options, an unreadable manifest, a weights file that does not open, an out_dir
 * holding a run of the same suite with other settings, or a malformed results file. */
MIST_API int mist_bench_run(const mist_bench_opts *o, mist_bench_report *rep, mist_err *err);

/* Kills (SIGKILL) the process group of every `cmd:` estimator command running now. Each runs in
 * its own group (so that a timeout kills what it started), which also keeps it out of the
 * terminal's Ctrl-C: a program that stops on a signal calls this from its handler, or the
 * commands outlive it. Async-signal-safe (atomics and kill() only). */
MIST_API void mist_bench_kill_commands(void);

/* Joins the results (results.csv and results-shard-*-of-*.csv) of every folder into
 * out_dir/results.csv (deduplicated by suite, dataset and estimator; sorted by suite, dataset
 * order and estimator order) and writes the summary and plots there. out_dir may be one of
 * dirs. Folders must agree on the settings of a suite they share. */
MIST_API int mist_bench_merge(const char *const *dirs, size_t ndirs, const char *out_dir, int plots,
                              mist_bench_report *rep, mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
