#include "mist_core.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mist_dataset *mist_dataset_alloc(size_t n, int dx, int dy, mist_err *err)
{
    if (dx < 1 || dy < 1) {
        mist_fail(err, MIST_EINVAL, "dx and dy must be at least 1 (got %d and %d)", dx, dy);
        return NULL;
    }
    size_t cols = (size_t)dx + (size_t)dy;
    if (n > SIZE_MAX / sizeof(double) / cols) {
        mist_fail(err, MIST_EINVAL, "dataset of %zu x %zu values is too large", n, cols);
        return NULL;
    }
    mist_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        mist_fail(err, MIST_ENOMEM, "out of memory allocating a dataset");
        return NULL;
    }
    ds->n = n;
    ds->dx = dx;
    ds->dy = dy;
    ds->meta.mi = NAN;
    ds->data = calloc(n ? n * cols : 1, sizeof(double));
    if (!ds->data) {
        free(ds);
        mist_fail(err, MIST_ENOMEM, "out of memory allocating %zu x %zu values", n, cols);
        return NULL;
    }
    return ds;
}

void mist_meta_clear(mist_meta *m)
{
    if (!m) return;
    free(m->params);
    memset(m, 0, sizeof *m);
    m->mi = NAN;
}

void mist_dataset_free(mist_dataset *ds)
{
    if (!ds) return;
    free(ds->data);
    mist_meta_clear(&ds->meta);
    free(ds);
}

int mist_meta_set_param(mist_meta *m, const char *name, double value, mist_err *err)
{
    if (strlen(name) >= MIST_PARAM_NAME_LEN)
        return mist_fail(err, MIST_EINVAL, "parameter name '%s' is too long", name);
    for (size_t i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, name) == 0) {
            m->params[i].value = value;
            return MIST_OK;
        }
    }
    mist_param *p = realloc(m->params, (m->nparams + 1) * sizeof *p);
    if (!p) return mist_fail(err, MIST_ENOMEM, "out of memory storing parameter '%s'", name);
    m->params = p;
    memset(&p[m->nparams], 0, sizeof p[m->nparams]);
    strcpy(p[m->nparams].name, name);
    p[m->nparams].value = value;
    m->nparams++;
    return MIST_OK;
}

int mist_meta_get_param(const mist_meta *m, const char *name, double *value)
{
    for (size_t i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, name) == 0) {
            if (value) *value = m->params[i].value;
            return 1;
        }
    }
    return 0;
}

int mist_meta_copy(mist_meta *dst, const mist_meta *src, mist_err *err)
{
    /* the inline strings (task, generator_version, transform) and seeds come with the copy */
    *dst = *src;
    dst->params = NULL;
    if (src->nparams) {
        dst->params = malloc(src->nparams * sizeof *dst->params);
        if (!dst->params) {
            dst->nparams = 0;
            return mist_fail(err, MIST_ENOMEM, "out of memory copying metadata");
        }
        memcpy(dst->params, src->params, src->nparams * sizeof *dst->params);
    }
    return MIST_OK;
}

int mist_constant_sides(const double *data, size_t n, int dx, int dy, int *first)
{
    if (first) *first = -1;
    if (!data || n == 0 || dx < 1 || dy < 1) return 0;
    size_t cols = (size_t)dx + (size_t)dy;
    int cx = 0, cy = 0;
    for (size_t j = 0; j < cols; j++) {
        size_t i = 1;
        while (i < n && data[i * cols + j] == data[j]) i++;
        if (i < n) continue;
        if (first && *first < 0) *first = (int)j;
        if (j < (size_t)dx) cx++;
        else cy++;
    }
    return (cx == dx ? MIST_CONSTANT_X : 0) | (cy == dy ? MIST_CONSTANT_Y : 0);
}

double mist_constant_side_unseen(size_t n, double ci)
{
    if (n == 0 || !(ci > 0 && ci < 1)) return NAN;
    return -expm1(log((1.0 - ci) / 2.0) / (double)n);
}

double mist_constant_side_upper(size_t n, double ci)
{
    double q = mist_constant_side_unseen(n, ci);
    if (isnan(q)) return NAN;
    if (q > 0.5) q = 0.5;
    return -q * log(q) - (1.0 - q) * log1p(-q);
}

int mist_dataset_check_finite(const mist_dataset *ds, mist_err *err)
{
    size_t cols = (size_t)ds->dx + (size_t)ds->dy, total = ds->n * cols;
    size_t k = mist_first_nonfinite(ds->data, total);
    if (k < total)
        return mist_fail(err, MIST_EDATA, "non-finite value (%g) at row %zu, column %zu",
                         ds->data[k], k / cols + 1, k % cols + 1);
    return MIST_OK;
}
