/* The official MIST test tasks (gen/data/mist_*_official.csv, embedded at build time): a strict
 * reader of their task lists. The lists are ours, so a row that does not parse is a bug in the
 * build, reported as an internal error rather than skipped. Names and parameters are mapped
 * from the official (BMI) spelling to ours; every value is kept exactly as written. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_internal.h"

#define OFFICIAL_HEADER "family,d,n,sample_seed,mi,params"
#define OFFICIAL_FIELDS 6
#define OFFICIAL_MAX_DIM 1024
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* nparams: how many parameters the task takes (0: one per coordinate), so that a row that
 * lacks one is caught here instead of having it drawn from the default range. */
static const struct { const char *official, *ours; int nparams; } FAMILIES[] = {
    {"multi_normal-dense-base", "normal-dense-base", 1},
    {"multi_normal-dense-halfcube", "normal-dense-halfcube", 1},
    {"multi_normal-dense-wigglify", "normal-dense-wiggly", 1},
    {"multi_normal-lvm-wigglify", "normal-lvm-wiggly", 5},
    {"multi_normal-sparse-asinh", "normal-sparse-asinh", 2},
    {"multi_normal-sparse-halfcube", "normal-sparse-halfcube", 2},
    {"multi_student-dense-base", "student-dense-base", 2},
    {"multi_student-dense-halfcube", "student-dense-halfcube", 2},
    {"multi_student-sparse-base", "student-sparse-base", 3},
    {"multi_student-sparse-asinh", "student-sparse-asinh", 3},
    {"multi_student-sparse-wigglify", "student-sparse-wiggly", 3},
    {"multi_additive_noise-base", "additive-base", 0},
    {"multi_additive_noise-halfcube", "additive-halfcube", 0},
};

/* BMI's parameter names; additive noise's epsK (K = 1..d) keep their names. */
static const struct { const char *official, *ours; } PARAMS[] = {
    {"off_diag", "c"},     {"df", "nu"},       {"n_interacting", "K"}, {"strength", "strength"},
    {"alpha", "alpha"},    {"lambd", "lambda"}, {"beta", "beta"},       {"eta", "eta"},
};

/* Unsigned decimal digits only (no sign, space or base prefix), at most max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned dig = (unsigned)(*s - '0');
        if (dig > max || v > (max - dig) / 10) return -1;
        v = v * 10 + dig;
    }
    *out = v;
    return 0;
}

/* A finite decimal number, all of s: strtod rounds correctly, so the value is exactly the
 * double the list was written from (it holds %.17g or shortest round-trip digits). ERANGE is
 * refused when the value overflowed or vanished, not for a subnormal (rounded correctly too). */
static int parse_number(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s)) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || (errno == ERANGE && v == 0)) return -1;
    *out = v;
    return 0;
}

static int find_family(const char *official)
{
    for (size_t i = 0; i < COUNT(FAMILIES); i++)
        if (!strcmp(FAMILIES[i].official, official)) return (int)i;
    return -1;
}

/* The name of one official parameter in our spelling; eps names are checked against d. */
static int map_param(const char *official, int d, char *ours)
{
    for (size_t i = 0; i < COUNT(PARAMS); i++)
        if (!strcmp(PARAMS[i].official, official)) {
            snprintf(ours, MIST_PARAM_NAME_LEN, "%s", PARAMS[i].ours);
            return 0;
        }
    uint64_t k;
    if (strncmp(official, "eps", 3) || official[3] == '0' || parse_uint(official + 3, (uint64_t)d, &k) ||
        k < 1)
        return -1;
    snprintf(ours, MIST_PARAM_NAME_LEN, "eps%d", (int)k);
    return 0;
}

/* One data row, split into its fields, into sp and its official sample seed. Returns what is
 * wrong with it, or NULL. */
static const char *parse_row(char **fld, mist_task_spec *sp, uint64_t *sample_seed, mist_err *err)
{
    int fam = find_family(fld[0]);
    if (fam < 0) return "unknown family";
    snprintf(sp->task, sizeof sp->task, "%s", FAMILIES[fam].ours);
    uint64_t u;
    if (parse_uint(fld[1], OFFICIAL_MAX_DIM, &u) || u < 1) return "invalid d";
    sp->dx = sp->dy = (int)u;
    if (parse_uint(fld[2], (uint64_t)1 << 32, &u) || u < 1) return "invalid n";
    sp->n = (size_t)u;
    if (parse_uint(fld[3], UINT64_MAX, sample_seed)) return "invalid sample_seed";
    double mi;
    if (parse_number(fld[4], &mi) || mi < 0) return "invalid mi";
    if (!*fld[5]) return "no params";
    for (char *item = fld[5]; item;) {
        char *semi = strchr(item, ';');
        if (semi) *semi = '\0';
        char *eq = strchr(item, '=');
        if (!eq) return "a parameter without '='";
        *eq = '\0';
        char name[MIST_PARAM_NAME_LEN];
        double v;
        if (map_param(item, sp->dx, name)) return "unknown parameter";
        if (parse_number(eq + 1, &v)) return "invalid parameter value";
        for (size_t k = 0; k < sp->nparams; k++)
            if (!strcmp(sp->params[k].name, name)) return "repeated parameter";
        if (mist_task_spec_add_param(sp, name, v, err)) return "";
        item = semi ? semi + 1 : NULL;
    }
    size_t want = FAMILIES[fam].nparams ? (size_t)FAMILIES[fam].nparams : (size_t)sp->dx;
    if (sp->nparams != want) return "wrong number of parameters for its family";
    return NULL;
}

int gen_official_parse(const char *suite, const unsigned char *csv, size_t len,
                       mist_task_spec **specs, uint64_t **sample_seeds, size_t *count,
                       mist_err *err)
{
    *specs = NULL;
    *sample_seeds = NULL;
    *count = 0;
    char *text = malloc(len + 1);
    if (!text) return mist_fail(err, MIST_ENOMEM, "out of memory");
    memcpy(text, csv, len);
    text[len] = '\0';
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    mist_task_spec *out = calloc(lines + 1, sizeof *out);
    uint64_t *seeds = calloc(lines + 1, sizeof *seeds);
    int rc = MIST_OK;
    size_t nrows = 0, lineno = 0;
    if (!out || !seeds) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto done;
    }
    if (memchr(csv, '\0', len)) {
        rc = mist_fail(err, MIST_EFORMAT, "internal error: suite %s: its task list holds a NUL byte",
                       suite);
        goto done;
    }
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        const char *bad = NULL;
        char shown[64]; /* the start of the line, for the message (it is split in place) */
        snprintf(shown, sizeof shown, "%s", line);
        const char *more = l >= sizeof shown ? "..." : "";
        if (lineno == 1) {
            if (strcmp(line, OFFICIAL_HEADER)) bad = "header is not '" OFFICIAL_HEADER "'";
        } else {
            char *fld[OFFICIAL_FIELDS];
            size_t k = 0;
            for (char *p = line;;) {
                char *comma = strchr(p, ',');
                if (k < OFFICIAL_FIELDS) fld[k] = p;
                k++;
                if (!comma) break;
                *comma = '\0';
                p = comma + 1;
            }
            if (k != OFFICIAL_FIELDS)
                bad = "wrong number of fields";
            else
                bad = parse_row(fld, &out[nrows], &seeds[nrows], err);
            if (!bad) nrows++;
        }
        if (bad) {
            rc = *bad ? mist_fail(err, MIST_EFORMAT,
                                  "internal error: suite %s: line %zu of its task list ('%s%s'): %s",
                                  suite, lineno, shown, more, bad)
                      : (err ? err->code : MIST_ENOMEM);
            goto done;
        }
        if (!nl) break;
        line = nl + 1;
    }
    if (nrows == 0)
        rc = mist_fail(err, MIST_EFORMAT, "internal error: suite %s: its task list is empty", suite);
done:
    free(text);
    if (rc) {
        mist_task_specs_free(out, lines + 1);
        free(seeds);
        return rc;
    }
    *specs = out;
    *sample_seeds = seeds;
    *count = nrows;
    return MIST_OK;
}
