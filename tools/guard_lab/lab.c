/* guard lab: raw statistics per dataset for fitting the guard's rules (tools/guard_lab/README.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include "mist_classical.h"
#include "mist_gen.h"
#include "mist_guard.h"
#include "mist_infer.h"
#include "mist_io.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static mist_model *M;
static int BOOT = 0;

static void run(const char *set, const char *id, const char *task, const double *data, size_t n, int dx, int dy, double mi)
{
    mist_err e = {0};
    double taus[3] = {0.05, 0.5, 0.95}, q[3] = {NAN, NAN, NAN};
    double t0 = now();
    if (mist_model_estimate(M, data, n, dx, dy, taus, 3, q, &e)) q[0] = q[1] = q[2] = NAN;
    double t1 = now();
    double k = NAN, kse = NAN;
    if (mist_guard_ksg(data, n, dx, dy, 5, 0, 1, &k, &kse, &e)) k = kse = NAN;
    double t2 = now();
    double g = NAN, gb = NAN, gse = NAN;
    if (mist_guard_gaussian_copula(data, n, dx, dy, &g, &gb, &gse, &e)) g = gb = gse = NAN;
    double t3 = now();
    double klo = NAN, khi = NAN, glo = NAN, ghi = NAN;
    double t4 = t3, t5 = t3;
    if (BOOT) {
        mist_est_opts o; mist_est_opts_default(&o); o.bootstrap = 30; o.ci = 0.9;
        mist_est_result r;
        if (!mist_estimate_classical("ksg1", data, n, dx, dy, &o, &r, &e)) klo = r.lower, khi = r.upper;
        t4 = now();
        o.copula = 1;
        if (!mist_estimate_classical("gaussian", data, n, dx, dy, &o, &r, &e)) glo = r.lower, ghi = r.upper;
        t5 = now();
    }
    mist_guard_model gm; mist_guard_model_init(&gm, M, q[0], q[1], q[2]);
    mist_guard_result gr; memset(&gr, 0, sizeof gr); gr.reasons = 999;
    double t6 = now();
    if (!isnan(q[1]) && mist_guard_run(data, n, dx, dy, &gm, NULL, &gr, &e)) gr.reasons = 998;
    double t7 = now();
    printf("%s\t%s\t%s\t%d\t%d\t%zu\t%.6g\t%.6g\t%.6g\t%.6g\t%.4g\t%.6g\t%.6g\t%.4g\t%.6g\t%.6g\t%.6g\t%.4g\t%.6g\t%.6g\t%.4g\t%.6g\t%.6g\t%.4g\t%u\t%d\t%.6g\t%.6g\t%.6g\t%.4g\n",
           set, id, task, dx, dy, n, mi, q[0], q[1], q[2], t1 - t0, k, kse, t2 - t1, g, gb, gse, t3 - t2,
           klo, khi, t4 - t3, glo, ghi, t5 - t4, gr.reasons, gr.answer, gr.estimate, gr.lower, gr.upper, t7 - t6);
    fflush(stdout);
}

static void negate(double *d, size_t n, int dx, int dy, const char *how)
{
    int c = dx + dy;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(how, "negx1")) d[i * c] = -d[i * c];
        else if (!strcmp(how, "negy")) for (int j = dx; j < c; j++) d[i * c + j] = -d[i * c + j];
        else if (!strcmp(how, "neghalf")) for (int j = 0; j < c; j += 2) d[i * c + j] = -d[i * c + j];
    }
}

/* suites, optional transform (perm, rotate...) or negation */
static void suite(const char *set, const char *name, uint64_t sseed, size_t nrows, const char *tr, int stride)
{
    mist_err e = {0};
    mist_suite_opts so = {sseed, nrows};
    mist_task_spec *sp; size_t cnt;
    if (mist_suite_specs(name, &so, &sp, &cnt, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    for (size_t i = 0; i < cnt; i += stride) {
        mist_dataset *ds;
        if (mist_gen_dataset(&ds, &sp[i], &e)) { fprintf(stderr, "%s: %s\n", sp[i].id, e.msg); continue; }
        if (tr && !strncmp(tr, "neg", 3)) negate(ds->data, ds->n, ds->dx, ds->dy, tr);
        else if (tr && mist_mipt_apply(ds, tr, mist_mipt_seed(sp[i].seed), &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
        run(set, sp[i].id, sp[i].task, ds->data, ds->n, ds->dx, ds->dy, ds->meta.mi);
        mist_dataset_free(ds);
    }
    mist_task_specs_free(sp, cnt);
}

/* one gen task */
static void task(const char *set, const char *name, int dx, int dy, size_t n, uint64_t seed, const char *pn, double pv, const char *tr)
{
    mist_err e = {0};
    mist_task_spec sp; memset(&sp, 0, sizeof sp);
    snprintf(sp.task, sizeof sp.task, "%s", name); sp.dx = dx; sp.dy = dy; sp.n = n; sp.seed = seed;
    if (pn) mist_task_spec_add_param(&sp, pn, pv, &e);
    mist_dataset *ds;
    if (mist_gen_dataset(&ds, &sp, &e)) { fprintf(stderr, "%s: %s\n", name, e.msg); mist_task_spec_clear(&sp); return; }
    if (tr && !strncmp(tr, "neg", 3)) negate(ds->data, ds->n, ds->dx, ds->dy, tr);
    else if (tr && mist_mipt_apply(ds, tr, mist_mipt_seed(seed), &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    char id[96]; snprintf(id, sizeof id, "%s-%s%g-s%llu-%s", name, pn ? pn : "", pn ? pv : 0, (unsigned long long)seed, tr ? tr : "");
    run(set, id, name, ds->data, ds->n, ds->dx, ds->dy, ds->meta.mi);
    mist_dataset_free(ds);
    mist_task_spec_clear(&sp);
}

/* y = f(x) + s N, x ~ N(0,1); MI = h(Y) - h(sN) by quadrature */
static double f_apply(int f, double x)
{
    switch (f) {
    case 0: return x * x - 1;
    case 1: return fabs(x);
    case 2: return sin(2.5 * x);
    default: return cos(2 * x);
    }
}
static const char *FN[] = {"square", "abs", "sin", "cos"};
static double nonmono_mi(int f, double s)
{
    int nx = 8001; double xlo = -8, dxg = 16.0 / (nx - 1);
    double ymin = 1e9, ymax = -1e9;
    double *fx = malloc(nx * sizeof *fx), *wx = malloc(nx * sizeof *wx);
    for (int i = 0; i < nx; i++) { double x = xlo + i * dxg; fx[i] = f_apply(f, x); wx[i] = exp(-0.5 * x * x) / sqrt(2 * M_PI) * dxg; if (fx[i] < ymin) ymin = fx[i]; if (fx[i] > ymax) ymax = fx[i]; }
    ymin -= 8 * s; ymax += 8 * s;
    double dy = s / 25; double h = 0, tot = 0;
    for (double y = ymin; y <= ymax; y += dy) {
        double p = 0;
        for (int i = 0; i < nx; i++) { double u = (y - fx[i]) / s; if (fabs(u) < 9) p += wx[i] * exp(-0.5 * u * u); }
        p /= s * sqrt(2 * M_PI);
        if (p > 0) h -= p * log(p) * dy;
        tot += p * dy;
    }
    free(fx); free(wx);
    return h - 0.5 * log(2 * M_PI * M_E * s * s);
}
static void nonmono(const char *set, uint64_t seed, size_t n, int dims, int f, double s, double mi)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937); gsl_rng_set(r, seed);
    int dx = dims, dy = dims, c = dx + dy;
    double *d = malloc(n * c * sizeof *d);
    int px = (int)gsl_rng_uniform_int(r, dx), py = (int)gsl_rng_uniform_int(r, dy);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < c; j++) d[i * c + j] = gsl_ran_gaussian(r, 1);
        double x = d[i * c + px];
        d[i * c + dx + py] = f_apply(f, x) + s * gsl_ran_gaussian(r, 1);
    }
    char id[96]; snprintf(id, sizeof id, "nonmono-%s-s%g-%dx%d-n%zu-%llu", FN[f], s, dx, dy, n, (unsigned long long)seed);
    char tk[64]; snprintf(tk, sizeof tk, "nonmono-%s", FN[f]);
    run(set, id, tk, d, n, dx, dy, mi);
    free(d); gsl_rng_free(r);
}
/* discrete: kind 0 copy (MI log 2), 1 bsc p, 2 X binary Y = X + sN, 3 X in 0..3, Y = X + sN */
static double mix_mi(int K, double s)
{
    double h = 0, dy = s / 50;
    for (double y = -8 * s; y <= K - 1 + 8 * s; y += dy) {
        double p = 0;
        for (int k = 0; k < K; k++) { double u = (y - k) / s; p += exp(-0.5 * u * u); }
        p /= K * s * sqrt(2 * M_PI);
        if (p > 0) h -= p * log(p) * dy;
    }
    return h - 0.5 * log(2 * M_PI * M_E * s * s);
}
static void discrete(const char *set, uint64_t seed, size_t n, int kind, double prm, int dy)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937); gsl_rng_set(r, seed);
    int dx = 1, c = dx + dy;
    double *d = malloc(n * c * sizeof *d), mi;
    int K = kind == 3 ? 4 : 2;
    for (size_t i = 0; i < n; i++) {
        int x = (int)gsl_rng_uniform_int(r, K);
        d[i * c] = x;
        for (int j = 1; j < c; j++) d[i * c + j] = gsl_ran_gaussian(r, 1);
        if (kind == 0) d[i * c + 1] = x;
        else if (kind == 1) d[i * c + 1] = x ^ (gsl_rng_uniform(r) < prm);
        else d[i * c + 1] = x + prm * gsl_ran_gaussian(r, 1);
    }
    if (kind == 0) mi = log(2);
    else if (kind == 1) mi = log(2) + prm * log(prm) + (1 - prm) * log(1 - prm);
    else mi = mix_mi(K, prm);
    char id[96]; snprintf(id, sizeof id, "discrete-%d-%g-1x%d-n%zu-%llu", kind, prm, dy, n, (unsigned long long)seed);
    char tk[64]; snprintf(tk, sizeof tk, "discrete-%d", kind);
    run(set, id, tk, d, n, dx, dy, mi);
    free(d); gsl_rng_free(r);
}

int main(int argc, char **argv)
{
    mist_err e = {0};
    const char *what = argv[1];
    uint64_t seed = strtoull(argv[2], NULL, 10);
    if (argc > 3) BOOT = atoi(argv[3]);
    M = mist_model_open("/work/main/weights/mist-qr.msgpack", &e);
    if (!M) { fprintf(stderr, "%s\n", e.msg); return 1; }
    if (!strcmp(what, "imd")) suite("imd", "mist-imd", seed, 0, NULL, 1);
    else if (!strcmp(what, "oomd")) suite("oomd", "mist-oomd", seed, 0, NULL, 1);
    else if (!strcmp(what, "bmi100")) suite("bmi100", "bmi40", seed, 100, NULL, 1);
    else if (!strcmp(what, "bmi1000")) suite("bmi1000", "bmi40", seed, 1000, NULL, 1);
    else if (!strcmp(what, "imd-perm")) suite("imd-perm", "mist-imd", seed, 0, "perm", 3);
    else if (!strcmp(what, "bmi-perm")) { suite("bmi-perm", "bmi40", seed, 100, "perm", 1); suite("bmi-perm", "bmi40", seed, 500, "perm", 1); }
    else if (!strcmp(what, "imd-negx1")) suite("imd-negx1", "mist-imd", seed, 0, "negx1", 3);
    else if (!strcmp(what, "imd-negy")) suite("imd-negy", "mist-imd", seed, 0, "negy", 3);
    else if (!strcmp(what, "imd-rotate")) suite("imd-rotate", "mist-imd", seed, 0, "rotate", 3);
    else if (!strcmp(what, "imd-flow")) suite("imd-flow", "mist-imd", seed, 0, "flow", 3);
    else if (!strcmp(what, "nonmono")) {
        double mis[4][2];
        double ss[2] = {0.1, 0.3};
        for (int f = 0; f < 4; f++) for (int si = 0; si < 2; si++) mis[f][si] = nonmono_mi(f, ss[si]);
        size_t ns[3] = {100, 300, 500}; int dims[3] = {1, 2, 4};
        for (int f = 0; f < 4; f++) for (int si = 0; si < 2; si++) for (int a = 0; a < 3; a++) for (int b = 0; b < 3; b++)
            nonmono("nonmono", seed * 1000 + f * 100 + si * 10 + a * 3 + b, ns[a], dims[b], f, ss[si], mis[f][si]);
    } else if (!strcmp(what, "discrete")) {
        size_t ns[3] = {100, 300, 500};
        for (int a = 0; a < 3; a++) for (int dyy = 1; dyy <= 3; dyy += 2) {
            uint64_t s0 = seed * 1000 + a * 10 + dyy;
            discrete("discrete", s0 + 100, ns[a], 0, 0, dyy);
            discrete("discrete", s0 + 200, ns[a], 1, 0.05, dyy);
            discrete("discrete", s0 + 300, ns[a], 1, 0.2, dyy);
            discrete("discrete", s0 + 400, ns[a], 2, 0.3, dyy);
            discrete("discrete", s0 + 500, ns[a], 2, 1.0, dyy);
            discrete("discrete", s0 + 600, ns[a], 3, 0.3, dyy);
        }
    } else if (!strcmp(what, "himi")) {
        size_t ns[3] = {100, 300, 500};
        double mis[5] = {2, 3, 5, 7, 10};
        for (int a = 0; a < 3; a++) for (int m = 0; m < 5; m++) {
            double c = sqrt(1 - exp(-2 * mis[m]));
            task("himi", "normal-dense-base", 1, 1, ns[a], seed * 100 + a * 10 + m, "c", c, NULL);
            task("himi", "normal-dense-halfcube", 1, 1, ns[a], seed * 100 + a * 10 + m + 50, "c", c, NULL);
        }
        double eps[3] = {0.05, 0.01, 0.002};
        for (int a = 0; a < 3; a++) for (int m = 0; m < 3; m++)
            task("himi", "additive-base", 1, 1, ns[a], seed * 100 + a * 10 + m + 70, "eps", eps[m], NULL);
        double st[3] = {8, 20, 50};
        for (int a = 0; a < 3; a++) for (int m = 0; m < 3; m++)
            task("himi", "normal-2pair-base", 2, 2, ns[a], seed * 100 + a * 10 + m + 80, "strength", st[m], NULL);
    } else if (!strcmp(what, "negdense")) {
        size_t ns[3] = {100, 300, 500};
        int dims[3] = {2, 3, 5};
        double cs[3] = {-0.1, -0.15, -0.2};
        for (int a = 0; a < 3; a++) for (int b = 0; b < 3; b++) for (int m = 0; m < 3; m++) {
            double lo = -1.0 / (2 * dims[b] - 1);
            if (cs[m] <= lo) continue;
            task("negdense", "normal-dense-base", dims[b], dims[b], ns[a], seed * 100 + a * 30 + b * 3 + m, "c", cs[m], NULL);
        }
        double cp[2] = {0.3, 0.5};
        for (int a = 0; a < 3; a++) for (int m = 0; m < 2; m++) {
            task("negdense", "normal-dense-base", 2, 2, ns[a], seed * 100 + a * 7 + m + 50, "c", cp[m], "negx1");
            task("negdense", "normal-dense-base", 2, 2, ns[a], seed * 100 + a * 7 + m + 60, "c", cp[m], "negy");
            task("negdense", "normal-dense-base", 3, 3, ns[a], seed * 100 + a * 7 + m + 70, "c", cp[m], "negx1");
        }
    } else { fprintf(stderr, "?\n"); return 2; }
    mist_model_free(M);
    return 0;
}
