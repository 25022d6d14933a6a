/* Task specs own their parameter lists: a task may take any number (one eps per coordinate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_gen.h"

int mist_task_spec_add_param(mist_task_spec *spec, const char *name, double value, mist_err *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= MIST_PARAM_NAME_LEN)
        return mist_fail(err, MIST_EINVAL, "parameter name '%s' is empty or longer than %d",
                         name ? name : "", MIST_PARAM_NAME_LEN - 1);
    if (spec->nparams >= SIZE_MAX / sizeof *spec->params - 1)
        return mist_fail(err, MIST_ENOMEM, "too many parameters");
    mist_param *p = realloc(spec->params, (spec->nparams + 1) * sizeof *p);
    if (!p) return mist_fail(err, MIST_ENOMEM, "out of memory");
    spec->params = p;
    memset(&p[spec->nparams], 0, sizeof *p);
    memcpy(p[spec->nparams].name, name, len + 1);
    p[spec->nparams].value = value;
    spec->nparams++;
    return MIST_OK;
}

int mist_task_spec_copy(mist_task_spec *dst, const mist_task_spec *src, mist_err *err)
{
    *dst = *src;
    dst->params = NULL;
    if (!src->nparams) return MIST_OK;
    dst->params = malloc(src->nparams * sizeof *dst->params);
    if (!dst->params) {
        dst->nparams = 0;
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    memcpy(dst->params, src->params, src->nparams * sizeof *dst->params);
    return MIST_OK;
}

void mist_task_spec_clear(mist_task_spec *spec)
{
    if (!spec) return;
    free(spec->params);
    spec->params = NULL;
    spec->nparams = 0;
}

void mist_task_specs_free(mist_task_spec *specs, size_t count)
{
    if (!specs) return;
    for (size_t i = 0; i < count; i++) mist_task_spec_clear(&specs[i]);
    free(specs);
}
