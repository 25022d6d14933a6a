/* Meta-distributions: weighted lists of task families with ranges for dims and n. Task number
 * i of a seed depends on (name, seed, i) only, so streams can be resumed or split freely. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_gen.h"

enum dims_mode {
    DIMS_EQ_2_32,    /* dx = dy ~ U{2..32} (the MIST training families) */
    DIMS_INDEP_1_32, /* dx, dy ~ U{1..32} independently */
    DIMS_INDEP_1_8,  /* small dims, for slow transforms (bimodal's root finding) */
    DIMS_1x1
};

typedef struct md_entry {
    const char *task;
    double weight;
    enum dims_mode dims;
    const char *param; /* one fixed "k=v" or NULL */
} md_entry;

typedef struct metadist {
    const char *name;
    const char *summary;
    const md_entry *entries;
    size_t count;
    size_t n_lo, n_hi;
} metadist;

#define MIST16                                                                                    \
    {"normal-dense-base", 1, DIMS_EQ_2_32, NULL}, {"normal-dense-halfcube", 1, DIMS_EQ_2_32, NULL}, \
    {"normal-dense-asinh", 1, DIMS_EQ_2_32, NULL}, {"normal-sparse-wiggly", 1, DIMS_EQ_2_32, NULL}, \
    {"normal-sparse-base", 1, DIMS_EQ_2_32, NULL}, {"normal-lvm-wiggly", 1, DIMS_EQ_2_32, NULL},   \
    {"normal-lvm-base", 1, DIMS_EQ_2_32, NULL}, {"normal-2pair-base", 1, DIMS_EQ_2_32, NULL},      \
    {"student-dense-base", 1, DIMS_EQ_2_32, NULL}, {"student-dense-wiggly", 1, DIMS_EQ_2_32, NULL},\
    {"student-sparse-halfcube", 1, DIMS_EQ_2_32, NULL},                                           \
    {"student-sparse-base", 1, DIMS_EQ_2_32, NULL},                                               \
    {"student-sparse-asinh", 1, DIMS_EQ_2_32, NULL},                                              \
    {"student-2pair-asinh", 1, DIMS_EQ_2_32, NULL},                                               \
    {"student-2pair-halfcube", 1, DIMS_EQ_2_32, NULL},                                            \
    {"additive-wiggly", 1, DIMS_EQ_2_32, NULL}

static const md_entry MD_MIST16[] = {MIST16};

static const md_entry MD_DEFAULT[] = {
    MIST16,
    /* dx != dy */
    {"normal-dense-base", 1, DIMS_INDEP_1_32, NULL},
    {"normal-sparse-wiggly", 1, DIMS_INDEP_1_32, NULL},
    {"normal-lvm-halfcube", 1, DIMS_INDEP_1_32, NULL},
    {"student-dense-asinh", 1, DIMS_INDEP_1_32, NULL},
    {"student-sparse-base", 1, DIMS_INDEP_1_32, NULL},
    /* dx = dy = 1 */
    {"normal-dense-base", 0.5, DIMS_1x1, NULL},
    {"normal-dense-halfcube", 0.5, DIMS_1x1, NULL},
    {"student-identity-base", 0.5, DIMS_1x1, NULL},
    {"additive-wiggly", 0.5, DIMS_1x1, NULL},
    /* zero MI */
    {"normal-dense-base", 0.5, DIMS_INDEP_1_32, "c=0"},
    {"normal-sparse-asinh", 0.5, DIMS_INDEP_1_32, "K=0"},
    /* other shapes */
    {"normal-dense-bimodal", 0.5, DIMS_INDEP_1_8, NULL},
    {"normal-sparse-bimodal", 0.5, DIMS_INDEP_1_8, NULL},
    {"normal-sparse-spiral", 1, DIMS_INDEP_1_32, NULL},
    {"normal-dense-normal_cdf+spiral", 0.5, DIMS_INDEP_1_32, NULL},
};

static const md_entry MD_NORMAL1X1[] = {{"normal-dense-base", 1, DIMS_1x1, NULL}};

static const metadist METADISTS[] = {
    {"default",
     "the 16 MIST training families (dx = dy in 2..32) plus dx != dy, 1x1, zero-MI, bimodal and "
     "spiral tasks; n in 10..500",
     MD_DEFAULT, sizeof MD_DEFAULT / sizeof MD_DEFAULT[0], 10, 500},
    {"mist16", "exactly the 16 MIST training families, dx = dy in 2..32, n in 10..500", MD_MIST16,
     sizeof MD_MIST16 / sizeof MD_MIST16[0], 10, 500},
    {"normal1x1", "bivariate normal, correlation U(-0.9, 0.9), n in 50..200 (tests, tiny models)",
     MD_NORMAL1X1, 1, 50, 200},
};
#define NMETA (sizeof METADISTS / sizeof METADISTS[0])

const mist_catalog_entry *mist_gen_metadists(size_t *count)
{
    static mist_catalog_entry list[NMETA];
    for (size_t i = 0; i < NMETA; i++) {
        list[i].name = METADISTS[i].name;
        list[i].summary = METADISTS[i].summary;
    }
    *count = NMETA;
    return list;
}

static double unit(uint64_t u) { return (double)(u >> 11) * 0x1.0p-53; }

static int draw_range(uint64_t u, int lo, int hi) { return lo + (int)(u % (uint64_t)(hi - lo + 1)); }

int mist_metadist_draw(const char *name, uint64_t seed, uint64_t index, mist_task_spec *spec,
                       mist_err *err)
{
    const metadist *md = NULL;
    for (size_t i = 0; i < NMETA; i++)
        if (strcmp(METADISTS[i].name, name) == 0) md = &METADISTS[i];
    if (!md)
        return mist_fail(err, MIST_EINVAL,
                         "unknown meta-distribution '%s' (known: default, mist16, normal1x1)", name);
    uint64_t base = mist_seed_derive(mist_seed_derive(seed, 0x6d657461ULL), index);
    double total = 0;
    for (size_t i = 0; i < md->count; i++) total += md->entries[i].weight;
    double pick = unit(mist_seed_derive(base, 1)) * total;
    size_t e = 0;
    while (e + 1 < md->count && pick >= md->entries[e].weight) pick -= md->entries[e++].weight;
    const md_entry *ent = &md->entries[e];

    memset(spec, 0, sizeof *spec);
    snprintf(spec->task, sizeof spec->task, "%s", ent->task);
    uint64_t ua = mist_seed_derive(base, 2), ub = mist_seed_derive(base, 3);
    switch (ent->dims) {
    case DIMS_EQ_2_32: spec->dx = spec->dy = draw_range(ua, 2, 32); break;
    case DIMS_INDEP_1_32: spec->dx = draw_range(ua, 1, 32); spec->dy = draw_range(ub, 1, 32); break;
    case DIMS_INDEP_1_8: spec->dx = draw_range(ua, 1, 8); spec->dy = draw_range(ub, 1, 8); break;
    case DIMS_1x1: spec->dx = spec->dy = 1; break;
    }
    spec->n = (size_t)draw_range(mist_seed_derive(base, 4), (int)md->n_lo, (int)md->n_hi);
    spec->seed = mist_seed_derive(base, 5);
    if (ent->param) {
        const char *eq = strchr(ent->param, '=');
        char pname[MIST_PARAM_NAME_LEN];
        snprintf(pname, sizeof pname, "%.*s", (int)(eq - ent->param), ent->param);
        return mist_task_spec_add_param(spec, pname, strtod(eq + 1, NULL), err);
    }
    return MIST_OK;
}
