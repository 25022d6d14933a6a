/* The MI range of a training meta-distribution, by dims (mist_guard.h).
 *
 * The table holds, per bucket of min(dx, dy) (1, 2, 3-4, 5-8, 9-16, 17-32: the rank of the
 * dependence a task can have grows with the smaller side), the 99.9th percentile of the exact MI
 * of the tasks of mist_metadist_draw("default", seed 7, index 0..399,999) (their output dims, so
 * swissroll counts as dx = 2). The maximum itself is no range: the dense and Student families
 * have tails that keep growing with the number of draws (bucket 17-32: max 39.6 at 100,000
 * draws, 41.4 at 400,000) while the 99.9th percentile stays put (34.8, 34.9). Stored rather
 * than measured per call: 400,000 draws take seconds. tests/test_guard.c re-measures it. */
#include <math.h>
#include <string.h>

#include "mist_gen.h"
#include "mist_guard.h"

static const double DEFAULT_MI_Q999[6] = {1.6417, 2.7765, 5.1687, 9.6666, 18.1907, 34.9366};
/* "broad" (the same percentile of mist_metadist_draw("broad", seed 7, index 0..99,999): its
 * families' MI needs Monte Carlo and quadrature, 100,000 draws took 150 s): its high-MI
 * families reach 10.5 nats at 1x1 and 2x2. */
static const double BROAD_MI_Q999[6] = {10.4447, 10.4753, 7.3288, 9.5796, 17.4971, 33.9147};
/* "broad2" (likewise, 100,000 draws): its additive noise at 3..32 dims lifts buckets 3-4, 5-8 */
static const double BROAD2_MI_Q999[6] = {10.4516, 10.4732, 10.0129, 10.2650, 17.2741, 33.6514};

const double *mist_guard_mi_table(const char *metadist)
{
    /* deflow: default's tasks under MI-preserving transforms, so default's MI */
    if (metadist && (strcmp(metadist, "default") == 0 || strcmp(metadist, "deflow") == 0))
        return DEFAULT_MI_Q999;
    if (metadist && strcmp(metadist, "broad") == 0) return BROAD_MI_Q999;
    if (metadist && strcmp(metadist, "broad2") == 0) return BROAD2_MI_Q999;
    return NULL;
}

int mist_guard_mi_bucket(int dx, int dy)
{
    int m = dx < dy ? dx : dy;
    if (m < 1 || m > 32) return -1;
    return m <= 1 ? 0 : m <= 2 ? 1 : m <= 4 ? 2 : m <= 8 ? 3 : m <= 16 ? 4 : 5;
}

int mist_guard_metadist_continuous(const char *metadist)
{
    /* the meta-distributions of gen/metadist.c whose every family is continuous */
    static const char *const names[] = {"default", "mist16", "normal1x1", "deflow"};
    for (size_t i = 0; metadist && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(metadist, names[i]) == 0) return 1;
    const char *a, *b; /* a mixture: when both its parts are */
    if (mist_metadist_mixture(metadist, &a, &b, NULL) == 1)
        return mist_guard_metadist_continuous(a) && mist_guard_metadist_continuous(b);
    return 0;
}

int mist_guard_mi_bucket_dims(int bucket, int *lo, int *hi)
{
    static const int bounds[7] = {0, 1, 2, 4, 8, 16, 32};
    if (bucket < 0 || bucket > 5) return -1;
    *lo = bounds[bucket] + 1;
    *hi = bounds[bucket + 1];
    return 0;
}

/* A mixture of two meta-distributions (gen/metadist.c: "mix2", "mix4"): per bucket the larger
 * of its parts' values. A mixture's p-quantile is at most its parts' largest (at that point each
 * CDF, and so their weighted sum, has reached p), so this bounds the range from above without a
 * measurement of its own; NaN when either part has none. tests/test_guard.c checks it against
 * draws from the mixtures. */
double mist_guard_mi_max(const char *metadist, int dx, int dy)
{
    int b = mist_guard_mi_bucket(dx, dy);
    if (b < 0) return NAN;
    const double *t = mist_guard_mi_table(metadist);
    if (t) return t[b];
    const char *pa, *pb;
    if (mist_metadist_mixture(metadist, &pa, &pb, NULL) != 1) return NAN;
    double va = mist_guard_mi_max(pa, dx, dy), vb = mist_guard_mi_max(pb, dx, dy);
    return isnan(va) || isnan(vb) ? NAN : fmax(va, vb);
}
