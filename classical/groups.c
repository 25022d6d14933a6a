/* Rows grouped by their origin (est_internal.h): the bootstrap's resamples for KSG and mixed. */
#include <stdlib.h>
#include <string.h>

#include "est_internal.h"
#include "util.h"

typedef struct orow {
    size_t o, r;
} orow;

static int cmp_orow(const void *a, const void *b)
{
    const orow *x = a, *y = b;
    if (x->o != y->o) return x->o < y->o ? -1 : 1;
    return (x->r > y->r) - (x->r < y->r);
}

void mist_est_groups_free(mist_est_groups *g)
{
    free(g->start);
    free(g->rows);
    free(g->of);
    memset(g, 0, sizeof *g);
}

int mist_est_groups_build(mist_est_groups *g, const size_t *origin, size_t n, mist_err *err)
{
    memset(g, 0, sizeof *g);
    orow *pr = malloc((n ? n : 1) * sizeof *pr);
    g->start = malloc((n + 1) * sizeof *g->start);
    g->rows = malloc((n ? n : 1) * sizeof *g->rows);
    g->of = malloc((n ? n : 1) * sizeof *g->of);
    if (!pr || !g->start || !g->rows || !g->of) {
        free(pr);
        mist_est_groups_free(g);
        return mist_fail(err, MIST_ENOMEM, "out of memory grouping %zu rows by origin", n);
    }
    for (size_t i = 0; i < n; i++) {
        pr[i].o = origin[i];
        pr[i].r = i;
    }
    if (n > 1) qsort(pr, n, sizeof *pr, cmp_orow);
    for (size_t p = 0; p < n; p++) {
        if (p == 0 || pr[p].o != pr[p - 1].o) {
            if (g->count && p - g->start[g->count - 1] > g->max)
                g->max = p - g->start[g->count - 1];
            g->start[g->count++] = p;
        }
        g->rows[p] = pr[p].r;
        g->of[pr[p].r] = g->count - 1;
    }
    if (g->count && n - g->start[g->count - 1] > g->max) g->max = n - g->start[g->count - 1];
    g->start[g->count] = n;
    free(pr);
    return MIST_OK;
}
