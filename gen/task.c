/* Task names, parameter resolution and validation. */
#include "gen_internal.h"

#include "mist_rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_MAX_DIM 1024

static const struct { const char *name; enum gen_base base; } BASES[] = {
    {"normal", BASE_NORMAL}, {"student", BASE_STUDENT}, {"additive", BASE_ADDITIVE}};
static const struct { const char *name; enum gen_structure s; } STRUCTS[] = {
    {"dense", STRUCT_DENSE}, {"sparse", STRUCT_SPARSE}, {"2pair", STRUCT_2PAIR},
    {"lvm", STRUCT_LVM}, {"identity", STRUCT_IDENTITY}};
static const struct { const char *name; enum gen_transform tr; } TRANSFORMS[] = {
    {"base", TR_BASE}, {"normal_cdf", TR_NORMAL_CDF}, {"halfcube", TR_HALFCUBE},
    {"asinh", TR_ASINH}, {"wiggly", TR_WIGGLY}, {"bimodal", TR_BIMODAL},
    {"spiral", TR_SPIRAL}, {"swissroll", TR_SWISSROLL}};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *gen_transform_name(enum gen_transform tr)
{
    for (size_t i = 0; i < COUNT(TRANSFORMS); i++)
        if (TRANSFORMS[i].tr == tr) return TRANSFORMS[i].name;
    return "?";
}

/* ---- structures ------------------------------------------------------------------------ */

void gen_dense_matrix(double *S, int dx, int dy, double c)
{
    int d = dx + dy;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) S[i * d + j] = i == j ? 1.0 : c;
}

void gen_lvm_matrix(double *S, int dx, int dy, int K, double alpha, double beta, double lambda,
                    double eta)
{
    int d = dx + dy;
    double a2 = alpha * alpha, b2 = beta * beta, l2 = lambda * lambda, e2 = eta * eta;
    for (int i = 0; i < d; i++) {
        int iy = i >= dx, ii = iy ? i - dx : i;
        for (int j = 0; j < d; j++) {
            int jy = j >= dx, jj = jy ? j - dx : j;
            double c;
            if (i == j)
                c = a2 + b2 + (ii < K ? l2 : e2) + 1.0; /* own noise has weight 1 */
            else if (iy == jy)
                c = a2 + b2;
            else
                c = a2 + (ii == jj && ii < K ? l2 : 0.0);
            S[i * d + j] = c;
        }
    }
    /* rescale to a correlation matrix */
    double *sd = malloc((size_t)d * sizeof *sd);
    if (!sd) return;
    for (int i = 0; i < d; i++) sd[i] = sqrt(S[i * d + i]);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) S[i * d + j] = i == j ? 1.0 : S[i * d + j] / (sd[i] * sd[j]);
    free(sd);
}

static int resolve_structure(gen_resolver *rs)
{
    mist_task *t = rs->t;
    int dx = t->dx, dy = t->dy, d = dx + dy, m = dx < dy ? dx : dy;
    switch (t->structure) {
    case STRUCT_DENSE: {
        double c0 = (dx == 1 && dy == 1) ? gen_draw_uniform(rs, -0.9, 0.9)
                                         : gen_draw_uniform(rs, 0, 0.5);
        double c = gen_resolve(rs, "c", c0);
        double lo = d > 2 ? -1.0 / (d - 1) : -1.0;
        if (rs->status == MIST_OK && !(isfinite(c) && c > lo && c < 1.0))
            return rs->status = mist_fail(rs->err, MIST_EINVAL,
                                          "%s: dense c=%g breaks positive definiteness at dims "
                                          "%dx%d: need %g < c < 1",
                                          t->name, c, dx, dy, lo);
        gen_dense_matrix(t->S, dx, dy, c);
        break;
    }
    case STRUCT_SPARSE: {
        int K0 = gen_draw_int(rs, 1, m);
        double s0 = gen_draw_uniform(rs, 0.1, 5);
        int K = gen_resolve_int(rs, "K", 0, m, K0);
        double s = gen_resolve(rs, "strength", s0);
        gen_check_range(rs, "strength", s, 0, 1e3, 0, 0);
        gen_lvm_matrix(t->S, dx, dy, K, 0, 0, s, s);
        break;
    }
    case STRUCT_2PAIR: {
        if (m < 2)
            return rs->status = mist_fail(rs->err, MIST_EINVAL,
                                          "%s: 2pair needs dx >= 2 and dy >= 2 (got %dx%d)",
                                          t->name, dx, dy);
        double s = gen_resolve(rs, "strength", gen_draw_uniform(rs, 0.1, 5));
        gen_check_range(rs, "strength", s, 0, 1e3, 0, 0);
        gen_lvm_matrix(t->S, dx, dy, 2, 0, 0, s, s);
        break;
    }
    case STRUCT_LVM: {
        int K0 = gen_draw_int(rs, 1, m);
        double a0 = gen_draw_uniform(rs, 0, 1), l0 = gen_draw_uniform(rs, 0.1, 3);
        double b0 = gen_draw_uniform(rs, 0, 1.5), e0 = gen_draw_uniform(rs, 0.1, 5);
        int K = gen_resolve_int(rs, "K", 0, m, K0);
        double alpha = gen_resolve(rs, "alpha", a0), beta = gen_resolve(rs, "beta", b0);
        double lambda = gen_resolve(rs, "lambda", l0), eta = gen_resolve(rs, "eta", e0);
        gen_check_range(rs, "alpha", alpha, 0, 1e3, 0, 0);
        gen_check_range(rs, "beta", beta, 0, 1e3, 0, 0);
        gen_check_range(rs, "lambda", lambda, 0, 1e3, 0, 0);
        gen_check_range(rs, "eta", eta, 0, 1e3, 0, 0);
        gen_lvm_matrix(t->S, dx, dy, K, alpha, beta, lambda, eta);
        break;
    }
    case STRUCT_IDENTITY:
        gen_dense_matrix(t->S, dx, dy, 0.0);
        break;
    case STRUCT_NONE:
        break;
    }
    return rs->status;
}

/* ---- names --------------------------------------------------------------------------- */

static int parse_transforms(mist_task *t, const char *chain, mist_err *err)
{
    char buf[MIST_TASK_NAME_LEN];
    snprintf(buf, sizeof buf, "%s", chain);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
        size_t k = 0;
        while (k < COUNT(TRANSFORMS) && strcmp(TRANSFORMS[k].name, tok) != 0) k++;
        if (k == COUNT(TRANSFORMS))
            return mist_fail(err, MIST_EINVAL,
                             "unknown transform '%s' (known: base, normal_cdf, halfcube, asinh, "
                             "wiggly, bimodal, spiral, swissroll)",
                             tok);
        if (TRANSFORMS[k].tr == TR_BASE) continue;
        if (t->ntransforms == GEN_MAX_TRANSFORMS)
            return mist_fail(err, MIST_EINVAL, "too many transforms in '%s' (at most %d)", chain,
                             GEN_MAX_TRANSFORMS);
        t->transforms[t->ntransforms++] = TRANSFORMS[k].tr;
    }
    return MIST_OK;
}

static int parse_name(mist_task *t, const char *name, mist_err *err)
{
    if (!name || !*name) return mist_fail(err, MIST_EINVAL, "empty task name");
    if (strlen(name) >= MIST_TASK_NAME_LEN)
        return mist_fail(err, MIST_EINVAL, "task name too long");
    char buf[MIST_TASK_NAME_LEN];
    snprintf(buf, sizeof buf, "%s", name);
    char *parts[4] = {0};
    int np = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "-", &save); tok; tok = strtok_r(NULL, "-", &save)) {
        if (np == 4) break;
        parts[np++] = tok;
    }
    size_t b = 0;
    while (np > 0 && b < COUNT(BASES) && strcmp(BASES[b].name, parts[0]) != 0) b++;
    int family = np > 0 && gen_family_is_base(parts[0]);
    if (np == 0 || (b == COUNT(BASES) && !family))
        return mist_fail(err, MIST_EINVAL,
                         "unknown task '%s': the name starts with a base (normal, student, "
                         "additive, channel, mixture, categorical); see `mist gen --list`",
                         name);
    const char *chain = NULL;
    if (family) {
        if (np < 2 || np > 3)
            return mist_fail(err, MIST_EINVAL,
                             "unknown task '%s': expected %s-STRUCTURE[-TRANSFORM[+...]] with "
                             "STRUCTURE one of: %s",
                             name, parts[0], gen_family_structures(parts[0]));
        t->family = gen_family_find(parts[0], parts[1]);
        if (!t->family)
            return mist_fail(err, MIST_EINVAL,
                             "unknown structure '%s' in task '%s' (%s takes: %s)", parts[1], name,
                             parts[0], gen_family_structures(parts[0]));
        t->base = BASE_FAMILY;
        t->structure = STRUCT_NONE;
        chain = np == 3 ? parts[2] : "base";
    } else if ((t->base = BASES[b].base) == BASE_ADDITIVE) {
        if (np > 2)
            return mist_fail(err, MIST_EINVAL,
                             "unknown task '%s': additive takes no structure (additive-TRANSFORM)",
                             name);
        t->structure = STRUCT_NONE;
        chain = np == 2 ? parts[1] : "base";
    } else {
        if (np < 2 || np > 3)
            return mist_fail(err, MIST_EINVAL,
                             "unknown task '%s': expected BASE-STRUCTURE[-TRANSFORM[+...]]", name);
        size_t s = 0;
        while (s < COUNT(STRUCTS) && strcmp(STRUCTS[s].name, parts[1]) != 0) s++;
        if (s == COUNT(STRUCTS))
            return mist_fail(err, MIST_EINVAL,
                             "unknown structure '%s' in task '%s' (known: dense, sparse, 2pair, "
                             "lvm, identity)",
                             parts[1], name);
        t->structure = STRUCTS[s].s;
        chain = np == 3 ? parts[2] : "base";
    }
    int rc = parse_transforms(t, chain, err);
    if (rc) return rc;

    /* canonical name */
    char canon[MIST_TASK_NAME_LEN];
    size_t len = family ? (size_t)snprintf(canon, sizeof canon, "%s-%s", t->family->base,
                                           t->family->structure)
                        : (size_t)snprintf(canon, sizeof canon, "%s", BASES[b].name);
    if (t->base == BASE_NORMAL || t->base == BASE_STUDENT) {
        for (size_t s = 0; s < COUNT(STRUCTS); s++)
            if (STRUCTS[s].s == t->structure)
                len += (size_t)snprintf(canon + len, sizeof canon - len, "-%s", STRUCTS[s].name);
    }
    if (t->ntransforms == 0) len += (size_t)snprintf(canon + len, sizeof canon - len, "-base");
    for (int i = 0; i < t->ntransforms && len < sizeof canon; i++)
        len += (size_t)snprintf(canon + len, sizeof canon - len, "%s%s", i ? "+" : "-",
                                gen_transform_name(t->transforms[i]));
    if (len >= sizeof canon) return mist_fail(err, MIST_EINVAL, "task name too long");
    memcpy(t->name, canon, len + 1);
    return MIST_OK;
}

static int check_transforms(mist_task *t, mist_err *err)
{
    t->out_dx = t->dx;
    t->out_dy = t->dy;
    int seen_cdf = 0, seen_roll = 0;
    for (int i = 0; i < t->ntransforms; i++) {
        switch (t->transforms[i]) {
        case TR_NORMAL_CDF: seen_cdf = 1; break;
        case TR_SWISSROLL:
            if (t->dx != 1)
                return mist_fail(err, MIST_EINVAL,
                                 "%s: swissroll needs dx = 1 (got %dx%d); the dataset then has dx = 2",
                                 t->name, t->dx, t->dy);
            if (!seen_cdf || seen_roll)
                return mist_fail(err, MIST_EINVAL,
                                 "%s: swissroll must come once, after normal_cdf (it maps (0,1) "
                                 "onto the roll), e.g. normal-dense-normal_cdf+swissroll",
                                 t->name);
            seen_roll = 1;
            t->out_dx = 2;
            break;
        default: break;
        }
    }
    return MIST_OK;
}

/* ---- creation -------------------------------------------------------------------------- */

int mist_task_create(mist_task **out, const char *name, int dx, int dy, const mist_param *params,
                     size_t nparams, uint64_t seed, mist_err *err)
{
    *out = NULL;
    if (nparams && !params) return mist_fail(err, MIST_EINVAL, "no parameters given (%zu)", nparams);
    mist_task *t = calloc(1, sizeof *t);
    unsigned char *used = calloc(nparams ? nparams : 1, 1);
    if (!t || !used) {
        free(t);
        free(used);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    int rc = parse_name(t, name, err);
    if (rc) goto fail;
    if (dx < 1 || dy < 1 || dx > GEN_MAX_DIM || dy > GEN_MAX_DIM) {
        rc = mist_fail(err, MIST_EINVAL, "%s: dims %dx%d out of range (1..%d each)", t->name, dx,
                       dy, GEN_MAX_DIM);
        goto fail;
    }
    t->dx = dx;
    t->dy = dy;
    if (t->base == BASE_ADDITIVE && dx != dy) {
        rc = mist_fail(err, MIST_EINVAL, "%s: additive noise needs dx = dy (got %dx%d)", t->name,
                       dx, dy);
        goto fail;
    }
    if (t->base == BASE_STUDENT && t->structure == STRUCT_NONE) {
        rc = mist_fail(err, MIST_EINVAL, "%s: student needs a structure", t->name);
        goto fail;
    }
    if ((rc = check_transforms(t, err))) goto fail;

    gen_resolver rs = {.given = params, .ngiven = nparams, .used = used, .t = t, .err = err,
                   .status = MIST_OK};
    rs.rng = mist_rng_alloc(mist_seed_derive(seed, 1));
    if (!rs.rng) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto fail;
    }
    int d = dx + dy;
    rs.seed = seed;
    if (t->base == BASE_FAMILY) {
        t->family->create(t, &rs);
    } else if (t->base == BASE_ADDITIVE) {
        t->eps = malloc((size_t)dx * sizeof *t->eps);
        double all = NAN;
        for (size_t i = 0; i < nparams; i++)
            if (strcmp(params[i].name, "eps") == 0) {
                all = params[i].value;
                rs.used[i] = 1;
            }
        for (int j = 0; t->eps && j < dx; j++) {
            char pname[16];
            snprintf(pname, sizeof pname, "eps%d", j + 1);
            double e0 = gen_draw_uniform(&rs, 0.1, 2);
            if (!isnan(all)) e0 = all;
            t->eps[j] = gen_resolve(&rs, pname, e0);
            gen_check_range(&rs, pname, t->eps[j], 0, 1e6, 1, 0);
        }
        if (!t->eps) rs.status = mist_fail(err, MIST_ENOMEM, "out of memory");
        if (rs.status == MIST_OK) t->mi = mist_mi_additive(t->eps, dx);
    } else {
        t->S = malloc((size_t)d * d * sizeof *t->S);
        t->L = malloc((size_t)d * d * sizeof *t->L);
        if (!t->S || !t->L) rs.status = mist_fail(err, MIST_ENOMEM, "out of memory");
        if (rs.status == MIST_OK && t->base == BASE_STUDENT) {
            t->nu = gen_resolve(&rs, "nu", gen_draw_uniform(&rs, 1, 10));
            gen_check_range(&rs, "nu", t->nu, 0, 1e6, 1, 0);
        }
        if (rs.status == MIST_OK) resolve_structure(&rs);
        if (rs.status == MIST_OK) rs.status = gen_cholesky(t->S, d, t->L, NULL, err);
        if (rs.status == MIST_OK) rs.status = mist_mi_gaussian(t->S, dx, dy, &t->mi, err);
        if (rs.status == MIST_OK && t->base == BASE_STUDENT)
            t->mi += mist_mi_student_correction(t->nu, dx, dy);
    }
    gsl_rng_free(rs.rng);
    if ((rc = rs.status)) goto fail;
    for (size_t i = 0; i < nparams; i++) {
        if (!rs.used[i] && !strcmp(params[i].name, "mi_se")) {
            rc = mist_fail(err, MIST_EINVAL,
                           "%s: mi_se is not a parameter: it records the Monte-Carlo standard "
                           "error of the MI of a task",
                           t->name);
            goto fail;
        }
        if (!rs.used[i]) {
            char takes[256] = "";
            size_t len = 0;
            if (t->base == BASE_ADDITIVE) /* one eps per coordinate: too many to list */
                snprintf(takes, sizeof takes, "eps (all coordinates) or eps1..eps%d", t->dx);
            else if (t->base == BASE_FAMILY) /* indexed parameters: see the catalogue line */
                snprintf(takes, sizeof takes, "%s", t->family->takes);
            for (size_t k = 0; t->base != BASE_ADDITIVE && t->base != BASE_FAMILY &&
                               k < t->nparams && len < sizeof takes;
                 k++)
                len += (size_t)snprintf(takes + len, sizeof takes - len, "%s%s", k ? ", " : "",
                                        t->params[k].name);
            rc = mist_fail(err, MIST_EINVAL, "parameter '%s' does not apply to %s (it takes: %s)",
                           params[i].name, t->name, t->nparams ? takes : "none");
            goto fail;
        }
    }
    free(used);
    *out = t;
    return MIST_OK;
fail:
    free(used);
    mist_task_free(t);
    return rc ? rc : MIST_EINVAL;
}

void mist_task_free(mist_task *t)
{
    if (!t) return;
    free(t->S);
    free(t->L);
    free(t->eps);
    free(t->params);
    if (t->family && t->fam) t->family->free(t->fam);
    free(t);
}

double mist_task_mi(const mist_task *t) { return t->mi; }
double mist_task_mi_se(const mist_task *t) { return t->mi_se; }
const char *mist_task_name(const mist_task *t) { return t->name; }
int mist_task_out_dx(const mist_task *t) { return t->out_dx; }
int mist_task_out_dy(const mist_task *t) { return t->out_dy; }
const double *mist_task_matrix(const mist_task *t) { return t->S; }
double mist_task_nu(const mist_task *t) { return t->nu; }
const double *mist_task_eps(const mist_task *t) { return t->eps; }

const mist_param *mist_task_params(const mist_task *t, size_t *nparams)
{
    *nparams = t->nparams;
    return t->params;
}
