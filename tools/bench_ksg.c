/* KSG speed and value: reads a dataset (mist_dataset_read: .npy, .csv, .msgpack), runs mist_ksg
 * and prints the value (%.17g) and the best-of-R wall time.
 * usage: bench_ksg FILE [--dx N] [--k K] [--alg 1|2] [--threads T] [--raw] [--reps R]
 *                       [--seed S] [--brute] [--search auto|tree|scan]
 *   --raw    no z-scoring and no noise: the data exactly as stored (what
 *            tools/reference/ksg_scipy.py computes, so the two values can be compared);
 *   --brute  also time mist_ksg_counts_brute and check the counts agree (small n only);
 *   --search force the kd-tree or the blocked brute-force scan (default: the library's choice). */
#include <gsl/gsl_sf_psi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kdtree.h" /* private: mist_ksg_set_search */
#include "mist_classical.h"
#include "mist_io.h"
#include "util.h"

int main(int argc, char **argv)
{
    const char *path = NULL;
    int dx = 0, k = 5, alg = 1, threads = 1, raw = 0, reps = 3, brute = 0;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--dx") && more) dx = atoi(argv[++i]);
        else if (!strcmp(a, "--k") && more) k = atoi(argv[++i]);
        else if (!strcmp(a, "--alg") && more) alg = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && more) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && more) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && more) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--search") && more) {
            const char *m = argv[++i];
            mist_ksg_set_search(!strcmp(m, "tree")   ? MIST_KSG_SEARCH_TREE
                                : !strcmp(m, "scan") ? MIST_KSG_SEARCH_SCAN
                                                     : MIST_KSG_SEARCH_AUTO);
        } else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--brute")) brute = 1;
        else if (a[0] != '-' && !path) path = a;
        else {
            fprintf(stderr, "usage: bench_ksg FILE [--dx N] [--k K] [--alg 1|2] [--threads T] "
                            "[--raw] [--reps R] [--seed S] [--brute] [--search auto|tree|scan]\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "bench_ksg: no input file\n");
        return 2;
    }
    mist_err err = {0};
    mist_dataset *ds = NULL;
    if (mist_dataset_read(&ds, path, MIST_FMT_AUTO, dx, &err)) {
        fprintf(stderr, "bench_ksg: %s\n", err.msg);
        return 1;
    }
    mist_est_opts o;
    mist_est_opts_default(&o);
    o.k = k;
    o.threads = threads;
    o.seed = seed;
    if (raw) {
        o.zscore = 0;
        o.noise = 0.0;
    }
    double mi = 0, best = 1e30;
    for (int r = 0; r < (reps < 1 ? 1 : reps); r++) {
        double t0 = mist_clock_s();
        if (mist_ksg(alg, ds->data, ds->n, ds->dx, ds->dy, &o, &mi, &err)) {
            fprintf(stderr, "bench_ksg: %s\n", err.msg);
            mist_dataset_free(ds);
            return 1;
        }
        double t = mist_clock_s() - t0;
        if (t < best) best = t;
    }
    printf("ksg%d %dx%d n=%zu k=%d threads=%d %s mi=%.17g best_of_%d=%.4f s\n", alg, ds->dx, ds->dy,
           ds->n, k, threads, raw ? "raw" : "prepared", mi, reps, best);
    if (brute) {
        size_t n = ds->n;
        double *use = malloc(n * (size_t)(ds->dx + ds->dy) * sizeof *use);
        int *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c),
            *d = malloc(n * sizeof *d);
        if (!use || !a || !b || !c || !d) return 1;
        if (mist_ksg_prepare(use, ds->data, n, ds->dx, ds->dy, &o, &err)) return 1;
        double t0 = mist_clock_s();
        if (mist_ksg_counts(alg, use, n, ds->dx, ds->dy, k, threads, a, b, &err)) return 1;
        double t1 = mist_clock_s();
        if (mist_ksg_counts_brute(alg, use, n, ds->dx, ds->dy, k, c, d, &err)) return 1;
        double t2 = mist_clock_s();
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += a[i] != c[i] || b[i] != d[i];
        printf("counts %.4f s, brute %.4f s, %zu rows differ\n", t1 - t0, t2 - t1, bad);
        free(use);
        free(a);
        free(b);
        free(c);
        free(d);
    }
    mist_dataset_free(ds);
    return 0;
}
