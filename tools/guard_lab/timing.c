#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mist_gen.h"
#include "mist_guard.h"
#include "mist_infer.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(void)
{
    mist_err e = {0};
    mist_model *M = mist_model_open("/work/main/weights/mist-qr.msgpack", &e);
    size_t ns[3] = {100, 500, 5000};
    int dims[4] = {1, 5, 16, 32};
    double tot_m[3] = {0}, tot_g[3] = {0};
    for (int a = 0; a < 3; a++) for (int b = 0; b < 4; b++) {
        mist_task_spec sp; memset(&sp, 0, sizeof sp);
        snprintf(sp.task, sizeof sp.task, "normal-sparse-base"); sp.dx = sp.dy = dims[b]; sp.n = ns[a]; sp.seed = 3;
        mist_dataset *ds; if (mist_gen_dataset(&ds, &sp, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        int R = ns[a] >= 5000 ? 3 : 15;
        double tm[15], tg[15];
        for (int r = 0; r < R; r++) {
            double taus[3] = {0.05, 0.5, 0.95}, q[3];
            double t0 = now();
            mist_model_estimate(M, ds->data, ds->n, ds->dx, ds->dy, taus, 3, q, &e);
            double t1 = now();
            mist_guard_model gm; mist_guard_model_init(&gm, M, q[0], q[1], q[2]);
            mist_guard_result gr;
            mist_guard_run(ds->data, ds->n, ds->dx, ds->dy, &gm, NULL, &gr, &e);
            double t2 = now();
            tm[r] = t1 - t0; tg[r] = t2 - t1;
        }
        qsort(tm, R, sizeof(double), cmpd); qsort(tg, R, sizeof(double), cmpd);
        printf("n=%5zu %2dx%-2d model %8.2f ms  guard %8.2f ms  ratio (model+guard)/model %.2f\n", ns[a], dims[b], dims[b], 1e3 * tm[R / 2], 1e3 * tg[R / 2], (tm[R / 2] + tg[R / 2]) / tm[R / 2]);
        tot_m[a] += tm[R / 2]; tot_g[a] += tg[R / 2];
        mist_dataset_free(ds); mist_task_spec_clear(&sp);
        fflush(stdout);
    }
    for (int a = 0; a < 3; a++) printf("n=%zu: over the four dims, (model+guard)/model = %.2f\n", ns[a], (tot_m[a] + tot_g[a]) / tot_m[a]);
    return 0;
}
