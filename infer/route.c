/* Routing between two models: a model that reads columns by position, in canonical order (the
 * shipped mist-qr), and a second model that answers the datasets it reads badly (an invariant
 * pairs model).
 *
 * Why: the canonical reading (col_canon.c) puts the strongest cross pairs x_j - y_k first, the
 * generator's arrangement, and a network trained on that arrangement is accurate when the
 * dependence does sit on such pairs. When it is spread over many cross pairs (columns mixed by
 * a rotation or a flow, dense couplings) no order of the columns restores the arrangement and
 * the network reads such data far off (mist-imd rotate and flow: MSE 22-25 against 2.2-2.8 for
 * the pairs model, which sees every cross pair alike). kappa, the matched pairs' share of the
 * evidence of cross dependence, tells the two cases apart from the data alone, at the cost of
 * the statistics the canonical reading computes anyway; it is a function of the normal scores
 * only and is unchanged by permuting, negating or swapping columns, so the routing keeps the
 * invariances of both models.
 *
 * kappa decides only for n inside the primary's trained range: the threshold was chosen on
 * suites of n 10..500, and beyond, on bmi40 (suite seed 2, n = 1,000 and 10,000), the pairs
 * model read dense and Student-t data worse than mist-qr outside its range (bmi40 MSE 0.087 /
 * 0.049 routed by kappa, 0.033 / 0.023 not).
 *
 * A second reason to hand a dataset over: a classical cross-check reads more MI than the
 * primary's training meta-distribution reaches at these dims (its 99.9th percentile, the
 * guard's table). A network trained on a range saturates beyond it (mist-qr: about 2.5 nats at
 * 1 x 1 where the truth is 6-9, new-families normal-dense and additive), and the second model
 * is trained on MI up to 10 nats; both cross-checks are biased downward there, so the rule
 * fires late rather than early.
 *
 * Data with a tied value in any column (repeated rows, as a bootstrap resample makes them;
 * rounded or discrete values) stay with the first model and its guard: the pairs model takes
 * ties for discrete data and caps its Gaussian base (mist-imd-official, 32 x 32 Student data of
 * MI 31: 31.3 on the sample, 6.9 on a bootstrap resample of it, 36 with the ties jittered
 * away), the kappa of a resample is lower (0.68 -> 0.50: repeated rows raise the chance
 * correlations above the 4/n the null level assumes), and KSG reads rows at distance 0 as
 * unbounded MI. Scored the paper's way (50 resamples per dataset) a route that took such data
 * read 18 / 15.5 / 9.4 on mist-imd-official instead of mist-qr's 7.3 / 0.24 / 0.073.
 *
 * ARBITER (optional, meta "route_arbiter"): kappa sends a set away on evidence about its columns
 * only, and on data as generated it sends many that the first model reads well: on suite seed 3 the
 * sets kappa routes from mist-imd and mist-oomd as generated had a summed squared error of 81 / 40
 * (mist-imd, n 100-300 / 300-500) and 178 / 211 (mist-oomd) read by the pairs model and 34 / 10 and
 * 13 / 6 read by mist-qr, while on rotated and flowed columns mist-qr read the same kind of set
 * 13-68 times worse (unguarded answers). Both models read such a set, and the bias-corrected
 * Gaussian copula referees: the first keeps it when its median is less than ratio times as far from
 * the copula's reading as the second's. Not where KSG reads more than the copula's upper end (the
 * guard's NONMONOTONE condition): there the dependence is of a kind the copula misses, and it
 * misses it as mist-qr does (seed 3 mixtures: both read 0.05-0.3 for 0.3-0.4). The answer keeps the
 * second model's interval, calibrated on such sets where the first model's is not (with the first's
 * own interval the coverage of mist-imd flow at n 100-300 / 300-500 fell from 0.95 / 0.98 to 0.77 /
 * 0.72 on seed 3), moved out to hold the first's median.
 *
 * The threshold is a property of the pair of models, fitted on suites the bars do not score
 * (weights/benchmarks/candidates/routing.md), and stored with the primary's weights: meta
 * "route" names the second model's file (looked for next to the primary's, then where the
 * shipped models are), meta "route_kappa" the threshold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mist_guard.h"
#include "util.h"

int mist_route_kappa(const double *data, size_t n, int dx, int dy, double *kappa, mist_err *err)
{
    if (!data || !kappa) return mist_fail(err, MIST_EINVAL, "route: NULL argument");
    if (dx < 1 || dy < 1 || dx > 4096 || dy > 4096)
        return mist_fail(err, MIST_EINVAL, "route: dx and dy must be within 1..4096 (got %d, %d)",
                         dx, dy);
    if (n < 2) return mist_fail(err, MIST_EDATA, "route: needs at least 2 rows (got %zu)", n);
    size_t d = (size_t)dx + (size_t)dy;
    size_t bad = mist_first_nonfinite(data, n * d);
    if (bad < n * d)
        return mist_fail(err, MIST_EDATA, "route: non-finite value at row %zu, column %zu",
                         bad / d + 1, bad % d + 1);
    int *src = malloc(d * sizeof *src);
    double *sign = malloc(d * sizeof *sign);
    int rc = src && sign ? col_canon_plan(data, n, dx, dy, src, sign, kappa, err)
                         : mist_fail(err, MIST_ENOMEM, "route: out of memory");
    free(src);
    free(sign);
    return rc;
}

int mist_model_set_route(mist_model *m, mist_model *alt, double kappa_min, mist_err *err)
{
    if (!m) return mist_fail(err, MIST_EINVAL, "route: model is NULL");
    if (alt) {
        if (alt == m || alt->route_alt)
            return mist_fail(err, MIST_EINVAL,
                             "route: the second model must be another model without a route");
        if (m->arch.input_layout == MIST_LAYOUT_PAIRS)
            return mist_fail(err, MIST_EINVAL,
                             "route: the first model must read columns by position (split or "
                             "packed layout); a pairs model needs no routing");
        if (!m->arch.quantile_conditioned != !alt->arch.quantile_conditioned)
            return mist_fail(err, MIST_EINVAL,
                             "route: both models must give quantiles, or neither");
        if (!(kappa_min >= 0.0 && kappa_min <= 1.0))
            return mist_fail(err, MIST_EINVAL, "route: kappa_min must be within [0, 1] (got %g)",
                             kappa_min);
    }
    mist_model_free(m->route_alt);
    m->route_alt = alt;
    if (alt) alt->raw_quantiles = m->raw_quantiles;
    m->route_kappa_min = alt ? kappa_min : 0.0;
    m->route_arbiter = 0.0;
    return MIST_OK;
}

int mist_model_set_route_arbiter(mist_model *m, double ratio, mist_err *err)
{
    if (!m) return mist_fail(err, MIST_EINVAL, "route: model is NULL");
    if (!(ratio >= 0.0 && ratio <= 1.0))
        return mist_fail(err, MIST_EINVAL, "route: the arbiter's ratio must be within [0, 1] "
                                           "(got %g)", ratio);
    if (ratio > 0.0 && !m->route_alt)
        return mist_fail(err, MIST_EINVAL, "route: an arbiter needs a route (a second model)");
    m->route_arbiter = ratio;
    return MIST_OK;
}

double mist_model_route_arbiter(const mist_model *m) { return m ? m->route_arbiter : 0.0; }

mist_model *mist_model_route_alt(const mist_model *m, double *kappa_min)
{
    if (!m || !m->route_alt) return NULL;
    if (kappa_min) *kappa_min = m->route_kappa_min;
    return m->route_alt;
}

/* Whether the second model takes the set (its dims and data checks), without a message. */
static int alt_takes(const mist_model *alt, const mist_data_view *v)
{
    mist_err e = {0};
    return model_check_set(&alt->arch, v, "", &e) == MIST_OK;
}

/* 1 when some column holds a value twice (-1: out of memory). */
static int has_ties(const double *data, size_t n, size_t d)
{
    double *c = malloc(n * sizeof *c);
    if (!c) return -1;
    int tie = 0;
    for (size_t j = 0; j < d && !tie; j++) {
        for (size_t i = 0; i < n; i++) c[i] = data[i * d + j];
        qsort(c, n, sizeof *c, mist_cmp_double);
        for (size_t i = 1; i < n && !tie; i++) tie = c[i] == c[i - 1];
    }
    free(c);
    return tie;
}

/* 1 when a classical cross-check reads more MI than the primary's training meta-distribution
 * reaches at these dims (mist_guard_mi_max): the bias-corrected Gaussian copula, else KSG
 * (k = 5), each as the guard computes it. Without a stored range for the primary: 0. Asked
 * only of data without tied values, where KSG is sound (see the header). */
static int beyond_trained_mi(const mist_model *m, const double *data, size_t n, int dx, int dy,
                             mist_err *err, int *rc)
{
    char md[32];
    *rc = MIST_OK;
    if (!mist_model_meta_get_str(m, "metadist", md, sizeof md)) return 0;
    double top = mist_guard_mi_max(md, dx, dy), v, bias, se;
    if (!isfinite(top)) return 0;
    mist_err e = {0};
    int r = mist_guard_gaussian_copula(data, n, dx, dy, &v, &bias, &se, &e);
    if (r == MIST_ENOMEM) return *rc = mist_fail(err, r, "route: %s", e.msg), 0;
    if (!r && v - bias > top) return 1;
    r = mist_guard_ksg(data, n, dx, dy, 5, 0, 1, &v, &se, &e);
    if (r == MIST_ENOMEM) return *rc = mist_fail(err, r, "route: %s", e.msg), 0;
    return !r && v > top;
}

/* A model's median of one set (its point estimate for a point model). */
static int set_median(mist_model *m, const mist_data_view *v, double *med, mist_err *err)
{
    const double half = 0.5;
    int q = m->arch.quantile_conditioned;
    return model_estimate_noroute(m, v, 1, q ? &half : NULL, q ? 1 : 0, med, err);
}

/* The levels at which the arbiter reads the second model: the default interval's, so that the
 * answer to a set it keeps reuses that reading (route_memo). The median it compares is the
 * middle of the three, the 0.5 level the model reports once its quantiles are sorted along tau
 * (raw or not): where the network's quantiles cross, near MI 0, its output at 0.5 alone can lie
 * outside its own interval (mist-pairs on a 2 x 2 set of MI 0.022: -0.009, its 5% level
 * 0.012). */
static const double ARBITER_TAUS[3] = {0.05, 0.5, 0.95};

static double middle_of_three(const double *q)
{
    double a = fmin(q[0], q[1]), b = fmax(q[0], q[1]);
    return fmax(a, fmin(b, q[2]));
}

int route_memo_levels(const double *taus, size_t ntaus)
{
    return ntaus == 3 && taus[0] == ARBITER_TAUS[0] && taus[1] == ARBITER_TAUS[1] &&
           taus[2] == ARBITER_TAUS[2];
}

/* ARBITER (mist_model_set_route_arbiter): 1 when m keeps a set that kappa hands to its second
 * model. Both models read the data, and where they disagree the classical reading that tracks
 * the whole Gaussian part of the dependence, the bias-corrected copula, is the referee; where
 * KSG reads more than the copula's upper end the dependence is not of that kind (Gaussian
 * mixtures, non-monotone channels: mist-qr reads them as low as the copula does) and the second
 * model keeps them. The rule and its ratio were chosen on suite seed 3
 * (weights/benchmarks/candidates/route-arbiter.md). memo gets both readings. */
static int arbiter_keeps_first(mist_model *m, const mist_data_view *v, route_memo *memo,
                               mist_err *err, int *rc)
{
    *rc = MIST_OK;
    memo->have = 0;
    mist_err e = {0};
    double g, bias, gse, k, kse;
    int r = mist_guard_gaussian_copula(v->data, v->n, v->dx, v->dy, &g, &bias, &gse, &e);
    if (r == MIST_ENOMEM) return *rc = mist_fail(err, r, "route: %s", e.msg), 0;
    if (r) return 0;
    double cu = g - bias;
    r = mist_guard_ksg(v->data, v->n, v->dx, v->dy, 5, 0, 1, &k, &kse, &e);
    if (r == MIST_ENOMEM) return *rc = mist_fail(err, r, "route: %s", e.msg), 0;
    if (!r && k > cu + GUARD_Z * gse) return 0;
    mist_model *alt = m->route_alt;
    if ((*rc = set_median(m, v, &memo->first, err))) return 0;
    double second;
    if (alt->arch.quantile_conditioned) {
        *rc = model_estimate_noroute(alt, v, 1, ARBITER_TAUS, 3, memo->second, err);
        second = middle_of_three(memo->second);
    } else {
        *rc = set_median(alt, v, &memo->second[1], err);
        second = memo->second[1];
    }
    if (*rc) return 0;
    memo->have = 1;
    return fabs(memo->first - cu) < m->route_arbiter * fabs(second - cu);
}

/* ARBITER's answer: m's median, and the interval of the second model, which is calibrated on
 * the data kappa sends it (rotated and flowed columns) where m's is not (see ARBITER above),
 * each quantile moved out to the median where it lies on the wrong side of it. */
int route_arbiter_answer(mist_model *m, const mist_data_view *v, const double *taus,
                         size_t ntaus, const route_memo *memo, double *out, mist_err *err)
{
    double med;
    int rc = MIST_OK, have = memo && memo->have;
    if (have)
        med = memo->first;
    else if ((rc = set_median(m, v, &med, err)))
        return rc;
    if (!ntaus) {
        out[0] = med;
        return MIST_OK;
    }
    if (have && route_memo_levels(taus, ntaus))
        memcpy(out, memo->second, sizeof memo->second);
    else if ((rc = model_estimate_noroute(m->route_alt, v, 1, taus, ntaus, out, err)))
        return rc;
    for (size_t i = 0; i < ntaus; i++)
        out[i] = taus[i] < 0.5 ? fmin(out[i], med) : taus[i] > 0.5 ? fmax(out[i], med) : med;
    return MIST_OK;
}

mist_model *route_pick_checked(mist_model *m, const double *data, size_t n, int dx, int dy,
                               double *kappa, int *reason, route_memo *memo, mist_err *err)
{
    route_memo local;
    if (!memo) memo = &local;
    memo->have = 0;
    if (kappa) *kappa = NAN;
    if (reason) *reason = MIST_ROUTE_NONE;
    if (!m->route_alt) return m;
    mist_data_view v = {data, n, dx, dy};
    double k;
    if (mist_route_kappa(data, n, dx, dy, &k, err)) return NULL;
    if (kappa) *kappa = k;
    if (!alt_takes(m->route_alt, &v)) return m;
    int ties = has_ties(data, n, (size_t)(dx + dy));
    if (ties < 0) {
        mist_fail(err, MIST_ENOMEM, "route: out of memory");
        return NULL;
    }
    if (ties) return m; /* see the header: tied values stay with the first model */
    /* kappa decides only inside the primary's trained n (where the threshold was chosen); above
     * it the pairs model's error grows with n on bmi40 (routing.md) */
    int why = k < m->route_kappa_min && (int64_t)n <= m->arch.n_max ? MIST_ROUTE_KAPPA
                                                                     : MIST_ROUTE_NONE;
    if (!why) {
        int rc, high = beyond_trained_mi(m, data, n, dx, dy, err, &rc);
        if (rc) return NULL;
        if (high) why = MIST_ROUTE_MI_RANGE;
    } else if (m->route_arbiter > 0.0) {
        int rc, keep = arbiter_keeps_first(m, &v, memo, err, &rc);
        if (rc) return NULL;
        if (keep) {
            if (reason) *reason = MIST_ROUTE_ARBITER;
            return m;
        }
    }
    if (reason) *reason = why;
    return why ? m->route_alt : m;
}

mist_model *mist_model_route_pick(mist_model *m, const double *data, size_t n, int dx, int dy,
                                  double *kappa, int *reason, mist_err *err)
{
    if (kappa) *kappa = NAN;
    if (reason) *reason = MIST_ROUTE_NONE;
    if (!m) {
        mist_fail(err, MIST_EINVAL, "route: model is NULL");
        return NULL;
    }
    /* the checks mist_model_estimate makes first, so that bad data get its messages */
    mist_data_view v = {data, n, dx, dy};
    if (model_check_set(&m->arch, &v, "", err)) return NULL;
    return route_pick_checked(m, data, n, dx, dy, kappa, reason, NULL, err);
}

int route_estimate_batch(mist_model *m, const mist_data_view *sets, size_t nsets,
                         const double *taus, size_t ntaus, double *out, mist_err *err)
{
    size_t nt = ntaus ? ntaus : 1, np = 0;
    mist_data_view *v = malloc(nsets * sizeof *v);
    size_t *at = malloc(nsets * sizeof *at);
    unsigned char *to_alt = malloc(nsets);
    double *res = malloc(nsets * nt * sizeof *res);
    route_memo *memo = malloc(nsets * sizeof *memo);
    int rc = MIST_OK;
    if (!v || !at || !to_alt || !res || !memo) {
        rc = mist_fail(err, MIST_ENOMEM, "route: out of memory");
        goto done;
    }
    for (size_t s = 0; s < nsets; s++) {
        mist_err e = {0};
        int why;
        /* the sets passed m's checks in mist_model_estimate_batch */
        mist_model *pick = route_pick_checked(m, sets[s].data, sets[s].n, sets[s].dx, sets[s].dy,
                                              NULL, &why, &memo[s], &e);
        if (!pick) {
            rc = mist_fail(err, e.code, "%s", e.msg);
            goto done;
        }
        /* 2: kept by the arbiter, answered below one by one */
        to_alt[s] = why == MIST_ROUTE_ARBITER ? 2 : pick != m;
        np += !to_alt[s];
    }
    /* v: the primary's sets, then the second model's, each in input order */
    size_t na = 0;
    for (size_t s = 0, i = 0, j = np; s < nsets; s++) {
        if (to_alt[s] == 2) continue;
        size_t slot = to_alt[s] ? j++ : i++;
        v[slot] = sets[s];
        at[slot] = s;
        na += to_alt[s];
    }
    if (np) rc = model_estimate_noroute(m, v, np, taus, ntaus, res, err);
    if (!rc && na)
        rc = mist_model_estimate_batch(m->route_alt, v + np, na, taus, ntaus, res + np * nt, err);
    for (size_t i = 0; i < np + na && !rc; i++)
        memcpy(out + at[i] * nt, res + i * nt, nt * sizeof *out);
    for (size_t s = 0; s < nsets && !rc; s++)
        if (to_alt[s] == 2)
            rc = route_arbiter_answer(m, &sets[s], taus, ntaus, &memo[s], out + s * nt, err);
done:
    free(v);
    free(at);
    free(to_alt);
    free(res);
    free(memo);
    return rc;
}

/* The second model's file: next to the primary's (path), else among the shipped models. */
static mist_model *open_companion(const char *path, const char *name, mist_err *err)
{
    char buf[4096];
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (path) {
        int len = slash ? snprintf(buf, sizeof buf, "%.*s/%s", (int)(slash - path), path, name)
                        : snprintf(buf, sizeof buf, "%s", name);
        FILE *f = len > 0 && (size_t)len < sizeof buf ? fopen(buf, "rb") : NULL;
        if (f) {
            fclose(f);
            return mist_model_open_noroute(buf, err);
        }
    }
    mist_err e = {0};
    if (mist_default_model_path(name, buf, sizeof buf, &e)) {
        mist_fail(err, MIST_EIO,
                  "'%s' routes some datasets to '%s' (meta \"%s\"), which is neither next to it "
                  "nor among the shipped models (%s)",
                  path ? path : "(memory)", name, ROUTE_META_KEY, e.msg);
        return NULL;
    }
    return mist_model_open_noroute(buf, err);
}

/* A meta value as text that must be a number within [0, 1]: 1 with it in *v. */
static int unit_number(const char *text, double *v)
{
    return !mist_parse_double(text, v) && *v >= 0.0 && *v <= 1.0;
}

int route_attach(mist_model *m, const char *path, mist_err *err)
{
    char name[256], kap[64];
    const char *who = path ? path : "(memory)";
    int has_name = mist_model_meta_get_str(m, ROUTE_META_KEY, name, sizeof name);
    int has_kap = mist_model_meta_get_str(m, ROUTE_KAPPA_META_KEY, kap, sizeof kap);
    char arb[64];
    int has_arb = mist_model_meta_get_str(m, ROUTE_ARBITER_META_KEY, arb, sizeof arb);
    if (!has_name && !has_kap && !has_arb) return MIST_OK;
    if (has_arb && (!has_name || !has_kap))
        return mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\" needs a route (\"%s\", \"%s\")",
                         who, ROUTE_ARBITER_META_KEY, ROUTE_META_KEY, ROUTE_KAPPA_META_KEY);
    if (!has_name || !has_kap)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': meta \"%s\" and \"%s\" go together (a file name and a threshold "
                         "as text)", who, ROUTE_META_KEY, ROUTE_KAPPA_META_KEY);
    if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\" must be a file name (got '%s')",
                         who, ROUTE_META_KEY, name);
    double k, a = 0.0;
    int bad_k = !unit_number(kap, &k), bad_a = has_arb && !unit_number(arb, &a);
    if (bad_k || bad_a)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': meta \"%s\" must be a number within [0, 1] (got '%s')", who,
                         bad_k ? ROUTE_KAPPA_META_KEY : ROUTE_ARBITER_META_KEY, bad_k ? kap : arb);
    mist_err oe = {0};
    mist_model *alt = open_companion(path, name, &oe);
    if (!alt) return mist_fail(err, oe.code, "%s", oe.msg);
    int has_route = mist_model_meta_get_str(alt, ROUTE_META_KEY, kap, sizeof kap);
    if (has_route) {
        mist_model_free(alt);
        return mist_fail(err, MIST_EFORMAT,
                         "'%s' routes to '%s', which routes again (one level only)", who, name);
    }
    mist_err e = {0};
    int rc = mist_model_set_route(m, alt, k, &e);
    if (rc) {
        mist_model_free(alt);
        return mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\" '%s': %s", who, ROUTE_META_KEY,
                         name, e.msg);
    }
    m->route_arbiter = a;
    return MIST_OK;
}
