/* Estimator specs: "ksg1:k=5", "gaussian:copula", "mist:weights/mist-qr.msgpack",
 * "cmd:NAME=COMMAND", and their canonical labels (mist_bench.h has the grammar). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_bench.h"
#include "mist_classical.h"
#include "util.h"
#include "mist_infer.h"

static const char *const KNOWN =
    "ksg1, ksg2, gaussian, histogram, kde, discrete, mist, cmd:NAME=COMMAND";
static const char *const CMD_FORM =
    "want cmd:NAME=COMMAND or cmd:NAME:timeout=SECONDS=COMMAND; a cmd: spec runs to the end of "
    "the list";

/* A flag: no value, or =0 / =1. */
static int parse_flag(const char *v, int *out)
{
    if (!v) {
        *out = 1;
        return 0;
    }
    return mist_parse_int(v, 0, 1, out);
}

static int make_label(mist_bench_est *e, mist_err *err)
{
    char buf[1024];
    size_t len = 0;
#define ADD(...)                                                                                   \
    len += (size_t)snprintf(buf + len, len < sizeof buf ? sizeof buf - len : 0, __VA_ARGS__)
    ADD("%s", e->name);
    if (!strcmp(e->name, "mist")) {
        if (e->weights[0]) ADD(":%s", e->weights);
        if (e->raw_quantiles) ADD(":raw");
        if (e->col_canon >= 0) ADD(e->col_canon ? ":canon" : ":canon=0");
        if (!e->route) ADD(":route=0");
        if (e->row_chunk >= 0) ADD(":chunk=%d", e->row_chunk);
        if (e->guard) ADD(":guard");
    } else {
        int ksg = !strcmp(e->name, "ksg1") || !strcmp(e->name, "ksg2");
        if (ksg) ADD(":k=%d", e->k);
        if (e->bins) ADD(":bins=%d", e->bins);
        if (e->miller_madow) ADD(":mm");
        if (e->bandwidth > 0) ADD(":bandwidth=%g", e->bandwidth);
        if (e->noise != 1e-10) ADD(":noise=%g", e->noise);
        if (!e->zscore) ADD(":no-zscore");
        if (e->copula) ADD(":copula");
        if (e->unbiased) ADD(":unbiased");
    }
#undef ADD
    if (len >= sizeof buf || len >= sizeof e->label)
        return mist_fail(err, MIST_EINVAL, "estimator spec '%s...' gives a label longer than %d",
                         e->name, MIST_BENCH_LABEL_LEN - 1);
    memcpy(e->label, buf, len + 1);
    return MIST_OK;
}

/* The label keeps the model as it was named ("mist:qr", a relative path; an absolute path by
 * its file name only, so that results do not carry one machine's folders), then the weights
 * become a path: bare "mist" is the default model, "qr" / "point" / a shipped file name the
 * shipped ones (mist_model_resolve). */
static int resolve_mist(mist_bench_est *e, const char *spec, mist_err *err)
{
    char given[sizeof e->weights];
    snprintf(given, sizeof given, "%s", e->weights);
    if (given[0] == '/') {
        const char *base = strrchr(given, '/') + 1;
        memmove(e->weights, base, strlen(base) + 1);
    }
    int rc = make_label(e, err);
    if (rc) return rc;
    rc = given[0] ? mist_model_resolve(given, e->weights, sizeof e->weights, err)
                  : mist_default_model_path(NULL, e->weights, sizeof e->weights, err);
    if (rc && err) {
        char msg[MIST_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "%s", err->msg);
        mist_fail(err, rc, "estimator spec '%s': %s", spec, msg);
    }
    return rc;
}

static int is_cmd_spec(const char *s)
{
    return !strncmp(s, "cmd", 3) && (s[3] == ':' || s[3] == '\0');
}

static int cmd_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* cmd:NAME[:timeout=SECONDS]=COMMAND. The spec is quoted shortened: COMMAND can be long. */
static int parse_cmd(const char *spec, mist_bench_est *e, mist_err *err)
{
    snprintf(e->name, sizeof e->name, "cmd");
    e->timeout_s = MIST_BENCH_CMD_TIMEOUT_S;
    const char *p = spec[3] ? spec + 4 : spec + 3;
    const char *name = p;
    while (cmd_name_char(*p)) p++;
    size_t nlen = (size_t)(p - name);
    if (nlen == 0)
        return mist_fail(err, MIST_EINVAL, "estimator spec '%.80s': empty or bad NAME (%s)", spec,
                         CMD_FORM);
    if (nlen > MIST_BENCH_CMD_NAME_MAX)
        return mist_fail(err, MIST_EINVAL,
                         "estimator spec '%.80s': NAME longer than %d characters", spec,
                         MIST_BENCH_CMD_NAME_MAX);
    if (*p && *p != ':' && *p != '=')
        return mist_fail(err, MIST_EINVAL,
                         "estimator spec '%.80s': NAME may hold only letters, digits, '-', '_' "
                         "and '.' (%s)",
                         spec, CMD_FORM);
    while (*p == ':') {
        const char *o = ++p;
        while (*p && *p != '=' && *p != ':') p++;
        size_t olen = (size_t)(p - o);
        if (olen != 7 || strncmp(o, "timeout", 7) || *p != '=')
            return mist_fail(err, MIST_EINVAL,
                             "estimator spec '%.80s': unknown cmd option '%.*s' (the only one "
                             "is timeout=SECONDS; %s)",
                             spec, (int)(olen > 40 ? 40 : olen), o, CMD_FORM);
        const char *v = ++p;
        while (*p && *p != '=' && *p != ':') p++;
        char val[64];
        size_t vlen = (size_t)(p - v);
        double t = 0;
        if (vlen < sizeof val) {
            memcpy(val, v, vlen);
            val[vlen] = '\0';
        }
        if (vlen >= sizeof val || mist_parse_double(val, &t) || !(t > 0))
            return mist_fail(err, MIST_EINVAL,
                             "estimator spec '%.80s': bad timeout '%.*s' (seconds, > 0)", spec,
                             (int)(vlen > 40 ? 40 : vlen), v);
        e->timeout_s = t;
    }
    if (*p != '=')
        return mist_fail(err, MIST_EINVAL, "estimator spec '%.80s': no =COMMAND (%s)", spec,
                         CMD_FORM);
    const char *cmd = p + 1;
    if (!*cmd)
        return mist_fail(err, MIST_EINVAL, "estimator spec '%.80s': empty COMMAND (%s)", spec,
                         CMD_FORM);
    if (strlen(cmd) >= sizeof e->command)
        return mist_fail(err, MIST_EINVAL,
                         "estimator spec '%.80s...': COMMAND longer than %d bytes", spec,
                         MIST_BENCH_CMD_LEN - 1);
    strcpy(e->command, cmd);
    snprintf(e->label, sizeof e->label, "cmd:%.*s", (int)nlen, name);
    return MIST_OK;
}

int mist_bench_parse_estimator(const char *spec, mist_bench_est *e, mist_err *err)
{
    memset(e, 0, sizeof *e);
    e->col_canon = -1; /* the model's own */
    e->route = 1;
    e->row_chunk = -1; /* the model's own */
    if (!spec || !*spec)
        return mist_fail(err, MIST_EINVAL,
                         "empty estimator spec (want NAME[:OPTION...], e.g. ksg1:k=5)");
    if (is_cmd_spec(spec)) return parse_cmd(spec, e, err);
    char buf[1024];
    if (strlen(spec) >= sizeof buf)
        return mist_fail(err, MIST_EINVAL, "estimator spec '%.60s...' is too long", spec);
    if (strchr(spec, ','))
        return mist_fail(err, MIST_EINVAL, "estimator spec '%s' contains a ','", spec);
    strcpy(buf, spec);
    char *opts = strchr(buf, ':');
    if (opts) *opts++ = '\0';
    int is_mist = !strcmp(buf, "mist");
    if (!is_mist && !mist_est_known(buf))
        return mist_fail(err, MIST_EINVAL,
                         "estimator spec '%s': unknown estimator '%s' (known: %s)", spec, buf,
                         KNOWN);
    snprintf(e->name, sizeof e->name, "%.15s", buf); /* a known name: at most 9 characters */
    e->k = 5;
    e->zscore = 1;
    e->noise = 1e-10;
    int ksg = !strcmp(buf, "ksg1") || !strcmp(buf, "ksg2");
    int hist = !strcmp(buf, "histogram"), kde = !strcmp(buf, "kde");
    int nopts = 0;
    for (char *o = opts; o;) {
        char *next = strchr(o, ':');
        if (next) *next++ = '\0';
        nopts++;
        if (!*o)
            return mist_fail(err, MIST_EINVAL, "estimator spec '%s': empty option (a stray ':')",
                             spec);
        char *v = strchr(o, '=');
        if (v) *v++ = '\0';
        int bad = 0, applies = 1;
        if (is_mist) {
            if (!strcmp(o, "weights") && v && *v) snprintf(e->weights, sizeof e->weights, "%s", v);
            else if (!strcmp(o, "raw")) bad = parse_flag(v, &e->raw_quantiles);
            else if (!strcmp(o, "guard")) bad = parse_flag(v, &e->guard);
            else if (!strcmp(o, "canon")) bad = parse_flag(v, &e->col_canon);
            else if (!strcmp(o, "route")) bad = parse_flag(v, &e->route);
            else if (!strcmp(o, "chunk")) bad = mist_parse_int(v, 0, 1 << 30, &e->row_chunk);
            else if (!v && nopts == 1) { /* mist:PATH */
                if (strlen(o) >= sizeof e->weights)
                    return mist_fail(err, MIST_EINVAL, "estimator spec '%s': path too long", spec);
                snprintf(e->weights, sizeof e->weights, "%s", o);
            } else
                return mist_fail(err, MIST_EINVAL,
                                 "estimator spec '%s': unknown mist option '%s' (mist takes "
                                 "weights=PATH or a bare PATH, raw, canon, route, chunk=ROWS and guard)",
                                 spec, o);
            if (v && !strcmp(o, "weights") && strlen(v) >= sizeof e->weights)
                return mist_fail(err, MIST_EINVAL, "estimator spec '%s': path too long", spec);
        } else if (!strcmp(o, "k")) {
            applies = ksg;
            bad = mist_parse_int(v, 1, 1 << 20, &e->k);
        } else if (!strcmp(o, "bins")) {
            applies = hist;
            bad = mist_parse_int(v, 1, 1 << 20, &e->bins);
        } else if (!strcmp(o, "mm") || !strcmp(o, "miller-madow")) {
            applies = hist;
            bad = parse_flag(v, &e->miller_madow);
        } else if (!strcmp(o, "bandwidth")) {
            applies = kde;
            bad = mist_parse_double(v, &e->bandwidth) || !(e->bandwidth > 0);
        } else if (!strcmp(o, "noise")) {
            applies = ksg;
            bad = mist_parse_double(v, &e->noise) || e->noise < 0;
        } else if (!strcmp(o, "zscore")) {
            applies = ksg;
            bad = parse_flag(v, &e->zscore);
        } else if (!strcmp(o, "no-zscore")) {
            applies = ksg;
            bad = v != NULL;
            e->zscore = 0;
        } else if (!strcmp(o, "copula")) {
            bad = parse_flag(v, &e->copula);
        } else if (!strcmp(o, "unbiased")) {
            applies = !strcmp(buf, "gaussian");
            bad = parse_flag(v, &e->unbiased);
        } else {
            return mist_fail(err, MIST_EINVAL,
                             "estimator spec '%s': unknown option '%s' (options: k=K, bins=B, mm, "
                             "bandwidth=H, noise=S, no-zscore, copula, "
                             "unbiased)",
                             spec, o);
        }
        if (!applies)
            return mist_fail(err, MIST_EINVAL,
                             "estimator spec '%s': option '%s' does not apply to %s", spec, o,
                             e->name);
        if (bad)
            return mist_fail(err, MIST_EINVAL, "estimator spec '%s': bad value for '%s'%s%s", spec,
                             o, v ? ": " : " (missing value)", v ? v : "");
        o = next;
    }
    if (is_mist) return resolve_mist(e, spec, err);
    return make_label(e, err);
}

int mist_bench_parse_estimators(const char *list, mist_bench_est *out, size_t cap, size_t *count,
                                mist_err *err)
{
    *count = 0;
    if (!list || !*list)
        return mist_fail(err, MIST_EINVAL, "empty estimator list (e.g. ksg1:k=5,gaussian)");
    const char *p = list;
    size_t n = 0;
    for (;;) {
        /* A cmd: spec's COMMAND may hold commas: it takes the rest of the list. */
        int cmd = is_cmd_spec(p);
        const char *c = cmd ? NULL : strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char spec[1024];
        if (!cmd && len >= sizeof spec)
            return mist_fail(err, MIST_EINVAL, "estimator spec '%.60s...' is too long", p);
        if (!cmd) {
            memcpy(spec, p, len);
            spec[len] = '\0';
        }
        if (n == cap) return mist_fail(err, MIST_EINVAL, "too many estimators (at most %zu)", cap);
        int rc = mist_bench_parse_estimator(cmd ? p : spec, &out[n], err);
        if (rc) return rc;
        /* Most likely two commands in one list, which would silently become one command. */
        const char *again = cmd ? strstr(out[n].command, ",cmd:") : NULL;
        if (again)
            return mist_fail(err, MIST_EINVAL,
                             "estimator spec '%.60s...': a cmd: spec runs to the end of the list, "
                             "so '%.40s' would be part of its command; give each command its own "
                             "--estimators",
                             p, again + 1);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(out[i].label, out[n].label))
                return mist_fail(err, MIST_EINVAL,
                                 "estimators '%s' and '%s' are the same (label '%s'); list each "
                                 "once",
                                 out[i].label, cmd ? out[n].label : spec, out[n].label);
        n++;
        if (!c) break;
        p = c + 1;
    }
    *count = n;
    return MIST_OK;
}
