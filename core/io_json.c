/* The JSON sidecar (NAME.json next to NAME.npy / NAME.csv) that carries a dataset's metadata,
 * and the small strict JSON parser that reads it back. The parser accepts RFC 8259 JSON only
 * (no comments, no trailing commas, no NaN literals, no duplicate keys); numbers keep their
 * source text so that 64-bit seeds are read exactly rather than through a double. */
#include "io_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64
#define SIDECAR_MAX_BYTES (16u << 20)

/* ---- a tiny DOM ------------------------------------------------------------------------- */

/* The DOM types live in io_internal.h (mist_json) so that other readers can use the parser;
 * the short names below keep this file readable. */
typedef mist_json jv;
#define JV_NULL MIST_JSON_NULL
#define JV_BOOL MIST_JSON_BOOL
#define JV_NUM MIST_JSON_NUM
#define JV_STR MIST_JSON_STR
#define JV_ARR MIST_JSON_ARR
#define JV_OBJ MIST_JSON_OBJ

void mist_json_free(jv *v)
{
    if (v->type == JV_STR) free(v->str);
    if (v->type == JV_ARR || v->type == JV_OBJ) {
        for (size_t i = 0; i < v->n; i++) {
            mist_json_free(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

typedef struct jparser {
    const char *s;
    size_t len, pos;
    int depth;
    const char *why; /* static reason for the first failure */
    int nomem;
} jparser;

static int jfail(jparser *p, const char *why)
{
    if (!p->why) p->why = why;
    return -1;
}

static void jws(jparser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_u4(jparser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return jfail(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + (size_t)i]);
        if (h < 0) return jfail(p, "bad \\u escape");
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

/* Parses a string at p->pos (which is at the opening quote) into a fresh buffer. */
static int jstring(jparser *p, char **out)
{
    p->pos++; /* opening quote */
    /* Decoding never lengthens the text (an escape of k bytes yields at most k bytes), so the
     * raw span bounds the buffer. Find the closing quote first. */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return jfail(p, "unterminated string");
    char *buf = malloc(end - p->pos + 1);
    if (!buf) {
        p->nomem = 1;
        return jfail(p, "out of memory");
    }
    size_t k = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) goto bad_ctl;
        if (c != '\\') {
            buf[k++] = (char)c;
            p->pos++;
            continue;
        }
        char e = p->s[++p->pos];
        p->pos++;
        switch (e) {
        case '"': buf[k++] = '"'; break;
        case '\\': buf[k++] = '\\'; break;
        case '/': buf[k++] = '/'; break;
        case 'b': buf[k++] = '\b'; break;
        case 'f': buf[k++] = '\f'; break;
        case 'n': buf[k++] = '\n'; break;
        case 'r': buf[k++] = '\r'; break;
        case 't': buf[k++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (read_u4(p, &cp)) goto fail;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                jfail(p, "lone low surrogate in \\u escape");
                goto fail;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    jfail(p, "lone high surrogate in \\u escape");
                    goto fail;
                }
                p->pos += 2;
                if (read_u4(p, &lo)) goto fail;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    jfail(p, "bad surrogate pair in \\u escape");
                    goto fail;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) {
                /* Our strings are C strings; a NUL would silently truncate them. */
                jfail(p, "\\u0000 in a string is not supported");
                goto fail;
            }
            if (cp < 0x80) {
                buf[k++] = (char)cp;
            } else if (cp < 0x800) {
                buf[k++] = (char)(0xC0 | cp >> 6);
                buf[k++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[k++] = (char)(0xE0 | cp >> 12);
                buf[k++] = (char)(0x80 | (cp >> 6 & 0x3F));
                buf[k++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[k++] = (char)(0xF0 | cp >> 18);
                buf[k++] = (char)(0x80 | (cp >> 12 & 0x3F));
                buf[k++] = (char)(0x80 | (cp >> 6 & 0x3F));
                buf[k++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: jfail(p, "bad escape in string"); goto fail;
        }
    }
    p->pos++; /* closing quote */
    buf[k] = '\0';
    *out = buf;
    return 0;
bad_ctl:
    jfail(p, "control character in string");
fail:
    free(buf);
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int jnumber(jparser *p, jv *v)
{
    size_t start = p->pos;
    if (p->pos < p->len && p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) return jfail(p, "bad number");
    if (p->s[p->pos] == '0') p->pos++;
    else
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) return jfail(p, "bad number");
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) return jfail(p, "bad number");
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    v->type = JV_NUM;
    v->num = p->s + start;
    v->numlen = p->pos - start;
    return 0;
}

static int jlit(jparser *p, const char *word)
{
    size_t l = strlen(word);
    if (p->len - p->pos < l || memcmp(p->s + p->pos, word, l) != 0)
        return jfail(p, "unexpected character");
    p->pos += l;
    return 0;
}

static int jvalue(jparser *p, jv *v);

/* Appends one element (and for objects its key) to a container, growing its arrays. */
static int jpush(jparser *p, jv *c, size_t *cap, char *key, jv *item)
{
    if (c->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        jv *ni = realloc(c->items, ncap * sizeof *ni);
        if (ni) c->items = ni;
        char **nk = NULL;
        if (ni && c->type == JV_OBJ) {
            nk = realloc(c->keys, ncap * sizeof *nk);
            if (nk) c->keys = nk;
        }
        if (!ni || (c->type == JV_OBJ && !nk)) {
            p->nomem = 1;
            return jfail(p, "out of memory");
        }
        *cap = ncap;
    }
    c->items[c->n] = *item;
    if (c->type == JV_OBJ) c->keys[c->n] = key;
    c->n++;
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A member name given twice is an error. Checked once the object is complete, by sorting a
 * copy of its names: O(n log n), where comparing each new name with all before it was
 * quadratic (a sidecar of 20,000 parameters took seconds). */
static int unique_keys(jparser *p, const jv *v)
{
    if (v->n < 2) return 0;
    char **k = malloc(v->n * sizeof *k);
    if (!k) {
        p->nomem = 1;
        return jfail(p, "out of memory");
    }
    memcpy(k, v->keys, v->n * sizeof *k);
    qsort(k, v->n, sizeof *k, cmp_key);
    int dup = 0;
    for (size_t i = 1; i < v->n && !dup; i++) dup = strcmp(k[i - 1], k[i]) == 0;
    free(k);
    return dup ? jfail(p, "duplicate member name") : 0;
}

static int jcontainer(jparser *p, jv *v, int is_obj)
{
    if (++p->depth > JSON_MAX_DEPTH) return jfail(p, "nesting too deep");
    char close = is_obj ? '}' : ']';
    v->type = is_obj ? JV_OBJ : JV_ARR;
    size_t cap = 0;
    p->pos++;
    jws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        jws(p);
        if (is_obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"') return jfail(p, "expected a member name");
            if (jstring(p, &key)) return -1;
            jws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                return jfail(p, "expected ':'");
            }
            p->pos++;
        }
        jv item;
        memset(&item, 0, sizeof item);
        if (jvalue(p, &item) || jpush(p, v, &cap, key, &item)) {
            mist_json_free(&item);
            free(key);
            return -1;
        }
        jws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            p->depth--;
            return is_obj ? unique_keys(p, v) : 0;
        }
        return jfail(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int jvalue(jparser *p, jv *v)
{
    jws(p);
    if (p->pos >= p->len) return jfail(p, "unexpected end of input");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return jcontainer(p, v, 1);
    case '[': return jcontainer(p, v, 0);
    case '"':
        v->type = JV_STR;
        return jstring(p, &v->str);
    case 't': v->type = JV_BOOL; v->boolean = 1; return jlit(p, "true");
    case 'f': v->type = JV_BOOL; v->boolean = 0; return jlit(p, "false");
    case 'n': v->type = JV_NULL; return jlit(p, "null");
    default:
        if (c == '-' || is_digit(c)) return jnumber(p, v);
        return jfail(p, "unexpected character");
    }
}

/* Parses a whole document; on failure fills err with the reason and line. */
int mist_json_parse(const char *path, const char *s, size_t len, jv *root, mist_err *err)
{
    jparser p = {s, len, 0, 0, NULL, 0};
    memset(root, 0, sizeof *root);
    if (jvalue(&p, root) == 0) {
        jws(&p);
        if (p.pos == p.len) return MIST_OK;
        jfail(&p, "unexpected text after the JSON value");
    }
    mist_json_free(root);
    if (p.nomem) return mist_fail(err, MIST_ENOMEM, "out of memory parsing '%s'", path);
    size_t line = 1;
    for (size_t i = 0; i < p.pos && i < len; i++)
        if (s[i] == '\n') line++;
    return mist_fail(err, MIST_EFORMAT, "'%s': invalid JSON at line %zu (byte %zu): %s", path,
                     line, p.pos, p.why ? p.why : "syntax error");
}

/* ---- typed access ----------------------------------------------------------------------- */

/* A JSON number that is a non-negative integer, exactly (no fraction, no exponent). */
int mist_json_u64(const jv *v, uint64_t *out)
{
    return v->type == JV_NUM ? mist_io_parse_u64(v->num, v->numlen, out) : -1;
}

/* Any JSON number as a double; null as NaN when allow_null. Overflowing literals (the writer's
 * 1e999 for infinity) become +-inf, as strtod makes them. */
int mist_json_double(const jv *v, int allow_null, double *out)
{
    if (v->type == JV_NULL && allow_null) {
        *out = NAN;
        return 0;
    }
    if (v->type != JV_NUM) return -1;
    char tmp[64];
    if (v->numlen >= sizeof tmp) {
        /* Very long literals are legal JSON; copy them to the heap. */
        char *h = malloc(v->numlen + 1);
        if (!h) return -1;
        memcpy(h, v->num, v->numlen);
        h[v->numlen] = '\0';
        *out = strtod(h, NULL);
        free(h);
        return 0;
    }
    memcpy(tmp, v->num, v->numlen);
    tmp[v->numlen] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

/* The "params" object into meta in file order, in one pass: setting the values one by one
 * (each a search and a realloc) was quadratic. The parser has already refused a name given
 * twice. */
static int read_params(const jv *v, const char *path, mist_meta *meta, const char **bad,
                       mist_err *err)
{
    if (v->n == 0) return MIST_OK;
    mist_param *p = calloc(v->n, sizeof *p);
    if (!p) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    for (size_t j = 0; j < v->n && !*bad; j++) {
        if (mist_json_double(&v->items[j], 1, &p[j].value) || v->keys[j][0] == '\0' ||
            strlen(v->keys[j]) >= MIST_PARAM_NAME_LEN)
            *bad = "params";
        else
            strcpy(p[j].name, v->keys[j]);
    }
    if (*bad) {
        free(p);
        return MIST_OK;
    }
    meta->params = p;
    meta->nparams = v->n;
    return MIST_OK;
}

static int copy_str(const jv *v, char *dst, size_t dstsz)
{
    if (v->type != JV_STR || strlen(v->str) >= dstsz) return -1;
    strcpy(dst, v->str);
    return 0;
}

/* ---- the sidecar ------------------------------------------------------------------------ */

int mist_sidecar_read(const char *path, mist_sidecar *sc, int *found, mist_err *err)
{
    memset(sc, 0, sizeof *sc);
    sc->meta.mi = NAN;
    *found = 0;
    unsigned char *buf;
    size_t len;
    int missing;
    int rc = mist_io_slurp(path, SIDECAR_MAX_BYTES, &buf, &len, &missing, err);
    if (rc) {
        if (missing) {
            mist_err_clear(err);
            return MIST_OK;
        }
        return rc;
    }
    jv root;
    rc = mist_json_parse(path, (const char *)buf, len, &root, err);
    if (rc) {
        free(buf);
        return rc;
    }
    int have_format = 0, have_dx = 0, have_dy = 0, have_n = 0, have_tseed = 0;
    const char *bad = NULL;
    if (root.type != JV_OBJ) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': expected a JSON object", path);
        goto out;
    }
    for (size_t i = 0; i < root.n && !bad && !rc; i++) {
        const char *k = root.keys[i];
        const jv *v = &root.items[i];
        uint64_t u;
        if (strcmp(k, "format") == 0) {
            if (v->type != JV_STR || strcmp(v->str, "mist-dataset") != 0) bad = k;
            have_format = 1;
        } else if (strcmp(k, "generator_version") == 0) {
            if (copy_str(v, sc->meta.generator_version, sizeof sc->meta.generator_version))
                bad = k;
        } else if (strcmp(k, "task") == 0) {
            if (copy_str(v, sc->meta.task, sizeof sc->meta.task)) bad = k;
        } else if (strcmp(k, "dx") == 0 || strcmp(k, "dy") == 0) {
            if (mist_json_u64(v, &u) || u < 1 || u > INT_MAX) bad = k;
            else if (k[1] == 'x') sc->dx = (int)u, have_dx = 1;
            else sc->dy = (int)u, have_dy = 1;
        } else if (strcmp(k, "n") == 0) {
            if (mist_json_u64(v, &sc->n) || sc->n > SIZE_MAX) bad = k;
            have_n = 1;
        } else if (strcmp(k, "seed") == 0) {
            if (v->type == JV_NULL) sc->meta.has_seed = 0;
            else if (mist_json_u64(v, &sc->meta.seed)) bad = k;
            else sc->meta.has_seed = 1;
        } else if (strcmp(k, "mi") == 0) {
            /* null: unknown. A literal like 1e999 reads as inf, and MI is never negative: a
             * sidecar with either would hand a benchmark a false truth. */
            if (mist_json_double(v, 1, &sc->meta.mi) ||
                (v->type != JV_NULL && !(isfinite(sc->meta.mi) && sc->meta.mi >= 0.0)))
                bad = k;
        } else if (strcmp(k, "transform") == 0) {
            if (copy_str(v, sc->meta.transform, sizeof sc->meta.transform) ||
                !sc->meta.transform[0])
                bad = k;
        } else if (strcmp(k, "transform_seed") == 0) {
            if (mist_json_u64(v, &sc->meta.transform_seed)) bad = k;
            have_tseed = 1;
        } else if (strcmp(k, "params") == 0) {
            if (v->type != JV_OBJ || sc->meta.params) bad = k;
            else rc = read_params(v, path, &sc->meta, &bad, err);
        } else if (strcmp(k, "dtype") == 0) {
            if (v->type == JV_STR && strcmp(v->str, "f64") == 0) sc->dtype = MIST_DTYPE_F64;
            else if (v->type == JV_STR && strcmp(v->str, "f32") == 0) sc->dtype = MIST_DTYPE_F32;
            else bad = k;
        } else if (strcmp(k, "file") == 0) {
            /* a name too long to keep is no name this reader could match */
            if (v->type != JV_STR || copy_str(v, sc->file, sizeof sc->file)) bad = k;
        }
        /* Unknown keys are ignored: later versions may add fields. */
    }
    if (rc) goto out;
    if (bad) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': invalid value for \"%s\"%s", path, bad,
                       strcmp(bad, "mi") ? "" : " (the true MI: a finite number >= 0, or null)");
    } else if (!have_format || !have_dx || !have_dy || !have_n) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': missing \"%s\"", path,
                       !have_format ? "format" : !have_dx ? "dx" : !have_dy ? "dy" : "n");
    } else if (sc->dx > INT_MAX - sc->dy) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': dx + dy is too large", path);
    } else if (!sc->meta.transform[0] != !have_tseed) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': \"%s\" without \"%s\"", path,
                       have_tseed ? "transform_seed" : "transform",
                       have_tseed ? "transform" : "transform_seed");
    }
out:
    mist_json_free(&root);
    free(buf);
    if (rc) mist_meta_clear(&sc->meta);
    else *found = 1;
    return rc;
}

int mist_sidecar_write(FILE *f, const char *name, const mist_dataset *ds, mist_dtype dtype,
                       const char *data_file, mist_err *err)
{
    const mist_meta *m = &ds->meta;
    int bad = 0;
    bad |= fputs("{\n  \"format\": \"mist-dataset\",\n  \"generator_version\": ", f) < 0;
    bad |= mist_json_put_string(f, m->generator_version);
    bad |= fputs(",\n  \"task\": ", f) < 0;
    bad |= mist_json_put_string(f, m->task);
    bad |= fprintf(f, ",\n  \"dx\": %d,\n  \"dy\": %d,\n  \"n\": %zu,\n  \"seed\": ", ds->dx, ds->dy,
                   ds->n) < 0;
    if (m->has_seed) bad |= fprintf(f, "%llu", (unsigned long long)m->seed) < 0;
    else bad |= fputs("null", f) < 0;
    bad |= fputs(",\n  \"mi\": ", f) < 0;
    bad |= mist_json_put_number(f, m->mi);
    if (m->transform[0]) { /* only then: untransformed sidecars keep their bytes */
        bad |= fputs(",\n  \"transform\": ", f) < 0;
        bad |= mist_json_put_string(f, m->transform);
        bad |= fprintf(f, ",\n  \"transform_seed\": %llu",
                       (unsigned long long)m->transform_seed) < 0;
    }
    bad |= fputs(",\n  \"params\": {", f) < 0;
    for (size_t i = 0; i < m->nparams; i++) {
        bad |= fputs(i ? ", " : "", f) < 0;
        bad |= mist_json_put_string(f, m->params[i].name);
        bad |= fputs(": ", f) < 0;
        bad |= mist_json_put_number(f, m->params[i].value);
    }
    bad |= fprintf(f, "},\n  \"dtype\": \"%s\",\n  \"file\": ",
                   dtype == MIST_DTYPE_F32 ? "f32" : "f64") < 0;
    bad |= mist_json_put_string(f, data_file);
    bad |= fputs("\n}\n", f) < 0;
    if (bad || ferror(f)) return mist_fail(err, MIST_EIO, "cannot write '%s'", name);
    return MIST_OK;
}
