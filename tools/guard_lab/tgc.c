#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mist_gen.h"
#include "mist_guard.h"
#include "mist_classical.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(void)
{
    mist_err e = {0};
    mist_task_spec sp; memset(&sp, 0, sizeof sp);
    snprintf(sp.task, sizeof sp.task, "normal-sparse-base"); sp.dx = sp.dy = 32; sp.n = 500; sp.seed = 3;
    mist_dataset *ds; mist_gen_dataset(&ds, &sp, &e);
    double v, b, se, t0 = now();
    for (int r = 0; r < 10; r++) mist_guard_gaussian_copula(ds->data, 500, 32, 32, &v, &b, &se, &e);
    double t1 = now();
    double *z = malloc(500 * 64 * sizeof *z);
    for (int r = 0; r < 10; r++) mist_copula_transform(z, ds->data, 500, 64, &e);
    double t2 = now();
    for (int r = 0; r < 10; r++) mist_guard_ksg(ds->data, 500, 32, 32, 5, 0, 1, &v, &se, &e);
    double t3 = now();
    printf("gc %.2f ms (copula %.2f ms), ksg %.2f ms\n", (t1 - t0) * 100, (t2 - t1) * 100, (t3 - t2) * 100);
    return 0;
}
