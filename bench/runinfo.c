/* run.json: what was run into an output folder (one entry per suite with the settings that
 * decide its rows, and the estimator labels in table order). A rerun into the folder must
 * match the entry of its suite, so resumed rows never mix settings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "io_internal.h"
#include "mist_classical.h"
#include "mist_io.h"

#define RUNINFO_FORMAT "mist-bench-run"
#define RUNINFO_VERSION 2

void bench_runinfo_free(bench_runinfo *ri)
{
    free(ri->suites);
    free(ri->labels);
    free(ri->transforms);
    free(ri->commands);
    memset(ri, 0, sizeof *ri);
}

const bench_suite_info *bench_runinfo_suite(const bench_runinfo *ri, const char *suite)
{
    for (size_t i = 0; i < ri->nsuites; i++)
        if (!strcmp(ri->suites[i].suite, suite)) return &ri->suites[i];
    return NULL;
}

int bench_runinfo_add_suite(bench_runinfo *ri, const bench_suite_info *s, const char *where,
                            mist_err *err)
{
    const bench_suite_info *e = bench_runinfo_suite(ri, s->suite);
    if (e) {
        char what[128] = "";
        if (strcmp(e->source, s->source))
            snprintf(what, sizeof what, "source '%.40s' vs '%.40s'", e->source, s->source);
        else if (e->seed_lo != s->seed_lo || e->seed_hi != s->seed_hi)
            snprintf(what, sizeof what, "suite seeds %llu-%llu vs %llu-%llu",
                     (unsigned long long)e->seed_lo, (unsigned long long)e->seed_hi,
                     (unsigned long long)s->seed_lo, (unsigned long long)s->seed_hi);
        else if (e->n != s->n) snprintf(what, sizeof what, "--n %zu vs %zu", e->n, s->n);
        else if (e->bootstrap != s->bootstrap)
            snprintf(what, sizeof what, "--bootstrap %d vs %d", e->bootstrap, s->bootstrap);
        else if (fabs(e->ci - s->ci) > 1e-12)
            snprintf(what, sizeof what, "--ci %g vs %g", e->ci, s->ci);
        else if (e->score_bootstrap != s->score_bootstrap) {
            char a[32], b[32];
            bench_score_text(a, sizeof a, e->score_bootstrap);
            bench_score_text(b, sizeof b, s->score_bootstrap);
            snprintf(what, sizeof what, "--score %s vs %s", a, b);
        }
        else if (e->datasets != s->datasets)
            snprintf(what, sizeof what, "%zu vs %zu datasets", e->datasets, s->datasets);
        if (what[0])
            return mist_fail(err, MIST_EINVAL,
                             "%s already holds a run of suite '%s' with other settings (%s); "
                             "use another output folder or the same settings",
                             where, s->suite, what);
        return MIST_OK;
    }
    bench_suite_info *g = realloc(ri->suites, (ri->nsuites + 1) * sizeof *g);
    if (!g) return mist_fail(err, MIST_ENOMEM, "out of memory");
    ri->suites = g;
    ri->suites[ri->nsuites++] = *s;
    return MIST_OK;
}

/* "NAME:V": a classical estimator's version fingerprint (bench_est_rt.fingerprint) */
static int is_version_fp(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c || c == s || (size_t)(c - s) >= 16 || !c[1]) return 0;
    char name[16];
    memcpy(name, s, (size_t)(c - s));
    name[c - s] = '\0';
    for (const char *p = c + 1; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return mist_est_known(name);
}

int bench_runinfo_has_label(const bench_runinfo *ri, const char *label)
{
    for (size_t i = 0; i < ri->nlabels; i++)
        if (!strcmp(ri->labels[i], label)) return 1;
    return 0;
}

const char *bench_runinfo_command(const bench_runinfo *ri, const char *label)
{
    for (size_t i = 0; i < ri->ncommands; i++)
        if (!strcmp(ri->commands[i].label, label)) return ri->commands[i].command;
    return NULL;
}

int bench_runinfo_add_label(bench_runinfo *ri, const char *label, mist_err *err)
{
    if (bench_runinfo_has_label(ri, label)) return MIST_OK;
    if (strlen(label) >= MIST_BENCH_LABEL_LEN)
        return mist_fail(err, MIST_EINVAL, "estimator label too long");
    char(*g)[MIST_BENCH_LABEL_LEN] = realloc(ri->labels, (ri->nlabels + 1) * sizeof *g);
    if (!g) return mist_fail(err, MIST_ENOMEM, "out of memory");
    ri->labels = g;
    strcpy(ri->labels[ri->nlabels++], label);
    return MIST_OK;
}

void bench_score_text(char *buf, size_t cap, int score_bootstrap)
{
    if (score_bootstrap > 0) snprintf(buf, cap, "bootstrap:%d", score_bootstrap);
    else snprintf(buf, cap, "single");
}

int bench_runinfo_add_transform(bench_runinfo *ri, const char *name, mist_err *err)
{
    for (size_t i = 0; i < ri->ntransforms; i++)
        if (!strcmp(ri->transforms[i], name)) return MIST_OK;
    if (strlen(name) >= BENCH_TRANSFORM_LEN)
        return mist_fail(err, MIST_EINVAL, "transform name too long");
    char(*g)[BENCH_TRANSFORM_LEN] = realloc(ri->transforms, (ri->ntransforms + 1) * sizeof *g);
    if (!g) return mist_fail(err, MIST_ENOMEM, "out of memory");
    ri->transforms = g;
    strcpy(ri->transforms[ri->ntransforms++], name);
    return MIST_OK;
}

int bench_runinfo_add_command(bench_runinfo *ri, const char *label, const char *command,
                              const char *where, mist_err *err)
{
    const char *old = bench_runinfo_command(ri, label);
    if (old) {
        if (!strcmp(old, command)) return MIST_OK;
        if (!strncmp(command, "weights:", 8))
            return mist_fail(err, MIST_EINVAL,
                             "%s already holds rows of estimator '%s' from other weights or guard "
                             "rules (%s, now %s: the model file, the second model it routes to, "
                             "or the guard changed); use another output folder, or copy the "
                             "model to a new name",
                             where, label, old, command);
        if (is_version_fp(command))
            return mist_fail(err, MIST_EINVAL,
                             "%s already holds rows of estimator '%s' from another version of it "
                             "(%s, now %s); use another output folder",
                             where, label, old, command);
        return mist_fail(err, MIST_EINVAL,
                         "%s already holds rows of estimator '%s' with another command ('%.200s'); "
                         "give the new command another name or use another output folder",
                         where, label, old);
    }
    if (strlen(label) >= MIST_BENCH_LABEL_LEN || strlen(command) >= MIST_BENCH_CMD_LEN)
        return mist_fail(err, MIST_EINVAL, "estimator '%.100s': label or command too long", label);
    struct bench_command *g = realloc(ri->commands, (ri->ncommands + 1) * sizeof *g);
    if (!g) return mist_fail(err, MIST_ENOMEM, "out of memory");
    ri->commands = g;
    strcpy(g[ri->ncommands].label, label);
    strcpy(g[ri->ncommands].command, command);
    ri->ncommands++;
    return MIST_OK;
}

size_t bench_transform_order(const bench_runinfo *ri, const char *name)
{
    if (!strcmp(name, "none")) return 0;
    for (size_t i = 0; ri && i < ri->ntransforms; i++)
        if (!strcmp(ri->transforms[i], name)) return i + 1;
    return SIZE_MAX;
}

/* ---- writing --------------------------------------------------------------------------------- */

int bench_runinfo_write(const char *dir, const bench_runinfo *ri, mist_err *err)
{
    char path[BENCH_PATH_LEN + 32];
    int rc = bench_path(path, sizeof path, dir, BENCH_RUNINFO, err);
    if (rc) return rc;
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    FILE *f = mist_atomic_stream(af);
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"suites\": [", RUNINFO_FORMAT,
            RUNINFO_VERSION);
    for (size_t i = 0; i < ri->nsuites; i++) {
        const bench_suite_info *s = &ri->suites[i];
        fprintf(f, "%s\n    {\"suite\": ", i ? "," : "");
        mist_json_put_string(f, s->suite);
        fprintf(f, ", \"source\": ");
        mist_json_put_string(f, s->source);
        fprintf(f,
                ", \"seed_lo\": %llu, \"seed_hi\": %llu, \"n\": %zu, \"bootstrap\": %d, "
                "\"ci\": %.17g, \"score_bootstrap\": %d, \"datasets\": %zu}",
                (unsigned long long)s->seed_lo, (unsigned long long)s->seed_hi, s->n, s->bootstrap,
                s->ci, s->score_bootstrap, s->datasets);
    }
    fprintf(f, "\n  ],\n  \"estimators\": [");
    for (size_t i = 0; i < ri->nlabels; i++) {
        fputs(i ? ", " : "", f);
        mist_json_put_string(f, ri->labels[i]);
    }
    fprintf(f, "],\n  \"transforms\": [");
    for (size_t i = 0; i < ri->ntransforms; i++) {
        fputs(i ? ", " : "", f);
        mist_json_put_string(f, ri->transforms[i]);
    }
    fprintf(f, "],\n  \"commands\": [");
    for (size_t i = 0; i < ri->ncommands; i++) {
        fprintf(f, "%s\n    {\"label\": ", i ? "," : "");
        mist_json_put_string(f, ri->commands[i].label);
        fprintf(f, ", \"command\": ");
        mist_json_put_string(f, ri->commands[i].command);
        fputc('}', f);
    }
    fprintf(f, "]\n}\n");
    return mist_atomic_commit(af, err);
}

/* ---- reading --------------------------------------------------------------------------------- */

static const mist_json *member(const mist_json *o, const char *key)
{
    if (o->type != MIST_JSON_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return &o->items[i];
    return NULL;
}

static int get_str(const mist_json *o, const char *key, char *dst, size_t cap)
{
    const mist_json *v = member(o, key);
    if (!v || v->type != MIST_JSON_STR || strlen(v->str) >= cap) return -1;
    strcpy(dst, v->str);
    return 0;
}

static int get_u64(const mist_json *o, const char *key, uint64_t *out)
{
    const mist_json *v = member(o, key);
    return v && v->type == MIST_JSON_NUM ? mist_json_u64(v, out) : -1;
}

int bench_runinfo_read(const char *dir, bench_runinfo *ri, int *found, mist_err *err)
{
    memset(ri, 0, sizeof *ri);
    *found = 0;
    char path[BENCH_PATH_LEN + 32];
    int rc = bench_path(path, sizeof path, dir, BENCH_RUNINFO, err);
    if (rc) return rc;
    unsigned char *buf = NULL;
    size_t len = 0;
    int missing = 0;
    rc = mist_io_slurp(path, (size_t)16 << 20, &buf, &len, &missing, err);
    if (rc) {
        if (missing) {
            mist_err_clear(err);
            return MIST_OK;
        }
        return rc;
    }
    *found = 1;
    mist_json root;
    rc = mist_json_parse(path, (const char *)buf, len, &root, err);
    if (rc) {
        free(buf);
        return rc;
    }
    char fmt[64];
    uint64_t ver = 0;
    const mist_json *suites = member(&root, "suites"), *labels = member(&root, "estimators");
    const mist_json *transforms = member(&root, "transforms");
    const mist_json *commands = member(&root, "commands");
    if (get_str(&root, "format", fmt, sizeof fmt) || strcmp(fmt, RUNINFO_FORMAT) ||
        get_u64(&root, "version", &ver)) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s' is not a mist bench run file", path);
        goto done;
    }
    if (ver != RUNINFO_VERSION) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s' is a mist bench run file of version %llu; this mist reads version "
                       "%d: run into a new output folder",
                       path, (unsigned long long)ver, RUNINFO_VERSION);
        goto done;
    }
    if (!suites || suites->type != MIST_JSON_ARR || !labels || labels->type != MIST_JSON_ARR ||
        !transforms || transforms->type != MIST_JSON_ARR || !commands ||
        commands->type != MIST_JSON_ARR) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s' is not a mist bench run file (version %d)", path,
                       RUNINFO_VERSION);
        goto done;
    }
    for (size_t i = 0; i < suites->n && !rc; i++) {
        const mist_json *o = &suites->items[i];
        bench_suite_info s;
        memset(&s, 0, sizeof s);
        uint64_t n = 0, b = 0, d = 0, sb = 0;
        const mist_json *ci = member(o, "ci");
        if (get_str(o, "suite", s.suite, sizeof s.suite) ||
            get_str(o, "source", s.source, sizeof s.source) || get_u64(o, "seed_lo", &s.seed_lo) ||
            get_u64(o, "seed_hi", &s.seed_hi) || get_u64(o, "n", &n) ||
            get_u64(o, "bootstrap", &b) || b > 100000000 || get_u64(o, "score_bootstrap", &sb) ||
            sb > 100000000 || get_u64(o, "datasets", &d) || !ci ||
            mist_json_double(ci, 0, &s.ci)) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': suite entry %zu is malformed", path, i + 1);
            break;
        }
        s.n = (size_t)n;
        s.bootstrap = (int)b;
        s.score_bootstrap = (int)sb;
        s.datasets = (size_t)d;
        rc = bench_runinfo_add_suite(ri, &s, path, err);
    }
    for (size_t i = 0; i < labels->n && !rc; i++) {
        if (labels->items[i].type != MIST_JSON_STR) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': estimator %zu is not a string", path, i + 1);
            break;
        }
        rc = bench_runinfo_add_label(ri, labels->items[i].str, err);
    }
    for (size_t i = 0; i < transforms->n && !rc; i++) {
        if (transforms->items[i].type != MIST_JSON_STR) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': transform %zu is not a string", path, i + 1);
            break;
        }
        rc = bench_runinfo_add_transform(ri, transforms->items[i].str, err);
    }
    for (size_t i = 0; i < commands->n && !rc; i++) {
        char label[MIST_BENCH_LABEL_LEN], command[MIST_BENCH_CMD_LEN];
        if (get_str(&commands->items[i], "label", label, sizeof label) ||
            get_str(&commands->items[i], "command", command, sizeof command)) {
            rc = mist_fail(err, MIST_EFORMAT, "'%s': command %zu is malformed", path, i + 1);
            break;
        }
        rc = bench_runinfo_add_command(ri, label, command, path, err);
    }
done:
    mist_json_free(&root);
    free(buf);
    if (rc) bench_runinfo_free(ri);
    return rc;
}
