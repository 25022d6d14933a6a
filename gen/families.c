/* The task families beyond normal, student and additive: their table, and the Monte-Carlo MI
 * that certifies the ones without a closed form or a 1-D quadrature. */
#include "gen_internal.h"

#include "mist_rng.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const gen_family *const FAMILIES[] = {
    &gen_fam_channel_sine,        &gen_fam_channel_bumps,     &gen_fam_mixture_xshape,
    &gen_fam_mixture_random,      &gen_fam_categorical_gauss, &gen_fam_categorical_softmax,
    &gen_fam_categorical_channel, &gen_fam_categorical_binary};
#define NFAM (sizeof FAMILIES / sizeof FAMILIES[0])

const gen_family *gen_family_find(const char *base, const char *structure)
{
    for (size_t i = 0; i < NFAM; i++)
        if (!strcmp(FAMILIES[i]->base, base) && !strcmp(FAMILIES[i]->structure, structure))
            return FAMILIES[i];
    return NULL;
}

int gen_family_is_base(const char *base)
{
    for (size_t i = 0; i < NFAM; i++)
        if (!strcmp(FAMILIES[i]->base, base)) return 1;
    return 0;
}

const char *gen_family_structures(const char *base)
{
    if (!strcmp(base, "channel")) return "sine, bumps";
    if (!strcmp(base, "mixture")) return "xshape, random";
    if (!strcmp(base, "categorical")) return "gauss, softmax, channel, binary";
    return "none";
}

const mist_catalog_entry *mist_gen_families(size_t *count)
{
    static mist_catalog_entry list[NFAM];
    static char names[NFAM][48];
    for (size_t i = 0; i < NFAM; i++) {
        snprintf(names[i], sizeof names[i], "%s-%s", FAMILIES[i]->base, FAMILIES[i]->structure);
        list[i].name = names[i];
        list[i].summary = FAMILIES[i]->summary;
    }
    *count = NFAM;
    return list;
}

double gen_phi_pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * GEN_PI); }

int gen_mc_mi(const char *task, const void *ctx, gen_mc_draw draw, uint64_t seed, double *mi,
              double *se, mist_err *err)
{
    gsl_rng *r = mist_rng_alloc(mist_seed_derive(seed, GEN_MC_STREAM));
    if (!r) return mist_fail(err, MIST_ENOMEM, "out of memory");
    /* Welford's running mean and sum of squared deviations: stable over millions of draws */
    double mean = 0.0, m2 = 0.0, s = INFINITY;
    size_t n = 0;
    int rc = MIST_OK;
    while (n < GEN_MC_MAX) {
        for (int b = 0; b < 4096; b++) {
            double v = draw(ctx, r);
            if (!isfinite(v)) {
                rc = mist_fail(err, MIST_ENUMERIC,
                               "%s: a Monte-Carlo draw of the log density ratio is not finite",
                               task);
                goto done;
            }
            n++;
            double delta = v - mean;
            mean += delta / (double)n;
            m2 += delta * (v - mean);
        }
        s = sqrt(m2 / (double)(n - 1) / (double)n);
        if (n >= GEN_MC_MIN && s <= GEN_MC_SE) break;
    }
    if (!(s <= GEN_MC_SE))
        rc = mist_fail(err, MIST_ENUMERIC,
                       "%s: %zu Monte-Carlo draws leave a standard error of %.3g on the MI "
                       "(more than %g): choose less extreme parameters",
                       task, n, s, GEN_MC_SE);
done:
    gsl_rng_free(r);
    if (rc) return rc;
    *mi = mean > 0.0 ? mean : 0.0;
    *se = s;
    return MIST_OK;
}
