/* Parameter resolution shared by every task family: explicit values, default-range draws from
 * the task seed's parameter stream, range checks and the record of what was used. */
#include "gen_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gen_record(gen_resolver *rs, const char *name, double v)
{
    mist_param *p = realloc(rs->t->params, (rs->t->nparams + 1) * sizeof *p);
    if (!p) return mist_fail(rs->err, MIST_ENOMEM, "out of memory");
    rs->t->params = p;
    memset(&p[rs->t->nparams], 0, sizeof *p);
    snprintf(p[rs->t->nparams].name, MIST_PARAM_NAME_LEN, "%s", name);
    p[rs->t->nparams].value = v;
    rs->t->nparams++;
    return MIST_OK;
}

/* The given value of name, marking it used; 0 when not given. */
static int given(gen_resolver *rs, const char *name, double *v)
{
    int found = 0;
    for (size_t i = 0; i < rs->ngiven; i++) {
        if (strcmp(rs->given[i].name, name) == 0) {
            *v = rs->given[i].value;
            rs->used[i] = 1;
            found = 1;
        }
    }
    return found;
}

double gen_resolve(gen_resolver *rs, const char *name, double drawn)
{
    double v = drawn;
    given(rs, name, &v);
    if (rs->status == MIST_OK) rs->status = gen_record(rs, name, v);
    return v;
}

double gen_resolve_indexed(gen_resolver *rs, const char *base, int j, double drawn)
{
    char name[MIST_PARAM_NAME_LEN];
    snprintf(name, sizeof name, "%s%d", base, j);
    double v = drawn;
    given(rs, base, &v);
    given(rs, name, &v); /* the indexed value wins over the shared one */
    if (rs->status == MIST_OK) rs->status = gen_record(rs, name, v);
    return v;
}

double gen_resolve_indexed_in(gen_resolver *rs, const char *base, int j, double drawn, double lo,
                              double hi)
{
    double v = gen_resolve_indexed(rs, base, j, drawn);
    char name[MIST_PARAM_NAME_LEN];
    snprintf(name, sizeof name, "%s%d", base, j);
    gen_check_range(rs, name, v, lo, hi, 0, 0);
    return v;
}

double gen_draw_uniform(gen_resolver *rs, double a, double b)
{
    return a + (b - a) * gsl_rng_uniform(rs->rng);
}

double gen_draw_log_uniform(gen_resolver *rs, double a, double b)
{
    return exp(gen_draw_uniform(rs, log(a), log(b)));
}

int gen_draw_int(gen_resolver *rs, int lo, int hi)
{
    if (hi <= lo) return lo;
    return lo + (int)gsl_rng_uniform_int(rs->rng, (unsigned long)(hi - lo + 1));
}

int gen_reject(gen_resolver *rs, int code, const char *fmt, ...)
{
    if (rs->status != MIST_OK) return rs->status;
    char msg[MIST_ERRMSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rs->status = mist_fail(rs->err, code, "%s", msg);
}

int gen_check_range(gen_resolver *rs, const char *name, double v, double lo, double hi, int lo_open,
                    int hi_open)
{
    int bad = !isfinite(v) || (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi);
    if (bad)
        gen_reject(rs, MIST_EINVAL, "%s: parameter %s=%g is out of range %s%g, %g%s", rs->t->name,
                   name, v, lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    return !bad;
}

int gen_resolve_int(gen_resolver *rs, const char *name, int lo, int hi, int drawn)
{
    double v = gen_resolve(rs, name, drawn);
    if (rs->status != MIST_OK) return drawn;
    if (!isfinite(v) || v != floor(v) || v < lo || v > hi) {
        gen_reject(rs, MIST_EINVAL,
                   "%s: parameter %s=%g must be an integer in [%d, %d] for dims %dx%d", rs->t->name,
                   name, v, lo, hi, rs->t->dx, rs->t->dy);
        return drawn;
    }
    return (int)v;
}
