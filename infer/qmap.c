/* The quantile recalibration map of a quantile-conditioned model.
 *
 * A network trained with the pinball loss can still be miscalibrated: its tau-quantile may sit
 * below the truth more (or less) often than tau of the time. The map, fitted after training on
 * fresh datasets of the training meta-distribution (train/calibrate.c), says at which level
 * tau' to query the network so that the answer is a calibrated tau-quantile (quantile
 * recalibration, Kuleshov et al. 2018). It is piecewise linear through (0, 0), the stored
 * (level, tau') knots and (1, 1), so it is monotone and maps (0, 1) into (0, 1).
 *
 * It lives in the weights file's meta as "quantile_map": "level:tau',level:tau',..." so that
 * the tensor table stays the architecture's alone and older readers ignore it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"

#define QMAP_MAX 999

static int qmap_check(const double *levels, const double *taus, size_t k, mist_err *err)
{
    if (k > QMAP_MAX)
        return mist_fail(err, MIST_EINVAL, "a quantile map holds at most %d knots (got %zu)",
                         QMAP_MAX, k);
    for (size_t i = 0; i < k; i++) {
        if (!(levels[i] > 0 && levels[i] < 1) || !(taus[i] > 0 && taus[i] < 1))
            return mist_fail(err, MIST_EINVAL,
                             "quantile map knot %zu (%g -> %g) is outside (0, 1)", i + 1,
                             levels[i], taus[i]);
        if (i && !(levels[i] > levels[i - 1]))
            return mist_fail(err, MIST_EINVAL,
                             "quantile map levels must increase (knot %zu: %g after %g)", i + 1,
                             levels[i], levels[i - 1]);
        if (i && taus[i] < taus[i - 1])
            return mist_fail(err, MIST_EINVAL,
                             "quantile map network levels must not decrease (knot %zu: %g after "
                             "%g)",
                             i + 1, taus[i], taus[i - 1]);
    }
    return MIST_OK;
}

static int qmap_store(mist_model *m, const double *levels, const double *taus, size_t k,
                      mist_err *err)
{
    double *l = NULL, *t = NULL;
    if (k) {
        l = malloc(k * sizeof *l);
        t = malloc(k * sizeof *t);
        if (!l || !t) {
            free(l);
            free(t);
            return mist_fail(err, MIST_ENOMEM, "out of memory");
        }
        memcpy(l, levels, k * sizeof *l);
        memcpy(t, taus, k * sizeof *t);
    }
    free(m->qmap_level);
    free(m->qmap_tau);
    m->qmap_level = l;
    m->qmap_tau = t;
    m->qmap_k = k;
    return MIST_OK;
}

int mist_model_set_quantile_map(mist_model *m, const double *levels, const double *taus,
                                size_t k, mist_err *err)
{
    if (!m) return mist_fail(err, MIST_EINVAL, "model is NULL");
    if (k && !m->arch.quantile_conditioned)
        return mist_fail(err, MIST_EINVAL,
                         "a quantile map applies to quantile-conditioned models only");
    if (k && (!levels || !taus)) return mist_fail(err, MIST_EINVAL, "levels or taus is NULL");
    int rc = qmap_check(levels, taus, k, err);
    if (rc) return rc;
    /* "%.17g" round-trips a double exactly, so a saved and reopened map is the same map */
    size_t cap = k * 52 + 1;
    char *s = malloc(cap), *p = s;
    if (!s) return mist_fail(err, MIST_ENOMEM, "out of memory");
    *p = '\0';
    for (size_t i = 0; i < k; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s%.17g:%.17g", i ? "," : "", levels[i], taus[i]);
    rc = mist_model_meta_set_str(m, QMAP_META_KEY, s, err);
    free(s);
    if (rc) return rc;
    /* one recalibration at a time: setting this one removes the residual one */
    if (k && m->qres_k && (rc = mist_model_set_quantile_resid(m, NULL, err)))
        return rc;
    return qmap_store(m, levels, taus, k, err);
}

size_t mist_model_quantile_map(const mist_model *m, const double **levels, const double **taus)
{
    if (levels) *levels = m->qmap_level;
    if (taus) *taus = m->qmap_tau;
    return m->qmap_k;
}

int qmap_parse(mist_model *m, const char *name, const char *s, size_t len, mist_err *err)
{
    if (len == 0) return qmap_store(m, NULL, NULL, 0, err); /* an explicit "no map" */
    char *buf = malloc(len + 1);
    double *l = malloc(QMAP_MAX * sizeof *l), *t = malloc(QMAP_MAX * sizeof *t);
    int rc = MIST_OK;
    if (!buf || !l || !t) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    size_t k = 0;
    const char *p = buf;
    for (;;) {
        char *end;
        errno = 0;
        double a = strtod(p, &end);
        if (end == p || *end != ':' || errno) break;
        p = end + 1;
        double b = strtod(p, &end);
        if (end == p || errno || (*end != ',' && *end != '\0')) break;
        if (k == QMAP_MAX) {
            k = QMAP_MAX + 1;
            break;
        }
        l[k] = a, t[k] = b, k++;
        p = end;
        if (*p == '\0') {
            p = NULL;
            break;
        }
        p++;
    }
    if (p != NULL || k > QMAP_MAX) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s': meta \"%s\" is malformed (want \"level:tau,level:tau,...\", at most "
                       "%d knots)",
                       name, QMAP_META_KEY, QMAP_MAX);
        goto done;
    }
    if (!m->arch.quantile_conditioned) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s': meta \"%s\" is set but the model is not quantile-conditioned", name,
                       QMAP_META_KEY);
        goto done;
    }
    mist_err e2;
    if (qmap_check(l, t, k, &e2)) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\": %s", name, QMAP_META_KEY, e2.msg);
        goto done;
    }
    rc = qmap_store(m, l, t, k, err);
done:
    free(buf);
    free(l);
    free(t);
    return rc;
}

double qmap_apply(const mist_model *m, double tau)
{
    size_t k = m->qmap_k;
    if (!k) return tau;
    const double *L = m->qmap_level, *T = m->qmap_tau;
    double l0 = 0, t0 = 0, l1 = 1, t1 = 1;
    size_t i = 0;
    while (i < k && L[i] < tau) i++; /* L[i-1] < tau <= L[i] */
    if (i > 0) l0 = L[i - 1], t0 = T[i - 1];
    if (i < k) l1 = L[i], t1 = T[i];
    double r = t0 + (t1 - t0) * (tau - l0) / (l1 - l0);
    /* keep inside (0, 1) whatever the rounding */
    if (!(r > 0)) r = tau * 1e-3;
    if (!(r < 1)) r = 1 - (1 - tau) * 1e-3;
    return r;
}

/* ---- residual recalibration ----------------------------------------------------------------
 * When the network's quantiles are too narrow for any level to reach a coverage (the tau map
 * saturates), the quantiles are rebuilt from its location and spread instead: the tau-quantile
 * is m + s R_g(tau), m the network median, s its q_hi - q_lo spread, R_g the empirical quantile
 * function of (MI - m) / s on calibration data of the dataset's n-group g (normalized conformal
 * calibration, one table per group of sample sizes: small samples need wider intervals than the
 * network gives them, large ones narrower).
 *
 * Meta "quantile_resid": "lo:hi|B1,...,B(G-1)|l1,...,lk|v(1,1),...,v(1,k)|...|v(G,1),...",
 * group g holding n <= B_g (the last group the rest). */

#define QRES_MAX_GROUPS 64
#define QRES_MAX_ABS 1e6

static int qres_check(const mist_qresid *r, mist_err *err)
{
    if (!(r->lo > 0 && r->lo < 0.5 && r->hi > 0.5 && r->hi < 1))
        return mist_fail(err, MIST_EINVAL,
                         "residual calibration spread levels must satisfy 0 < lo < 0.5 < hi < 1 "
                         "(got %g, %g)",
                         r->lo, r->hi);
    if (r->ngroups < 1 || r->ngroups > QRES_MAX_GROUPS)
        return mist_fail(err, MIST_EINVAL, "residual calibration needs 1..%d n-groups (got %zu)",
                         QRES_MAX_GROUPS, r->ngroups);
    if (r->k < 2 || r->k > QMAP_MAX)
        return mist_fail(err, MIST_EINVAL, "residual calibration needs 2..%d knots (got %zu)",
                         QMAP_MAX, r->k);
    for (size_t g = 0; g + 1 < r->ngroups; g++)
        if (r->n_upper[g] < 1 || (g && r->n_upper[g] <= r->n_upper[g - 1]))
            return mist_fail(err, MIST_EINVAL, "n-group bounds must increase from 1 (bound %zu: %lld)",
                             g + 1, (long long)r->n_upper[g]);
    for (size_t i = 0; i < r->k; i++) {
        if (!(r->levels[i] > 0 && r->levels[i] < 1))
            return mist_fail(err, MIST_EINVAL, "residual knot level %zu (%g) is outside (0, 1)",
                             i + 1, r->levels[i]);
        if (i && !(r->levels[i] > r->levels[i - 1]))
            return mist_fail(err, MIST_EINVAL,
                             "residual knot levels must increase (knot %zu: %g after %g)", i + 1,
                             r->levels[i], r->levels[i - 1]);
    }
    for (size_t g = 0; g < r->ngroups; g++)
        for (size_t i = 0; i < r->k; i++) {
            double v = r->values[g * r->k + i];
            /* residuals are in units of the spread: beyond 1e6 spreads is no calibration */
            if (!(fabs(v) <= QRES_MAX_ABS))
                return mist_fail(err, MIST_EINVAL,
                                 "residual value (group %zu, knot %zu) is %g: not finite or beyond "
                                 "+-%g",
                                 g + 1, i + 1, v, QRES_MAX_ABS);
            if (i && v < r->values[g * r->k + i - 1])
                return mist_fail(err, MIST_EINVAL,
                                 "residual values must not decrease (group %zu, knot %zu)", g + 1,
                                 i + 1);
        }
    return MIST_OK;
}

static int qres_store(mist_model *m, const mist_qresid *r, mist_err *err)
{
    int64_t *b = NULL;
    double *l = NULL, *v = NULL;
    size_t G = r ? r->ngroups : 0, k = r ? r->k : 0;
    if (k) {
        b = malloc((G ? G : 1) * sizeof *b);
        l = malloc(k * sizeof *l);
        v = malloc(G * k * sizeof *v);
        if (!b || !l || !v) {
            free(b);
            free(l);
            free(v);
            return mist_fail(err, MIST_ENOMEM, "out of memory");
        }
        if (G > 1) memcpy(b, r->n_upper, (G - 1) * sizeof *b);
        memcpy(l, r->levels, k * sizeof *l);
        memcpy(v, r->values, G * k * sizeof *v);
    }
    free(m->qres_bound);
    free(m->qres_level);
    free(m->qres_value);
    m->qres_bound = b;
    m->qres_level = l;
    m->qres_value = v;
    m->qres_k = k;
    m->qres_groups = k ? G : 0;
    m->qres_lo = k ? r->lo : 0;
    m->qres_hi = k ? r->hi : 0;
    return MIST_OK;
}

int mist_model_set_quantile_resid(mist_model *m, const mist_qresid *r, mist_err *err)
{
    if (!m) return mist_fail(err, MIST_EINVAL, "model is NULL");
    int on = r && r->k;
    if (on && !m->arch.quantile_conditioned)
        return mist_fail(err, MIST_EINVAL,
                         "residual calibration applies to quantile-conditioned models only");
    if (on && (!r->levels || !r->values || (r->ngroups > 1 && !r->n_upper)))
        return mist_fail(err, MIST_EINVAL, "residual calibration arrays are NULL");
    int rc = on ? qres_check(r, err) : MIST_OK;
    if (rc) return rc;
    size_t cap = on ? (r->ngroups * r->k + r->k + r->ngroups) * 26 + 64 : 1;
    char *s = malloc(cap), *p = s;
    if (!s) return mist_fail(err, MIST_ENOMEM, "out of memory");
    *p = '\0';
    if (on) {
        p += snprintf(p, cap, "%.17g:%.17g|", r->lo, r->hi);
        for (size_t g = 0; g + 1 < r->ngroups; g++)
            p += snprintf(p, cap - (size_t)(p - s), "%s%lld", g ? "," : "", (long long)r->n_upper[g]);
        for (size_t i = 0; i < r->k; i++)
            p += snprintf(p, cap - (size_t)(p - s), "%c%.17g", i ? ',' : '|', r->levels[i]);
        for (size_t g = 0; g < r->ngroups; g++)
            for (size_t i = 0; i < r->k; i++)
                p += snprintf(p, cap - (size_t)(p - s), "%c%.17g", i ? ',' : '|',
                              r->values[g * r->k + i]);
    }
    rc = mist_model_meta_set_str(m, QRES_META_KEY, s, err);
    free(s);
    /* one recalibration at a time: setting this one removes the level map */
    if (!rc && on && m->qmap_k) rc = mist_model_set_quantile_map(m, NULL, NULL, 0, err);
    if (!rc) rc = qres_store(m, on ? r : NULL, err);
    return rc;
}

int mist_model_quantile_resid(const mist_model *m, mist_qresid *out)
{
    if (out) {
        memset(out, 0, sizeof *out);
        out->lo = m->qres_lo;
        out->hi = m->qres_hi;
        out->ngroups = m->qres_groups;
        out->n_upper = m->qres_bound;
        out->k = m->qres_k;
        out->levels = m->qres_level;
        out->values = m->qres_value;
    }
    return m->qres_k ? 1 : 0;
}

/* "a,b,c" (up to the next '|' or the end) into out; returns the count, or -1 on a bad number. */
static long parse_list(const char **pp, double *out, size_t max)
{
    const char *p = *pp;
    long n = 0;
    if (*p == '|' || *p == '\0') return 0;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || (size_t)n >= max || (*end != ',' && *end != '|' && *end != '\0'))
            return -1;
        out[n++] = v;
        p = end;
        if (*p != ',') break;
        p++;
    }
    *pp = p;
    return n;
}

int qres_parse(mist_model *m, const char *name, const char *s, size_t len, mist_err *err)
{
    if (len == 0) return qres_store(m, NULL, err);
    int rc = MIST_OK, ok = 0;
    char *buf = malloc(len + 1);
    size_t cap = QMAP_MAX * QRES_MAX_GROUPS;
    double *l = malloc(QMAP_MAX * sizeof *l), *v = malloc(cap * sizeof *v), hl[2], bd[QRES_MAX_GROUPS];
    int64_t bounds[QRES_MAX_GROUPS];
    mist_qresid r = {0};
    if (!buf || !l || !v) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *p = buf;
    /* lo:hi */
    char *end;
    errno = 0;
    hl[0] = strtod(p, &end);
    if (end == p || *end != ':') goto bad;
    p = end + 1;
    hl[1] = strtod(p, &end);
    if (end == p || *end != '|' || errno) goto bad;
    p = end + 1;
    long nb = parse_list(&p, bd, QRES_MAX_GROUPS - 1);
    if (nb < 0 || *p != '|') goto bad;
    for (long g = 0; g < nb; g++) {
        if (!(bd[g] >= 1 && bd[g] <= 1e15) || bd[g] != floor(bd[g])) goto bad;
        bounds[g] = (int64_t)bd[g];
    }
    p++;
    long k = parse_list(&p, l, QMAP_MAX);
    if (k < 2) goto bad;
    size_t G = (size_t)nb + 1;
    for (size_t g = 0; g < G; g++) {
        if (*p != '|') goto bad;
        p++;
        if (parse_list(&p, v + g * (size_t)k, (size_t)k) != k) goto bad;
    }
    if (*p != '\0') goto bad;
    ok = 1;
    r = (mist_qresid){hl[0], hl[1], G, bounds, (size_t)k, l, v};
bad:
    if (!ok) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s': meta \"%s\" is malformed (want \"lo:hi|bounds|levels|values|...\")",
                       name, QRES_META_KEY);
        goto done;
    }
    if (!m->arch.quantile_conditioned) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s': meta \"%s\" is set but the model is not quantile-conditioned", name,
                       QRES_META_KEY);
        goto done;
    }
    mist_err e2;
    if (qres_check(&r, &e2)) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\": %s", name, QRES_META_KEY, e2.msg);
        goto done;
    }
    rc = qres_store(m, &r, err);
done:
    free(buf);
    free(l);
    free(v);
    return rc;
}

/* R_g(tau): linear between knots, constant beyond the outermost ones. */
static double qres_R(const mist_model *m, size_t g, double tau)
{
    const double *L = m->qres_level, *V = m->qres_value + g * m->qres_k;
    size_t k = m->qres_k;
    if (tau <= L[0]) return V[0];
    if (tau >= L[k - 1]) return V[k - 1];
    size_t i = 1;
    while (L[i] < tau) i++;
    return V[i - 1] + (V[i] - V[i - 1]) * (tau - L[i - 1]) / (L[i] - L[i - 1]);
}

void qres_apply(const mist_model *m, const double *net3, size_t n, const double *taus,
                size_t ntaus, double *out)
{
    double a = net3[0], b = net3[1], c = net3[2], t;
    /* the three network quantiles in order, whatever the network did */
    if (a > b) t = a, a = b, b = t;
    if (b > c) t = b, b = c, c = t;
    if (a > b) t = a, a = b, b = t;
    double s = c - a;
    if (!(s >= MIST_QRESID_MIN_SPREAD)) s = MIST_QRESID_MIN_SPREAD;
    size_t g = 0;
    while (g + 1 < m->qres_groups && (int64_t)n > m->qres_bound[g]) g++;
    if (!ntaus) {
        out[0] = b + s * qres_R(m, g, 0.5);
        return;
    }
    for (size_t i = 0; i < ntaus; i++) out[i] = b + s * qres_R(m, g, taus[i]);
}
