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
                             "quantile map levels must not decrease (knot %zu: %g after %g)",
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
