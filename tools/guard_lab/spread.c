#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mist_gen.h"
#include "mist_guard.h"
static void one(const char *name, int dx, int dy, size_t n, const char *pn, double pv, int R)
{
    mist_err e = {0};
    double sk = 0, skk = 0, sse = 0, sg = 0, sgg = 0, sgse = 0, mi = 0; int m = 0, mg = 0;
    for (int rep = 0; rep < R; rep++) {
        mist_task_spec sp; memset(&sp, 0, sizeof sp);
        snprintf(sp.task, sizeof sp.task, "%s", name); sp.dx = dx; sp.dy = dy; sp.n = n; sp.seed = 777;
        if (pn) mist_task_spec_add_param(&sp, pn, pv, &e);
        mist_task *t; mist_task_create(&t, name, dx, dy, sp.params, sp.nparams, 777, &e);
        int ox = mist_task_out_dx(t), oy = mist_task_out_dy(t);
        double *d = malloc(n * (ox + oy) * sizeof *d);
        mist_task_sample(t, n, 1000 + rep, d, &e);
        mi = mist_task_mi(t);
        double k, kse, g, gb, gse;
        if (!mist_guard_ksg(d, n, ox, oy, 5, rep, 1, &k, &kse, &e)) { sk += k; skk += k * k; sse += kse; m++; }
        if (!mist_guard_gaussian_copula(d, n, ox, oy, &g, &gb, &gse, &e)) { g -= gb; sg += g; sgg += g * g; sgse += gse; mg++; }
        free(d); mist_task_free(t); mist_task_spec_clear(&sp);
    }
    double mk = sk / m, sdk = sqrt(skk / m - mk * mk), mg_ = sg / mg, sdg = sqrt(sgg / mg - mg_ * mg_);
    printf("%-24s %2dx%-2d n=%5zu mi=%.3f | ksg mean %.3f sd %.4f se %.4f ratio %.2f | gc mean %.3f sd %.4f se %.4f ratio %.2f\n",
           name, dx, dy, n, mi, mk, sdk, sse / m, sdk / (sse / m), mg_, sdg, sgse / mg, sdg / (sgse / mg));
    fflush(stdout);
}
int main(void)
{
    size_t ns[4] = {30, 100, 300, 1000};
    for (int a = 0; a < 4; a++) {
        int R = 100;
        one("normal-dense-base", 1, 1, ns[a], "c", 0.0, R);
        one("normal-dense-base", 1, 1, ns[a], "c", 0.6, R);
        one("normal-dense-base", 1, 1, ns[a], "c", 0.95, R);
        one("normal-dense-base", 4, 4, ns[a], "c", 0.2, R);
        one("normal-sparse-base", 8, 8, ns[a], "strength", 1.0, R);
        one("student-dense-base", 3, 3, ns[a], "c", 0.3, R);
        one("additive-base", 2, 2, ns[a], "eps", 0.5, R);
        one("normal-dense-base", 16, 16, ns[a], "c", 0.0, R);
        one("normal-dense-base", 16, 16, ns[a], "c", 0.1, R);
    }
    return 0;
}
