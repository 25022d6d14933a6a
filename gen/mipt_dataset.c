/* MI-preserving transforms applied to a dataset: the map of its transform seed, and the record
 * of what was done in its metadata (so a file written afterwards says so). */
#include "mipt_internal.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a of "mipt": the transform seed's stream, apart from the parameter (1) and sample (2)
 * streams of a task seed. */
#define MIPT_SEED_STREAM 0xda6312a2a7a13587ULL

uint64_t mist_mipt_seed(uint64_t dataset_seed)
{
    return mist_seed_derive(dataset_seed, MIPT_SEED_STREAM);
}

int mist_mipt_apply(mist_dataset *ds, const char *name, uint64_t seed, mist_err *err)
{
    if (!ds || !name) return mist_fail(err, MIST_EINVAL, "mist_mipt_apply: missing argument");
    mist_meta *meta = &ds->meta;
    int first = 0;
    if (meta->transform[0]) {
        if (meta->transform_seed != seed)
            return mist_fail(err, MIST_EINVAL,
                             "the dataset carries transform '%s' of seed %llu already; apply "
                             "'%s' with that seed or the whole chain at once",
                             meta->transform, (unsigned long long)meta->transform_seed, name);
        first = 1;
        for (const char *p = meta->transform; *p; p++) first += *p == '+';
    }
    mist_mipt *m = NULL;
    int rc = mist_mipt_create_from(&m, name, ds->dx, ds->dy, seed, first, err);
    if (rc) return rc;
    const char *chain = mist_mipt_chain(m);
    if (!chain[0]) { /* only "none": nothing to do, nothing to record */
        mist_mipt_free(m);
        return MIST_OK;
    }
    char record[sizeof meta->transform];
    int len = snprintf(record, sizeof record, "%s%s%s", meta->transform,
                       meta->transform[0] ? "+" : "", chain);
    if (len < 0 || (size_t)len >= sizeof record) {
        mist_mipt_free(m);
        return mist_fail(err, MIST_EINVAL, "transform chain '%s+%s' is too long",
                         meta->transform, chain);
    }
    size_t cols = (size_t)ds->dx + (size_t)ds->dy, total = ds->n * cols;
    /* into a copy: ds stays untouched when the map fails or overflows */
    double *out = NULL;
    rc = mist_dataset_check_finite(ds, err);
    if (!rc && !(out = malloc((total ? total : 1) * sizeof *out)))
        rc = mist_fail(err, MIST_ENOMEM, "out of memory transforming %zu values", total);
    if (!rc) rc = mist_mipt_forward(m, ds->data, ds->n, out, err);
    size_t bad = rc ? total : mist_first_nonfinite(out, total);
    if (bad < total)
        rc = mist_fail(err, MIST_EDATA, "transform '%s' overflowed at row %zu", chain,
                       bad / cols + 1);
    if (rc) {
        free(out);
        mist_mipt_free(m);
        return rc;
    }
    free(ds->data);
    ds->data = out;
    ds->dx = mist_mipt_out_dx(m);
    ds->dy = mist_mipt_out_dy(m);
    snprintf(meta->transform, sizeof meta->transform, "%s", record);
    meta->transform_seed = seed;
    mist_mipt_free(m);
    return MIST_OK;
}
