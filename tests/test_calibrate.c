/* Quantile recalibration: the map's storage (save -> strict load, bit for bit), its effect
 * (the estimate at tau equals the raw network at the interpolated level, recomputed here), its
 * validation (bad knots, malformed meta, a point model), the inverse of a closed-form coverage
 * curve, and the coverage count against a recount over the same datasets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_infer.h"
#include "mist_train.h"
#include "testutil.h"

static mist_model *tiny_model(int qc, uint64_t seed)
{
    mist_arch a;
    mist_err err;
    ck_assert_int_eq(mist_arch_preset("tiny", &a, &err), 0);
    a.quantile_conditioned = qc;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

static mist_model *reopen(const mist_model *m, const char *tag)
{
    char path[600];
    snprintf(path, sizeof path, "%s/m.msgpack", tu_tmpdir(tag));
    mist_err err;
    ck_assert_msg(mist_model_save(m, path, &err) == MIST_OK, "%s", err.msg);
    mist_model *r = mist_model_open(path, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    return r;
}

/* The test's own reading of the map: linear through (0,0), the knots, (1,1). */
static double interp(const double *L, const double *T, size_t k, double t)
{
    double xs[16], ys[16];
    size_t np = 0;
    xs[np] = 0, ys[np++] = 0;
    for (size_t i = 0; i < k; i++) xs[np] = L[i], ys[np++] = T[i];
    xs[np] = 1, ys[np++] = 1;
    for (size_t i = 1; i < np; i++)
        if (t <= xs[i]) return ys[i - 1] + (ys[i] - ys[i - 1]) * (t - xs[i - 1]) / (xs[i] - xs[i - 1]);
    return 1;
}

static double data[200 * 4];

static void fill_data(void)
{
    uint64_t s = 12345;
    for (size_t i = 0; i < 200 * 4; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) * 0x1.0p-53;
        data[i] = u + (i % 4 >= 2 ? 0.7 * data[i - 2] : 0);
    }
}

START_TEST(test_map_round_trip_and_effect)
{
    fill_data();
    mist_model *m = tiny_model(1, 3);
    static const double L[4] = {0.05, 0.3, 0.5, 0.95}, T[4] = {0.1, 0.35, 0.62, 0.99};
    mist_err err;
    ck_assert_int_eq(mist_model_set_quantile_map(m, L, T, 4, &err), 0);
    mist_model *r = reopen(m, "qmap-rt");
    const double *l2, *t2;
    ck_assert_uint_eq(mist_model_quantile_map(r, &l2, &t2), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert(l2[i] == L[i]);
        ck_assert(t2[i] == T[i]);
    }
    /* mapped estimate == raw network at the interpolated level (same model, raw mode) */
    static const double taus[6] = {0.01, 0.05, 0.2, 0.5, 0.9, 0.99};
    for (int i = 0; i < 6; i++) {
        double q, want, lvl = interp(L, T, 4, taus[i]);
        mist_model_set_raw_quantiles(r, 0);
        ck_assert_int_eq(mist_model_estimate(r, data, 200, 2, 2, &taus[i], 1, &q, &err), 0);
        mist_model_set_raw_quantiles(r, 1);
        ck_assert_int_eq(mist_model_estimate(r, data, 200, 2, 2, &lvl, 1, &want, &err), 0);
        ck_assert_msg(q == want, "tau %g: %.17g vs %.17g", taus[i], q, want);
    }
    /* the default median of a QR model is the mapped 0.5 level as well */
    double med, want, lvl = interp(L, T, 4, 0.5);
    mist_model_set_raw_quantiles(r, 0);
    ck_assert_int_eq(mist_model_estimate(r, data, 200, 2, 2, NULL, 0, &med, &err), 0);
    mist_model_set_raw_quantiles(r, 1);
    ck_assert_int_eq(mist_model_estimate(r, data, 200, 2, 2, &lvl, 1, &want, &err), 0);
    ck_assert(med == want);
    /* k = 0 removes the map, and the removal survives a save */
    ck_assert_int_eq(mist_model_set_quantile_map(r, NULL, NULL, 0, &err), 0);
    mist_model *r2 = reopen(r, "qmap-rt2");
    ck_assert_uint_eq(mist_model_quantile_map(r2, NULL, NULL), 0);
    mist_model_free(r2);
    mist_model_free(r);
    mist_model_free(m);
}
END_TEST

static void expect_open_fails(mist_model *m, const char *needle)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.msgpack", tu_tmpdir("qmap-bad"));
    mist_err err;
    ck_assert_msg(mist_model_save(m, path, &err) == MIST_OK, "%s", err.msg);
    mist_model *r = mist_model_open(path, &err);
    ck_assert_msg(r == NULL, "opened a file that should fail with '%s'", needle);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

START_TEST(test_map_rejects)
{
    mist_err err;
    mist_model *m = tiny_model(1, 4), *p = tiny_model(0, 4);
    static const double up[2] = {0.2, 0.6}, down[2] = {0.6, 0.2}, out[2] = {0.2, 1.2};
    ck_assert_int_ne(mist_model_set_quantile_map(m, down, up, 2, &err), 0);
    ck_assert(strstr(err.msg, "increase") != NULL);
    ck_assert_int_ne(mist_model_set_quantile_map(m, up, down, 2, &err), 0);
    ck_assert_int_ne(mist_model_set_quantile_map(m, up, out, 2, &err), 0);
    ck_assert(strstr(err.msg, "outside (0, 1)") != NULL);
    ck_assert_int_ne(mist_model_set_quantile_map(p, up, up, 2, &err), 0);
    ck_assert(strstr(err.msg, "quantile-conditioned") != NULL);
    ck_assert_uint_eq(mist_model_quantile_map(m, NULL, NULL), 0); /* failures change nothing */
    static const char *bad[] = {"garbage", "0.5:0.6,", "0.5:0.6,0.4:0.3", "0.5:1.5",
                                "0.5-0.6", "0.5:0.6 0.7:0.8", "nan:0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(mist_model_meta_set_str(m, "quantile_map", bad[i], &err), 0);
        expect_open_fails(m, "quantile_map");
    }
    ck_assert_int_eq(mist_model_meta_set_num(m, "quantile_map", 0.5, &err), 0);
    expect_open_fails(m, "not a string");
    ck_assert_int_eq(mist_model_meta_set_str(p, "quantile_map", "0.5:0.6", &err), 0);
    expect_open_fails(p, "not quantile-conditioned");
    mist_model_free(m);
    mist_model_free(p);
}
END_TEST

START_TEST(test_map_fit_closed_form)
{
    enum { G = 199, K = 101 };
    double grid[G], cover[G], targets[K], taus[K];
    for (int j = 0; j < G; j++) grid[j] = 0.005 * (j + 1);
    for (int j = 0; j < K; j++) targets[j] = (j + 0.5) / K;
    mist_err err;
    /* coverage tau^2: the calibrated level for t is sqrt(t) */
    for (int j = 0; j < G; j++) cover[j] = grid[j] * grid[j];
    ck_assert_int_eq(mist_quantile_map_fit(grid, cover, G, targets, K, taus, &err), 0);
    for (int j = 0; j < K; j++)
        ck_assert_msg(fabs(taus[j] - sqrt(targets[j])) < 1e-3, "t %g: %g vs %g", targets[j],
                      taus[j], sqrt(targets[j]));
    /* a calibrated network: the identity */
    for (int j = 0; j < G; j++) cover[j] = grid[j];
    ck_assert_int_eq(mist_quantile_map_fit(grid, cover, G, targets, K, taus, &err), 0);
    for (int j = 0; j < K; j++) ck_assert(fabs(taus[j] - targets[j]) < 1e-12);
    /* a flat, noisy curve still gives a non-decreasing map inside (0, 1) */
    for (int j = 0; j < G; j++) cover[j] = 0.3 + (j % 3 == 0 ? 0.01 : 0);
    ck_assert_int_eq(mist_quantile_map_fit(grid, cover, G, targets, K, taus, &err), 0);
    for (int j = 0; j < K; j++) {
        ck_assert(taus[j] > 0 && taus[j] < 1);
        if (j) ck_assert(taus[j] >= taus[j - 1]);
        if (targets[j] < 0.3) ck_assert(taus[j] <= 0.005);
        if (targets[j] > 0.31) ck_assert(taus[j] >= 0.995);
    }
    static const double backwards[2] = {0.6, 0.2};
    ck_assert_int_ne(mist_quantile_map_fit(grid, cover, G, backwards, 2, taus, &err), 0);
    cover[5] = 1.5;
    ck_assert_int_ne(mist_quantile_map_fit(grid, cover, G, targets, K, taus, &err), 0);
}
END_TEST

START_TEST(test_coverage_recount)
{
    mist_model *m = tiny_model(1, 5);
    mist_calib_opts o = {"default", 77, 48, 20, 60};
    static const double taus[3] = {0.1, 0.5, 0.9};
    double cover[3];
    mist_err err;
    mist_dataset **cal;
    size_t ncal;
    ck_assert_msg(mist_calib_draw(m, &o, &cal, &ncal, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ncal, 48);
    ck_assert_msg(mist_quantile_coverage(m, cal, ncal, taus, 3, cover, &err) == 0, "%s", err.msg);
    /* recount over the same datasets, drawn on their own: a validation suite of that seed */
    mist_train_config c;
    mist_train_config_default(&c);
    c.arch = *mist_model_arch(m);
    c.val_seed = 77;
    c.val_count = 48;
    c.n_min = 20;
    c.n_max = 60;
    mist_dataset **sets;
    size_t count;
    ck_assert_int_eq(mist_stream_validation(&c, &sets, &count, &err), 0);
    ck_assert_uint_eq(count, 48);
    size_t hits[3] = {0, 0, 0};
    for (size_t s = 0; s < count; s++) {
        double q[3];
        ck_assert_int_eq(mist_model_estimate(m, sets[s]->data, sets[s]->n, sets[s]->dx,
                                             sets[s]->dy, taus, 3, q, &err),
                         0);
        for (int j = 0; j < 3; j++) hits[j] += sets[s]->meta.mi <= q[j];
        mist_dataset_free(sets[s]);
    }
    free(sets);
    for (int j = 0; j < 3; j++) ck_assert(cover[j] == (double)hits[j] / 48.0);
    ck_assert(cover[0] <= cover[1] && cover[1] <= cover[2]);
    mist_model *p = tiny_model(0, 5);
    ck_assert_int_ne(mist_quantile_coverage(p, cal, ncal, taus, 3, cover, &err), 0);
    mist_calib_free(cal, ncal);
    mist_model_free(p);
    mist_model_free(m);
}
END_TEST

START_TEST(test_resid_round_trip_and_effect)
{
    fill_data();
    mist_model *m = tiny_model(1, 6);
    /* two n-groups: n <= 100 and the rest */
    static const int64_t B[1] = {100};
    static const double L[3] = {0.1, 0.5, 0.9}, V[6] = {-1.5, 0.2, 2.5, -0.5, 0.0, 0.75};
    mist_qresid in = {0.25, 0.75, 2, B, 3, L, V}, got;
    mist_err err;
    ck_assert_msg(mist_model_set_quantile_resid(m, &in, &err) == 0, "%s", err.msg);
    mist_model *r = reopen(m, "qres-rt");
    ck_assert_int_eq(mist_model_quantile_resid(r, &got), 1);
    ck_assert(got.lo == 0.25 && got.hi == 0.75 && got.ngroups == 2 && got.k == 3);
    ck_assert(got.n_upper[0] == 100);
    for (int i = 0; i < 3; i++) ck_assert(got.levels[i] == L[i]);
    for (int i = 0; i < 6; i++) ck_assert(got.values[i] == V[i]);
    /* q_tau = m + s R_g(tau) from the raw network's (0.25, 0.5, 0.75) quantiles; 200 rows fall
     * in group 2, the first 60 rows in group 1 */
    static const double net_t[3] = {0.25, 0.5, 0.75}, taus[5] = {0.05, 0.1, 0.3, 0.5, 0.97};
    static const double R1[5] = {-1.5, -1.5, -1.5 + 1.7 * 0.5, 0.2, 2.5},
                        R2[5] = {-0.5, -0.5, -0.25, 0.0, 0.75};
    static const size_t ns[2] = {60, 200};
    for (int g = 0; g < 2; g++) {
        double net[3], q[5];
        mist_model_set_raw_quantiles(r, 1);
        ck_assert_int_eq(mist_model_estimate(r, data, ns[g], 2, 2, net_t, 3, net, &err), 0);
        mist_model_set_raw_quantiles(r, 0);
        ck_assert_int_eq(mist_model_estimate(r, data, ns[g], 2, 2, taus, 5, q, &err), 0);
        double a = fmin(net[0], fmin(net[1], net[2])), c = fmax(net[0], fmax(net[1], net[2]));
        double med = net[0] + net[1] + net[2] - a - c, sp = fmax(c - a, 1e-3);
        const double *R = g ? R2 : R1;
        for (int i = 0; i < 5; i++)
            ck_assert_msg(fabs(q[i] - (med + sp * R[i])) < 1e-12, "n %zu tau %g: %.17g vs %.17g",
                          ns[g], taus[i], q[i], med + sp * R[i]);
        double point;
        ck_assert_int_eq(mist_model_estimate(r, data, ns[g], 2, 2, NULL, 0, &point, &err), 0);
        ck_assert(fabs(point - (med + sp * R[3])) < 1e-12);
    }
    /* one recalibration at a time, in memory and in files */
    static const double ML[1] = {0.5}, MT[1] = {0.6};
    ck_assert_int_eq(mist_model_set_quantile_map(r, ML, MT, 1, &err), 0);
    ck_assert_int_eq(mist_model_quantile_resid(r, NULL), 0);
    ck_assert_int_eq(mist_model_meta_set_str(r, "quantile_resid", "0.25:0.75||0.1,0.9|-1,1", &err), 0);
    expect_open_fails(r, "one recalibration at a time");
    ck_assert_int_eq(mist_model_set_quantile_map(r, NULL, NULL, 0, &err), 0);
    ck_assert_int_eq(mist_model_meta_set_str(r, "quantile_resid", "0.25:0.75||0.1,0.9|-1,1", &err), 0);
    mist_model *ok = reopen(r, "qres-ok");
    ck_assert_int_eq(mist_model_quantile_resid(ok, &got), 1);
    ck_assert(got.ngroups == 1 && got.k == 2);
    mist_model_free(ok);
    static const char *bad[] = {"0.25:0.75", "0.25:0.75||0.1,0.9|1,-1", "0.6:0.75||0.1,0.9|-1,1",
                                "0.25:0.75||0.1|-1", "x||0.1,0.9|-1,1", "0.25:0.75|50|0.1,0.9|-1,1",
                                "0.25:0.75|50,40|0.1,0.9|-1,1|0,1|0,2", "0.25:0.75||0.1,0.9|-1,1|",
                                "0.25:0.75|50.5|0.1,0.9|-1,1|0,1", "0.25:0.75||0.1,0.9|-1,nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(mist_model_meta_set_str(r, "quantile_resid", bad[i], &err), 0);
        expect_open_fails(r, "quantile_resid");
    }
    /* bad tables through the API */
    static const int64_t B2[2] = {100, 50};
    mist_qresid badg = {0.25, 0.75, 3, B2, 3, L, V};
    ck_assert_int_ne(mist_model_set_quantile_resid(m, &badg, &err), 0);
    ck_assert(strstr(err.msg, "bounds must increase") != NULL);
    mist_model_free(r);
    mist_model_free(m);
}
END_TEST

/* Normalized conformal calibration: fitted on a set, the coverage on that same set is the
 * target up to the order statistics' resolution, whatever the network. */
START_TEST(test_resid_fit_calibrates_its_set)
{
    mist_model *m = tiny_model(1, 8);
    mist_calib_opts o = {"default", 91, 200, 20, 60};
    static const double L[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    double V[5], cover[5];
    mist_err err;
    mist_dataset **sets;
    size_t count;
    ck_assert_msg(mist_calib_draw(m, &o, &sets, &count, &err) == 0, "%s", err.msg);
    ck_assert_msg(mist_quantile_resid_fit(m, sets, count, 0.25, 0.75, L, 5, V, &err) == 0, "%s",
                  err.msg);
    for (int j = 1; j < 5; j++) ck_assert(V[j] >= V[j - 1]);
    mist_qresid qr = {0.25, 0.75, 1, NULL, 5, L, V};
    ck_assert_int_eq(mist_model_set_quantile_resid(m, &qr, &err), 0);
    ck_assert_int_eq(mist_quantile_coverage(m, sets, count, L, 5, cover, &err), 0);
    for (int j = 0; j < 5; j++)
        ck_assert_msg(fabs(cover[j] - L[j]) <= 2.0 / 200 + 1e-12, "level %g: coverage %g", L[j],
                      cover[j]);
    /* fitting over an existing recalibration is refused */
    ck_assert_int_ne(mist_quantile_resid_fit(m, sets, count, 0.25, 0.75, L, 5, V, &err), 0);
    mist_calib_free(sets, count);
    mist_model_free(m);
}
END_TEST

int main(void)
{
    return tu_run_case("calibrate", 0, test_map_round_trip_and_effect, test_map_rejects,
                       test_map_fit_closed_form, test_coverage_recount,
                       test_resid_round_trip_and_effect, test_resid_fit_calibrates_its_set,
                       NULL) ? 1 : 0;
}
