/* The official MIST test tasks (suites mist-imd-official, mist-oomd-official) against their
 * source lists, read here on their own (not through the library's embedded copy and parser):
 * every task's MI against the list's `mi` column (BMI's formulas), exact parameters, ids,
 * seeds, sampling; the strict reader of the embedded lists; task specs with many parameters. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_internal.h"
#include "mist_gen.h"

#ifndef MIST_OFFICIAL_DIR
#error "MIST_OFFICIAL_DIR (the source tree's gen/data) must be defined"
#endif

#define CHECKM(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) ck_abort_msg(__VA_ARGS__);                                                    \
    } while (0)

/* ---- an independent reader of the lists ------------------------------------------------- */

typedef struct row {
    char task[MIST_TASK_NAME_LEN]; /* our name */
    int d;
    size_t n;
    uint64_t sample_seed;
    double mi;
    mist_param p[40];
    size_t np;
} row;

/* The README's renaming: multi_X -> X, additive_noise -> additive, wigglify -> wiggly. */
static void our_family(const char *official, char *out)
{
    char buf[MIST_TASK_NAME_LEN] = "";
    const char *s = official;
    ck_assert_msg(!strncmp(s, "multi_", 6), "family %s", official);
    s += 6;
    if (!strncmp(s, "additive_noise", 14)) {
        strcat(buf, "additive");
        s += 14;
    }
    strcat(buf, s);
    char *w = strstr(buf, "wigglify");
    if (w) strcpy(w, "wiggly");
    strcpy(out, buf);
}

static const char *our_param(const char *official)
{
    static const char *map[][2] = {{"off_diag", "c"},   {"df", "nu"},       {"n_interacting", "K"},
                                   {"strength", "strength"}, {"alpha", "alpha"}, {"lambd", "lambda"},
                                   {"beta", "beta"},    {"eta", "eta"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], official)) return map[i][1];
    ck_assert_msg(!strncmp(official, "eps", 3), "parameter %s", official);
    return official;
}

static row *read_list(const char *file, size_t *count)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", MIST_OFFICIAL_DIR, file);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    row *rows = NULL;
    size_t n = 0, cap = 0;
    char line[4096];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(!strncmp(line, "family,d,n,sample_seed,mi,params", 32), "header of %s", path);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            rows = realloc(rows, cap * sizeof *rows);
            ck_assert_ptr_nonnull(rows);
        }
        row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        char fam[128], params[2048];
        unsigned long long ss;
        ck_assert_int_eq(sscanf(line, "%127[^,],%d,%zu,%llu,%lf,%2047s", fam, &r->d, &r->n, &ss,
                                &r->mi, params),
                         6);
        r->sample_seed = ss;
        our_family(fam, r->task);
        char *save = NULL;
        for (char *kv = strtok_r(params, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(kv, '=');
            ck_assert_ptr_nonnull(eq);
            *eq = '\0';
            ck_assert_uint_lt(r->np, 40);
            snprintf(r->p[r->np].name, MIST_PARAM_NAME_LEN, "%s", our_param(kv));
            r->p[r->np].value = strtod(eq + 1, NULL);
            r->np++;
        }
    }
    fclose(f);
    *count = n;
    return rows;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static const struct {
    const char *suite, *file;
    size_t count;
} SUITES[] = {{"mist-imd-official", "mist_imd_official.csv", 1080},
              {"mist-oomd-official", "mist_oomd_official.csv", 1260}};

/* ---- (a) every task against its list ------------------------------------------------------ */

START_TEST(test_mi_matches_list)
{
    double worst = 0;
    size_t total = 0;
    for (size_t s = 0; s < 2; s++) {
        size_t nrows, count;
        row *rows = read_list(SUITES[s].file, &nrows);
        mist_task_spec *specs = NULL;
        mist_err err = {0};
        mist_suite_opts o = {.suite_seed = 0};
        ck_assert_int_eq(mist_suite_specs(SUITES[s].suite, &o, &specs, &count, &err), MIST_OK);
        ck_assert_uint_eq(nrows, SUITES[s].count);
        ck_assert_uint_eq(count, SUITES[s].count);
        for (size_t i = 0; i < count; i++) {
            const mist_task_spec *sp = &specs[i];
            const row *r = &rows[i];
            ck_assert_str_eq(sp->task, r->task);
            ck_assert_int_eq(sp->dx, r->d);
            ck_assert_int_eq(sp->dy, r->d);
            ck_assert_uint_eq(sp->n, r->n);
            ck_assert_uint_eq(sp->nparams, r->np);
            for (size_t k = 0; k < r->np; k++) {
                ck_assert_str_eq(sp->params[k].name, r->p[k].name);
                CHECKM(memcmp(&sp->params[k].value, &r->p[k].value, sizeof(double)) == 0,
                       "%s row %zu: %s = %.17g, list %.17g", SUITES[s].suite, i + 1,
                       r->p[k].name, sp->params[k].value, r->p[k].value);
            }
            mist_task *t = NULL;
            CHECKM(mist_task_create(&t, sp->task, sp->dx, sp->dy, sp->params, sp->nparams,
                                    sp->seed, &err) == MIST_OK,
                   "%s row %zu: %s", SUITES[s].suite, i + 1, err.msg);
            /* nothing drawn: every parameter the task resolves is one the list gives */
            size_t resolved;
            mist_task_params(t, &resolved);
            ck_assert_uint_eq(resolved, r->np);
            double mi = mist_task_mi(t), diff = fabs(mi - r->mi);
            CHECKM(diff <= fmax(1e-9 * fabs(r->mi), 1e-12),
                   "%s row %zu (%s d=%d): MI %.17g, list %.17g", SUITES[s].suite, i + 1, r->task,
                   r->d, mi, r->mi);
            if (r->mi > 1e-12) worst = fmax(worst, diff / r->mi);
            mist_task_free(t);
            total++;
        }
        mist_task_specs_free(specs, count);
        free(rows);
    }
    printf("official: max relative MI difference %.3g over %zu tasks\n", worst, total);
}
END_TEST

/* ---- (b) ids, seeds, determinism --------------------------------------------------------- */

static int same_task(const mist_task_spec *a, const mist_task_spec *b)
{
    if (strcmp(a->task, b->task) || a->dx != b->dx || a->dy != b->dy || a->n != b->n ||
        a->nparams != b->nparams)
        return 0;
    for (size_t k = 0; k < a->nparams; k++)
        if (strcmp(a->params[k].name, b->params[k].name) ||
            memcmp(&a->params[k].value, &b->params[k].value, sizeof(double)))
            return 0;
    return 1;
}

START_TEST(test_ids_and_seeds)
{
    for (size_t s = 0; s < 2; s++) {
        const char *suite = SUITES[s].suite;
        size_t nrows;
        row *rows = read_list(SUITES[s].file, &nrows);
        mist_task_spec *a = NULL, *b = NULL, *c = NULL;
        size_t na, nb, nc;
        mist_err err = {0};
        mist_suite_opts o0 = {.suite_seed = 0}, o7 = {.suite_seed = 7};
        ck_assert_int_eq(mist_suite_specs(suite, &o0, &a, &na, &err), MIST_OK);
        ck_assert_int_eq(mist_suite_specs(suite, &o0, &b, &nb, &err), MIST_OK);
        ck_assert_int_eq(mist_suite_specs(suite, &o7, &c, &nc, &err), MIST_OK);
        ck_assert_uint_eq(na, SUITES[s].count);
        ck_assert_uint_eq(nb, na);
        ck_assert_uint_eq(nc, na);
        uint64_t s0 = mist_seed_derive(0, fnv1a(suite)), s7 = mist_seed_derive(7, fnv1a(suite));
        for (size_t i = 0; i < na; i++) {
            char want[64];
            snprintf(want, sizeof want, "%s-s0-%04zu", suite, i);
            ck_assert_str_eq(a[i].id, want);
            snprintf(want, sizeof want, "%s-s7-%04zu", suite, i);
            ck_assert_str_eq(c[i].id, want);
            /* same suite seed: the same specs; another: the same tasks, other samples */
            CHECKM(same_task(&a[i], &b[i]) && a[i].seed == b[i].seed && !strcmp(a[i].id, b[i].id),
                   "%s row %zu differs between calls", suite, i + 1);
            CHECKM(same_task(&a[i], &c[i]), "%s row %zu: suite seed changed the task", suite,
                   i + 1);
            CHECKM(a[i].seed != c[i].seed, "%s row %zu: suite seeds 0 and 7 share a seed", suite,
                   i + 1);
            /* the documented derivation from (suite, suite seed, official sample seed) */
            ck_assert_uint_eq(a[i].seed, mist_seed_derive(s0, rows[i].sample_seed));
            ck_assert_uint_eq(c[i].seed, mist_seed_derive(s7, rows[i].sample_seed));
        }
        /* the official sample seeds index the samples: different ones, different seeds */
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < i; j++)
                CHECKM((a[i].seed == a[j].seed) == (rows[i].sample_seed == rows[j].sample_seed),
                       "%s rows %zu and %zu", suite, j + 1, i + 1);
        /* a fixed n grid: --n does not apply */
        mist_task_spec *d = (mist_task_spec *)&err;
        size_t nd = 5;
        mist_suite_opts on = {.suite_seed = 0, .n = 100};
        ck_assert_int_eq(mist_suite_specs(suite, &on, &d, &nd, &err), MIST_EINVAL);
        ck_assert_ptr_null(d);
        ck_assert_uint_eq(nd, 0);
        CHECKM(strstr(err.msg, "fixed n grid") != NULL, "%s", err.msg);
        mist_task_specs_free(a, na);
        mist_task_specs_free(b, nb);
        mist_task_specs_free(c, nc);
        free(rows);
    }
    /* listed in the catalogue and in the unknown-suite message */
    size_t ns;
    const mist_catalog_entry *cat = mist_gen_suites(&ns);
    int seen = 0;
    for (size_t i = 0; i < ns; i++)
        seen += !strcmp(cat[i].name, "mist-imd-official") + !strcmp(cat[i].name, "mist-oomd-official");
    ck_assert_int_eq(seen, 2);
    mist_err err = {0};
    mist_task_spec *x = NULL;
    size_t nx;
    ck_assert_int_eq(mist_suite_specs("mist-official", NULL, &x, &nx, &err), MIST_EINVAL);
    CHECKM(strstr(err.msg, "mist-imd-official") && strstr(err.msg, "mist-oomd-official"), "%s",
           err.msg);
}
END_TEST

/* ---- (c) one dataset of every family samples --------------------------------------------- */

START_TEST(test_sample_each_family)
{
    int families = 0;
    for (size_t s = 0; s < 2; s++) {
        mist_task_spec *sp = NULL;
        size_t count;
        mist_err err = {0};
        mist_suite_opts o = {.suite_seed = 3};
        ck_assert_int_eq(mist_suite_specs(SUITES[s].suite, &o, &sp, &count, &err), MIST_OK);
        for (size_t i = 0; i < count; i++) {
            int first = 1;
            for (size_t j = 0; j < i && first; j++) first = strcmp(sp[j].task, sp[i].task) != 0;
            if (!first) continue;
            families++;
            mist_task_spec small;
            ck_assert_int_eq(mist_task_spec_copy(&small, &sp[i], &err), MIST_OK);
            small.n = 40;
            mist_dataset *ds = NULL, *again = NULL;
            CHECKM(mist_gen_dataset(&ds, &small, &err) == MIST_OK, "%s: %s", sp[i].id, err.msg);
            ck_assert_int_eq(mist_gen_dataset(&again, &small, &err), MIST_OK);
            ck_assert_uint_eq(ds->n, 40);
            ck_assert_int_eq(ds->dx, sp[i].dx);
            ck_assert_int_eq(ds->dy, sp[i].dy);
            ck_assert_str_eq(ds->meta.task, sp[i].task);
            ck_assert_uint_eq(ds->meta.nparams, sp[i].nparams);
            ck_assert_int_eq(mist_dataset_check_finite(ds, &err), MIST_OK);
            size_t bytes = 40 * (size_t)(ds->dx + ds->dy) * sizeof(double);
            CHECKM(memcmp(ds->data, again->data, bytes) == 0, "%s: not deterministic", sp[i].id);
            /* the rows vary (a degenerate sampler would give a constant column) */
            int varies = 0;
            for (size_t r = 1; r < 40; r++)
                varies |= ds->data[r * (size_t)(ds->dx + ds->dy)] != ds->data[0];
            CHECKM(varies, "%s: constant first column", sp[i].id);
            mist_dataset_free(ds);
            mist_dataset_free(again);
            mist_task_spec_clear(&small);
        }
        mist_task_specs_free(sp, count);
    }
    ck_assert_int_eq(families, 13); /* 6 IMD + 7 OoMD */
}
END_TEST

/* ---- the strict reader of the embedded lists ---------------------------------------------- */

START_TEST(test_reader_strict)
{
#define HDR "family,d,n,sample_seed,mi,params\n"
    static const struct {
        const char *text;
        size_t line; /* the line the message names; 0: no line */
    } bad[] = {
        {"", 0},
        {HDR, 0},
        {"family,d,n,seed,mi,params\n", 1},
        {HDR "multi_normal-dense-base,2,10,1,0.1\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=0.1,x\n", 2},
        {HDR "multi_gauss-dense-base,2,10,1,0.1,off_diag=0.1\n", 2},
        {HDR "multi_normal-dense-base,0,10,1,0.1,off_diag=0.1\n", 2},
        {HDR "multi_normal-dense-base,2x,10,1,0.1,off_diag=0.1\n", 2},
        {HDR "multi_normal-dense-base,2,-10,1,0.1,off_diag=0.1\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,nan,off_diag=0.1\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=0.1x\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=inf\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=1e999\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=1e-999\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,rho=0.1\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,\n", 2},
        {HDR "multi_student-dense-base,2,10,1,0.1,off_diag=0.1\n", 2}, /* df missing */
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=0.1;off_diag=0.2\n", 2},
        {HDR "multi_additive_noise-base,2,10,1,0.1,eps1=0.1;eps3=0.2\n", 2},
        {HDR "multi_additive_noise-base,2,10,1,0.1,eps1=0.1;eps02=0.2\n", 2},
        {HDR "multi_additive_noise-base,2,10,1,0.1,eps1=0.1\n", 2},
        {HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=0.1\n\n"
             "multi_normal-dense-base,2,10,1,0.1,off_diag=0.1\n", 3},
        {HDR "multi_normal-dense-base,2,10,99999999999999999999,0.1,off_diag=0.1\n", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mist_task_spec *specs = (mist_task_spec *)1;
        uint64_t *seeds = (uint64_t *)1;
        size_t count = 9;
        mist_err err = {0};
        int rc = gen_official_parse("t", (const unsigned char *)bad[i].text, strlen(bad[i].text),
                                    &specs, &seeds, &count, &err);
        CHECKM(rc == MIST_EFORMAT, "case %zu: rc %d (%s)", i, rc, err.msg);
        ck_assert_ptr_null(specs);
        ck_assert_ptr_null(seeds);
        ck_assert_uint_eq(count, 0);
        CHECKM(strstr(err.msg, "internal error") && strstr(err.msg, "suite t"), "case %zu: %s", i,
               err.msg);
        if (bad[i].line) {
            char want[32];
            snprintf(want, sizeof want, "line %zu", bad[i].line);
            CHECKM(strstr(err.msg, want) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, want);
        }
    }
    /* a NUL byte inside */
    static const char nul[] = HDR "multi_normal-dense-base,2,10,1,0.1,off_diag=0.1\0\n";
    mist_task_spec *specs;
    uint64_t *seeds;
    size_t count;
    mist_err err = {0};
    ck_assert_int_eq(gen_official_parse("t", (const unsigned char *)nul, sizeof nul - 1, &specs,
                                        &seeds, &count, &err),
                     MIST_EFORMAT);
    /* good rows, CRLF and a last line without a newline; values kept to the last bit */
    static const char good[] =
        HDR "multi_student-sparse-wigglify,3,35,4294967296,0.5,df=6.509531580558568;"
            "n_interacting=2.0;strength=0.1\r\n"
            "multi_additive_noise-halfcube,2,500,0,1.5,eps2=0.30000000000000004;eps1=5e-324";
    ck_assert_int_eq(gen_official_parse("t", (const unsigned char *)good, sizeof good - 1, &specs,
                                        &seeds, &count, &err),
                     MIST_OK);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(specs[0].task, "student-sparse-wiggly");
    ck_assert_int_eq(specs[0].dx, 3);
    ck_assert_uint_eq(specs[0].n, 35);
    ck_assert_uint_eq(seeds[0], 4294967296ULL);
    ck_assert_uint_eq(specs[0].nparams, 3);
    ck_assert_str_eq(specs[0].params[0].name, "nu");
    CHECKM(specs[0].params[0].value == 6.509531580558568, "nu %.17g", specs[0].params[0].value);
    ck_assert_str_eq(specs[0].params[1].name, "K");
    ck_assert_str_eq(specs[0].params[2].name, "strength");
    ck_assert_str_eq(specs[1].task, "additive-halfcube");
    ck_assert_str_eq(specs[1].params[0].name, "eps2");
    CHECKM(specs[1].params[0].value == 0.1 + 0.2, "eps2 %.17g", specs[1].params[0].value);
    CHECKM(specs[1].params[1].value == 5e-324, "eps1 %.17g", specs[1].params[1].value);
    mist_task_specs_free(specs, count);
    free(seeds);
#undef HDR
}
END_TEST

/* ---- (d) specs with many parameters -------------------------------------------------------- */

START_TEST(test_many_params)
{
    enum { D = 100 };
    mist_task_spec sp = {0}, copy;
    mist_err err = {0};
    double eps[D], want = 0;
    for (int j = 0; j < D; j++) {
        char name[16];
        snprintf(name, sizeof name, "eps%d", j + 1);
        eps[j] = 0.05 + 0.03 * j; /* both branches of the closed form */
        ck_assert_int_eq(mist_task_spec_add_param(&sp, name, eps[j], &err), MIST_OK);
        /* uniform noise of half-width e on U(0,1): e - log 2e for e <= 1/2, else 1/(4e) */
        want += eps[j] <= 0.5 ? eps[j] - log(2 * eps[j]) : 1 / (4 * eps[j]);
    }
    ck_assert_uint_eq(sp.nparams, D);
    ck_assert_int_eq(mist_task_spec_copy(&copy, &sp, &err), MIST_OK);
    ck_assert_ptr_ne(copy.params, sp.params);
    ck_assert_uint_eq(copy.nparams, D);
    for (int j = 0; j < D; j++) {
        char name[16];
        snprintf(name, sizeof name, "eps%d", j + 1);
        ck_assert_str_eq(copy.params[j].name, name);
        CHECKM(copy.params[j].value == eps[j], "eps%d", j + 1);
    }
    mist_task_spec_clear(&sp);
    ck_assert_ptr_null(sp.params);
    ck_assert_uint_eq(sp.nparams, 0);
    mist_task_spec_clear(&sp); /* twice is fine */

    /* all D explicit: the dataset records exactly the given values and the closed-form MI */
    snprintf(copy.task, sizeof copy.task, "additive-base");
    copy.dx = copy.dy = D;
    copy.n = 20;
    copy.seed = 11;
    mist_dataset *ds = NULL;
    CHECKM(mist_gen_dataset(&ds, &copy, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(ds->meta.nparams, D);
    for (int j = 0; j < D; j++) {
        double v;
        char name[16];
        snprintf(name, sizeof name, "eps%d", j + 1);
        ck_assert(mist_meta_get_param(&ds->meta, name, &v));
        CHECKM(v == eps[j], "%s = %.17g, given %.17g", name, v, eps[j]);
    }
    CHECKM(fabs(ds->meta.mi - want) <= 1e-12 * want, "MI %.17g, closed form %.17g", ds->meta.mi,
           want);
    mist_dataset_free(ds);

    /* a parameter that does not apply is caught at any position, past 64 too */
    ck_assert_int_eq(mist_task_spec_add_param(&copy, "eps101", 0.5, &err), MIST_OK);
    mist_task *t = NULL;
    ck_assert_int_eq(mist_task_create(&t, "additive-base", D, D, copy.params, copy.nparams, 1, &err),
                     MIST_EINVAL);
    CHECKM(strstr(err.msg, "eps101") && strstr(err.msg, "does not apply"), "%s", err.msg);
    ck_assert_ptr_null(t);
    mist_task_spec_clear(&copy);

    /* bad names */
    ck_assert_int_eq(mist_task_spec_add_param(&sp, "", 1, &err), MIST_EINVAL);
    char longname[MIST_PARAM_NAME_LEN + 1];
    memset(longname, 'a', MIST_PARAM_NAME_LEN);
    longname[MIST_PARAM_NAME_LEN] = '\0';
    ck_assert_int_eq(mist_task_spec_add_param(&sp, longname, 1, &err), MIST_EINVAL);
    longname[MIST_PARAM_NAME_LEN - 1] = '\0'; /* the longest that fits */
    ck_assert_int_eq(mist_task_spec_add_param(&sp, longname, 1, &err), MIST_OK);
    ck_assert_str_eq(sp.params[0].name, longname);
    ck_assert_uint_eq(sp.nparams, 1);
    mist_task_spec_clear(&sp);
    mist_task_specs_free(NULL, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("official");
    tu_case(s, "official", 120, test_mi_matches_list, test_ids_and_seeds, test_sample_each_family,
            test_reader_strict, test_many_params, NULL);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
