/* Plots: CSV data and one gnuplot script in DIR/plots/, rendered to PNG by gnuplot when it is
 * on PATH (pngcairo when this gnuplot has it, else png). gnuplot's own messages go to
 * plots/gnuplot.log, never to the caller's terminal.
 *   mse_vs_n.png      MSE per n, one line per estimator, log y, one panel per suite
 *   time_vs_n.png     median time per estimate per n, log y, one panel per suite
 *   scatter_SUITE.png estimate vs true MI, one panel per estimator, with the diagonal
 *   calibration.png   quantile models: observed share vs tau, with the diagonal (when any) */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_internal.h"

/* A file-name-safe copy of a suite name. */
static void safe_name(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; *s && i + 1 < cap; s++, i++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_';
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

/* A label as plots show it: weights paths cut to their file names ("mist:weights/a/qr.msgpack"
 * -> "mist:qr.msgpack"), so that keys and titles fit; quotes (which would confuse gnuplot's
 * columnheader) become apostrophes. */
static void plot_title(char *out, size_t cap, const char *label)
{
    size_t o = 0;
    const char *seg = label;
    while (*seg && o + 1 < cap) {
        const char *end = strchr(seg, ':');
        if (!end) end = seg + strlen(seg);
        const char *start = seg;
        for (const char *p = seg; p < end; p++)
            if (*p == '/') start = p + 1;
        for (const char *p = start; p < end && o + 1 < cap; p++) out[o++] = *p == '"' ? '\'' : *p;
        if (*end == ':' && o + 1 < cap) out[o++] = ':';
        seg = *end ? end + 1 : end;
    }
    out[o] = '\0';
}

static void put_header_field(FILE *f, const char *s)
{
    char t[MIST_BENCH_LABEL_LEN];
    plot_title(t, sizeof t, s);
    fputc(',', f);
    fputs(t, f);
}

static void put_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, ",%.10g", v);
    else fputs(",NaN", f);
}

/* A gnuplot single-quoted string. */
static void gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* Plot files are replaced atomically too: a reader never sees half a data file. */
static FILE *open_in(const char *dir, const char *name, mist_atomic_file **af, mist_err *err)
{
    char path[BENCH_PATH_LEN + 160];
    *af = NULL;
    if (bench_path(path, sizeof path, dir, name, err)) return NULL;
    *af = mist_atomic_open(path, err);
    return *af ? mist_atomic_stream(*af) : NULL;
}

static int close_checked(mist_atomic_file *af, mist_err *err)
{
    return mist_atomic_commit(af, err);
}

/* n, then one column per estimator: what(cell) at that n (NaN when the estimator has none). */
static int write_per_n(const char *pdir, const char *name, const bench_suite_summary *ss,
                       double (*what)(const bench_cell *), mist_err *err)
{
    mist_atomic_file *af;
    FILE *f = open_in(pdir, name, &af, err);
    if (!f) return err ? err->code : MIST_EIO;
    fputs("n", f);
    for (size_t e = 0; e < ss->nest; e++) put_header_field(f, ss->est[e].label);
    fputc('\n', f);
    /* distinct n over all estimators, ascending: merge the sorted per_n lists */
    size_t last = 0;
    int have_last = 0;
    for (;;) {
        size_t next = (size_t)-1;
        int any = 0;
        for (size_t e = 0; e < ss->nest; e++)
            for (size_t k = 0; k < ss->est[e].nper_n; k++) {
                size_t n = ss->est[e].per_n[k].bucket.lo;
                if ((!have_last || n > last) && n < next) {
                    next = n;
                    any = 1;
                }
            }
        if (!any) break;
        fprintf(f, "%zu", next);
        for (size_t e = 0; e < ss->nest; e++) {
            double v = NAN;
            for (size_t k = 0; k < ss->est[e].nper_n; k++)
                if (ss->est[e].per_n[k].bucket.lo == next) v = what(&ss->est[e].per_n[k]);
            put_num(f, v);
        }
        fputc('\n', f);
        last = next;
        have_last = 1;
    }
    return close_checked(af, err);
}

static double cell_mse(const bench_cell *c)
{
    return c->m.mse;
}

static double cell_time_ms(const bench_cell *c)
{
    return c->m.time_median_us / 1000.0;
}

static int write_scatter(const char *pdir, const char *name, const bench_suite_summary *ss,
                         const bench_row *rows, size_t nrows, mist_err *err)
{
    mist_atomic_file *af;
    FILE *f = open_in(pdir, name, &af, err);
    if (!f) return err ? err->code : MIST_EIO;
    for (size_t e = 0; e < ss->nest; e++) {
        fprintf(f, "%s# %s: true MI, estimate\n", e ? "\n\n" : "", ss->est[e].label);
        int any = 0;
        for (size_t i = 0; i < nrows; i++) {
            const bench_row *r = &rows[i];
            if (strcmp(r->suite, ss->suite) || strcmp(r->transform, ss->transform) ||
                strcmp(r->label, ss->est[e].label) ||
                !bench_row_ok(r) || !isfinite(r->mi))
                continue;
            fprintf(f, "%.10g,%.10g\n", r->mi, r->estimate);
            any = 1;
        }
        if (!any) fputs("NaN,NaN\n", f); /* keeps the block (gnuplot index) */
    }
    return close_checked(af, err);
}

static int write_calibration(const char *pdir, const char *name, const bench_suite_summary *ss,
                             mist_err *err)
{
    mist_atomic_file *af;
    FILE *f = open_in(pdir, name, &af, err);
    if (!f) return err ? err->code : MIST_EIO;
    fputs("tau", f);
    for (size_t e = 0; e < ss->nest; e++)
        if (ss->est[e].quantile_model) put_header_field(f, ss->est[e].label);
    fputc('\n', f);
    for (int j = 0; j < MIST_BENCH_NTAU; j++) {
        fprintf(f, "%.2f", mist_bench_tau(j));
        for (size_t e = 0; e < ss->nest; e++)
            if (ss->est[e].quantile_model) put_num(f, ss->est[e].overall.m.calib[j]);
        fputc('\n', f);
    }
    return close_checked(af, err);
}

/* Panels side by side: one per suite (at most 4 per row). */
static void layout(size_t count, size_t per_row, size_t *rows, size_t *cols)
{
    *cols = count < per_row ? (count ? count : 1) : per_row;
    *rows = (count + *cols - 1) / *cols;
    if (*rows == 0) *rows = 1;
}

static int write_script(const char *pdir, const bench_summary *s, mist_err *err)
{
    mist_atomic_file *af;
    FILE *f = open_in(pdir, "plots.gp", &af, err);
    if (!f) return err ? err->code : MIST_EIO;
    char sn[BENCH_SUITE_LEN + 8];
    size_t r, c;
    fputs("# Written by mist bench: renders the PNGs from the CSV files in this folder.\n"
          "# Run it here: gnuplot plots.gp\n"
          "TERM = (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) ? "
          "'pngcairo noenhanced font \",10\"' : 'png noenhanced'\n"
          "set datafile separator ','\n"
          "set datafile missing 'NaN'\n"
          "set grid\n"
          "set key top right font ',8' opaque\n\n",
          f);

    layout(s->nsuites, 3, &r, &c);
    const char *per_n[2][4] = {
        {"mse_vs_n", "mse", "MSE (nats^2)", "MSE vs n"},
        {"time_vs_n", "time", "median time per estimate (ms)", "time per estimate vs n"}};
    for (int p = 0; p < 2; p++) {
        fprintf(f, "set terminal @TERM size %zu,%zu\nset output '%s.png'\n", 520 * c + 80,
                420 * r + 40, per_n[p][0]);
        fprintf(f,
                "set multiplot layout %zu,%zu title '%s'\nset logscale y\nset xlabel 'n'\n"
                "set ylabel '%s'\n",
                r, c, per_n[p][3], per_n[p][2]);
        for (size_t i = 0; i < s->nsuites; i++) {
            safe_name(sn, sizeof sn, s->suites[i].name);
            fprintf(f, "set title ");
            gp_str(f, s->suites[i].name);
            fprintf(f,
                    "\nplot for [i=2:%zu] '%s_%s.csv' using 1:i with linespoints pt 7 ps 0.6 "
                    "title columnheader(i)\n",
                    s->suites[i].nest + 1, per_n[p][1], sn);
        }
        fputs("unset multiplot\nunset logscale y\nset output\n\n", f);
    }

    for (size_t i = 0; i < s->nsuites; i++) {
        const bench_suite_summary *ss = &s->suites[i];
        safe_name(sn, sizeof sn, ss->name);
        layout(ss->nest, 3, &r, &c);
        fprintf(f, "set terminal @TERM size %zu,%zu\nset output 'scatter_%s.png'\n", 440 * c + 40,
                400 * r + 40, sn);
        fprintf(f, "set multiplot layout %zu,%zu title ", r, c);
        gp_str(f, ss->name);
        fprintf(f, "\nset xlabel 'true MI (nats)'\nset ylabel 'estimate (nats)'\n");
        for (size_t e = 0; e < ss->nest; e++) {
            char t[MIST_BENCH_LABEL_LEN];
            plot_title(t, sizeof t, ss->est[e].label);
            fprintf(f, "set title ");
            gp_str(f, t);
            fprintf(f,
                    "\nplot 'scatter_%s.csv' index %zu using 1:2 with points pt 7 ps 0.35 "
                    "notitle, x with lines lc rgb 'gray40' dt 2 title 'estimate = MI'\n",
                    sn, e);
        }
        fputs("unset multiplot\nset output\n\n", f);
    }

    size_t nq = 0;
    for (size_t i = 0; i < s->nsuites; i++)
        for (size_t e = 0; e < s->suites[i].nest; e++) nq += s->suites[i].est[e].quantile_model;
    if (nq) {
        size_t nqs = 0;
        for (size_t i = 0; i < s->nsuites; i++) {
            int any = 0;
            for (size_t e = 0; e < s->suites[i].nest; e++)
                any |= s->suites[i].est[e].quantile_model;
            nqs += any;
        }
        layout(nqs, 3, &r, &c);
        fprintf(f, "set terminal @TERM size %zu,%zu\nset output 'calibration.png'\n", 520 * c + 80,
                460 * r + 40);
        fprintf(f,
                "set multiplot layout %zu,%zu title 'calibration of quantile models'\n"
                "set xlabel 'tau'\nset ylabel 'share of datasets with MI <= q_tau'\n"
                "set xrange [0:1]\nset yrange [0:1]\nset key top left\n",
                r, c);
        for (size_t i = 0; i < s->nsuites; i++) {
            const bench_suite_summary *ss = &s->suites[i];
            size_t k = 0;
            for (size_t e = 0; e < ss->nest; e++) k += ss->est[e].quantile_model;
            if (!k) continue;
            safe_name(sn, sizeof sn, ss->name);
            fprintf(f, "set title ");
            gp_str(f, ss->name);
            fprintf(f,
                    "\nplot for [i=2:%zu] 'calibration_%s.csv' using 1:i with linespoints pt 7 "
                    "title columnheader(i), x with lines lc rgb 'gray40' dt 2 title 'ideal'\n",
                    k + 1, sn);
        }
        fputs("unset multiplot\nset output\n", f);
    }
    return close_checked(af, err);
}

/* gnuplot's path on PATH, or 0. */
static int find_gnuplot(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len == 0) {
            if ((size_t)snprintf(out, cap, "./gnuplot") < cap && access(out, X_OK) == 0) return 1;
        } else if ((size_t)snprintf(out, cap, "%.*s/gnuplot", (int)len, path) < cap &&
                   access(out, X_OK) == 0) {
            return 1;
        }
        if (!colon) break;
        path = colon + 1;
    }
    return 0;
}

/* Runs gnuplot plots.gp in pdir, its output to gnuplot.log. Returns its exit status (or -1). */
static int run_gnuplot(const char *exe, const char *pdir)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) { /* only async-signal-safe calls from here on */
        if (chdir(pdir) != 0) _exit(126);
        int log = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int nul = open("/dev/null", O_RDONLY);
        if (log < 0 || nul < 0) _exit(126);
        dup2(nul, 0);
        dup2(log, 1);
        dup2(log, 2);
        char *const argv[] = {(char *)"gnuplot", (char *)"plots.gp", NULL};
        execv(exe, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bench_plots_write(const char *dir, const bench_summary *s, const bench_row *rows, size_t nrows,
                      int render, int *status, char *msg, size_t msglen, mist_err *err)
{
    *status = MIST_BENCH_PLOTS_NONE;
    if (msglen) msg[0] = '\0';
    char pdir[BENCH_PATH_LEN + 16];
    int rc = bench_path(pdir, sizeof pdir, dir, "plots", err);
    if (!rc) rc = bench_mkdir(pdir, err);
    if (rc) return rc;
    char name[BENCH_SUITE_LEN + 64], sn[BENCH_SUITE_LEN + 8];
    for (size_t i = 0; i < s->nsuites && !rc; i++) {
        const bench_suite_summary *ss = &s->suites[i];
        safe_name(sn, sizeof sn, ss->name);
        snprintf(name, sizeof name, "mse_%s.csv", sn);
        rc = write_per_n(pdir, name, ss, cell_mse, err);
        snprintf(name, sizeof name, "time_%s.csv", sn);
        if (!rc) rc = write_per_n(pdir, name, ss, cell_time_ms, err);
        snprintf(name, sizeof name, "scatter_%s.csv", sn);
        if (!rc) rc = write_scatter(pdir, name, ss, rows, nrows, err);
        int qr = 0;
        for (size_t e = 0; e < ss->nest; e++) qr |= ss->est[e].quantile_model;
        snprintf(name, sizeof name, "calibration_%s.csv", sn);
        if (!rc && qr) rc = write_calibration(pdir, name, ss, err);
    }
    if (!rc) rc = write_script(pdir, s, err);
    if (rc || !render || s->nsuites == 0) return rc;
    char exe[1024];
    if (!find_gnuplot(exe, sizeof exe)) {
        *status = MIST_BENCH_PLOTS_NO_GNUPLOT;
        snprintf(msg, msglen,
                 "gnuplot not found on PATH: no PNGs (data and script are in %s; install "
                 "gnuplot-nox and run `gnuplot plots.gp` there)",
                 pdir);
        return MIST_OK;
    }
    int code = run_gnuplot(exe, pdir);
    if (code != 0) {
        *status = MIST_BENCH_PLOTS_FAILED;
        snprintf(msg, msglen, "gnuplot failed (exit status %d): see %s/gnuplot.log", code, pdir);
        return MIST_OK;
    }
    *status = MIST_BENCH_PLOTS_OK;
    snprintf(msg, msglen, "plots in %s", pdir);
    return MIST_OK;
}
