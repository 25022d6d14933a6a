/* A task spec turned into a dataset with its metadata. */
#include <stdio.h>
#include <string.h>

#include "mist_gen.h"

int mist_gen_dataset(mist_dataset **out, const mist_task_spec *spec, mist_err *err)
{
    *out = NULL;
    mist_task *t = NULL;
    int rc = mist_task_create(&t, spec->task, spec->dx, spec->dy, spec->params, spec->nparams,
                              spec->seed, err);
    if (rc) return rc;
    mist_dataset *ds = mist_dataset_alloc(spec->n, mist_task_out_dx(t), mist_task_out_dy(t), err);
    if (!ds) {
        mist_task_free(t);
        return err ? err->code : MIST_ENOMEM;
    }
    rc = mist_task_sample(t, spec->n, spec->seed, ds->data, err);
    snprintf(ds->meta.task, sizeof ds->meta.task, "%s", mist_task_name(t));
    snprintf(ds->meta.generator_version, sizeof ds->meta.generator_version, "%s",
             MIST_GEN_VERSION);
    ds->meta.seed = spec->seed;
    ds->meta.has_seed = 1;
    ds->meta.mi = mist_task_mi(t);
    size_t np;
    const mist_param *p = mist_task_params(t, &np);
    for (size_t i = 0; !rc && i < np; i++) rc = mist_meta_set_param(&ds->meta, p[i].name, p[i].value, err);
    if (!rc && spec->transform[0])
        rc = mist_mipt_apply(ds, spec->transform, mist_mipt_seed(spec->seed), err);
    mist_task_free(t);
    if (rc) {
        mist_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MIST_OK;
}
