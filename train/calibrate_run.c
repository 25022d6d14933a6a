/* The whole recalibration of a quantile model (what `mist train calibrate` runs): fit the
 * residual tables group by group and the level map on fresh datasets, check both on others,
 * keep the one closer to the diagonal, record how it was fitted in the meta. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mist_train.h"

#define NGRID 199   /* network levels 0.005 .. 0.995 */
#define NTARGET 101 /* 0.005, 0.01 .. 0.99, 0.995 */

static const int64_t default_groups[] = {25, 50, 100, 200, 350};

void mist_calibrate_opts_default(mist_calibrate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = MIST_CALIB_AUTO;
    o->seed = 0x63616cULL;
    o->count = 8192;
}

static double worst(const double *cover, const double *level, int k)
{
    double w = 0;
    for (int j = 0; j < k; j++) w = fmax(w, fabs(cover[j] - level[j]));
    return w;
}

/* The recalibrations being compared. */
typedef struct calib_kind {
    const double *targets, *taus; /* the level map (NTARGET knots) */
    int do_map;
    const mist_qresid *qr;
    int do_res;
} calib_kind;

/* Draws the datasets of o once and measures the coverage at the nl levels lv without
 * recalibration (out[0]), with the level map (out[1]) and with the residual one (out[2]). */
static int measure(mist_model *m, const mist_calib_opts *o, const calib_kind *k,
                   const double *lv, int nl, double *out[3], mist_err *err)
{
    mist_dataset **sets = NULL;
    size_t count = 0;
    int rc = mist_calib_draw(m, o, &sets, &count, err);
    if (!rc) rc = mist_model_set_quantile_map(m, NULL, NULL, 0, err);
    if (!rc) rc = mist_model_set_quantile_resid(m, NULL, err);
    if (!rc) rc = mist_quantile_coverage(m, sets, count, lv, (size_t)nl, out[0], err);
    if (!rc && k->do_map) rc = mist_model_set_quantile_map(m, k->targets, k->taus, NTARGET, err);
    if (!rc && k->do_map) rc = mist_quantile_coverage(m, sets, count, lv, (size_t)nl, out[1], err);
    if (!rc && k->do_res) rc = mist_model_set_quantile_resid(m, k->qr, err);
    if (!rc && k->do_res) rc = mist_quantile_coverage(m, sets, count, lv, (size_t)nl, out[2], err);
    mist_calib_free(sets, count);
    return rc;
}

int mist_calibrate_model(mist_model *m, const mist_calibrate_opts *opts,
                         mist_calibrate_report *r, mist_err *err)
{
    if (!m || !opts || !r)
        return mist_fail(err, MIST_EINVAL, "bad arguments to mist_calibrate_model");
    if (!mist_model_arch(m)->quantile_conditioned)
        return mist_fail(err, MIST_EINVAL, "a point model: only quantile models are calibrated");
    if (opts->method < MIST_CALIB_AUTO || opts->method > MIST_CALIB_RESID)
        return mist_fail(err, MIST_EINVAL, "unknown calibration method %d", opts->method);
    memset(r, 0, sizeof *r);
    /* by default the model's own training distribution and n range: the datasets it will be
     * asked about are those, not another meta-distribution's */
    if (opts->metadist && opts->metadist[0]) {
        if (strlen(opts->metadist) >= sizeof r->metadist)
            return mist_fail(err, MIST_EINVAL, "meta-distribution name too long");
        strcpy(r->metadist, opts->metadist);
    } else if (!mist_model_meta_get_str(m, "metadist", r->metadist, sizeof r->metadist)) {
        strcpy(r->metadist, "default");
    }
    const mist_arch *a = mist_model_arch(m);
    mist_calib_opts o = {r->metadist, opts->seed, opts->count, opts->n_min, opts->n_max};
    if (!o.n_min && !o.n_max) o.n_min = a->n_min, o.n_max = a->n_max;
    if (o.n_min < 2 || o.n_max < o.n_min)
        return mist_fail(err, MIST_EINVAL, "calibration n range %lld..%lld is invalid",
                         (long long)o.n_min, (long long)o.n_max);
    const int64_t *bounds = opts->n_groups ? opts->n_groups : default_groups;
    size_t nb = opts->n_groups ? opts->n_ngroups : sizeof default_groups / sizeof *default_groups;
    if (nb >= MIST_CALIB_MAX_GROUPS)
        return mist_fail(err, MIST_EINVAL, "at most %d n-groups", MIST_CALIB_MAX_GROUPS - 1);
    /* the groups inside the n range: bounds at or beyond its ends are dropped */
    size_t G = 0;
    int64_t gb[MIST_CALIB_MAX_GROUPS];
    for (size_t g = 0; g < nb; g++) {
        if (g && bounds[g] <= bounds[g - 1])
            return mist_fail(err, MIST_EINVAL, "n-group bounds must increase");
        if (bounds[g] >= o.n_min && bounds[g] < o.n_max) gb[G++] = bounds[g];
    }
    G++;
    int do_map = opts->method != MIST_CALIB_RESID, do_res = opts->method != MIST_CALIB_MAP;
    double grid[NGRID], cover[NGRID], targets[NTARGET], taus[NTARGET];
    double resid[MIST_CALIB_MAX_GROUPS * NTARGET];
    for (int j = 0; j < NGRID; j++) grid[j] = (j + 1) / 200.0;
    targets[0] = 0.005, targets[NTARGET - 1] = 0.995;
    for (int j = 1; j < NTARGET - 1; j++) targets[j] = j / 100.0; /* nearest doubles */
    for (int j = 0; j < MIST_CALIB_NCHECK; j++) r->check[j] = (j + 1) / 20.0;
    static const double ends[2] = {0.05, 0.95};
    mist_calib_opts held = o;
    held.seed = o.seed + 1;
    /* the n range of group g */
    mist_calib_opts gfit[MIST_CALIB_MAX_GROUPS], gheld[MIST_CALIB_MAX_GROUPS];
    for (size_t g = 0; g < G; g++) {
        gfit[g] = o;
        gfit[g].n_min = g ? gb[g - 1] + 1 : o.n_min;
        gfit[g].n_max = g + 1 < G ? gb[g] : o.n_max;
        gfit[g].count = o.count / 2 > 16 ? o.count / 2 : 16;
        gfit[g].seed = mist_seed_derive(o.seed, 100 + g);
        gheld[g] = gfit[g];
        gheld[g].count = o.count / 4 > 16 ? o.count / 4 : 16;
        gheld[g].seed = mist_seed_derive(held.seed, 100 + g);
    }
    /* fit on the bare network: the residual tables group by group, then the level map */
    int rc = mist_model_set_quantile_map(m, NULL, NULL, 0, err);
    if (!rc) rc = mist_model_set_quantile_resid(m, NULL, err);
    mist_dataset **sets = NULL;
    size_t count = 0;
    for (size_t g = 0; g < G && !rc && do_res; g++) {
        rc = mist_calib_draw(m, &gfit[g], &sets, &count, err);
        if (!rc) rc = mist_quantile_resid_fit(m, sets, count, 0.25, 0.75, targets, NTARGET,
                                              resid + g * NTARGET, err);
        mist_calib_free(sets, count);
        sets = NULL, count = 0;
    }
    if (!rc && do_map) {
        rc = mist_calib_draw(m, &o, &sets, &count, err);
        if (!rc) rc = mist_quantile_coverage(m, sets, count, grid, NGRID, cover, err);
        mist_calib_free(sets, count);
    }
    if (!rc && do_map) rc = mist_quantile_map_fit(grid, cover, NGRID, targets, NTARGET, taus, err);
    /* held-out checks: each set drawn once, measured without and with each recalibration */
    mist_qresid qr = {0.25, 0.75, G, gb, NTARGET, targets, resid};
    const calib_kind kinds = {targets, taus, do_map, &qr, do_res};
    double *out3[3] = {r->network, r->map, r->resid};
    if (!rc) rc = measure(m, &held, &kinds, r->check, MIST_CALIB_NCHECK, out3, err);
    double gcov[3][MIST_CALIB_MAX_GROUPS][2];
    for (size_t g = 0; g < G && !rc; g++) {
        double *g3[3] = {gcov[0][g], gcov[1][g], gcov[2][g]};
        rc = measure(m, &gheld[g], &kinds, ends, 2, g3, err);
    }
    if (rc) return rc;
    r->worst_network = worst(r->network, r->check, MIST_CALIB_NCHECK);
    r->worst_map = do_map ? worst(r->map, r->check, MIST_CALIB_NCHECK) : NAN;
    r->worst_resid = do_res ? worst(r->resid, r->check, MIST_CALIB_NCHECK) : NAN;
    r->kept_map = do_map && (!do_res || r->worst_map <= r->worst_resid);
    r->n_min = o.n_min, r->n_max = o.n_max;
    r->seed = o.seed, r->held_seed = held.seed;
    r->count = o.count, r->group_count = gheld[0].count;
    r->ngroups = G;
    for (size_t g = 0; g < G; g++) {
        r->group_lo[g] = gfit[g].n_min, r->group_hi[g] = gfit[g].n_max;
        for (int k = 0; k < 3; k++) r->group_cover[k][g] = gcov[k][g][1] - gcov[k][g][0];
    }
    rc = r->kept_map ? mist_model_set_quantile_map(m, targets, taus, NTARGET, err)
                     : mist_model_set_quantile_resid(m, &qr, err);
    char note[320];
    snprintf(note, sizeof note,
             "%s fitted on datasets of %s (seed %llu, n %lld-%lld); largest distance from the "
             "diagonal on %zu others: %.3f (network %.3f)",
             r->kept_map ? "quantile_map" : "quantile_resid", r->metadist,
             (unsigned long long)o.seed, (long long)o.n_min, (long long)o.n_max, o.count,
             r->kept_map ? r->worst_map : r->worst_resid, r->worst_network);
    if (!rc) rc = mist_model_meta_set_str(m, "quantile_calibration", note, err);
    return rc;
}
