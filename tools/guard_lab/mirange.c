#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mist_gen.h"
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv)
{
    const char *md = argv[1]; long N = atol(argv[2]);
    /* buckets by min(dx, dy): 1, 2, 3-4, 5-8, 9-16, 17-32 */
    double *v[6]; size_t c[6] = {0};
    for (int b = 0; b < 6; b++) v[b] = malloc(N * sizeof(double));
    mist_err e = {0};
    for (long i = 0; i < N; i++) {
        mist_task_spec sp; memset(&sp, 0, sizeof sp);
        if (mist_metadist_draw(md, 7, (uint64_t)i, &sp, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        mist_task *t;
        if (mist_task_create(&t, sp.task, sp.dx, sp.dy, sp.params, sp.nparams, sp.seed, &e)) { fprintf(stderr, "%s %s\n", sp.task, e.msg); return 1; }
        int m = mist_task_out_dx(t) < mist_task_out_dy(t) ? mist_task_out_dx(t) : mist_task_out_dy(t);
        int b = m <= 1 ? 0 : m <= 2 ? 1 : m <= 4 ? 2 : m <= 8 ? 3 : m <= 16 ? 4 : 5;
        v[b][c[b]++] = mist_task_mi(t);
        mist_task_free(t); mist_task_spec_clear(&sp);
    }
    for (int b = 0; b < 6; b++) {
        qsort(v[b], c[b], sizeof(double), cmp);
        size_t k = c[b];
        printf("bucket %d: count %zu  min %.4f  q50 %.4f q99 %.4f q995 %.4f q999 %.4f max %.4f\n", b, k, v[b][0], v[b][k/2], v[b][(size_t)(0.99*k)], v[b][(size_t)(0.995*k)], v[b][(size_t)(0.999*k)], v[b][k-1]);
    }
    return 0;
}
