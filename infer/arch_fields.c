/* The architecture's fields, one table (arch_fields.h), and everything that walks it: parsing
 * and printing values, the msgpack "arch" map, the public field accessors. */
#include "arch_fields.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "mp_util.h"

#define F(k, al, t, lo, hi, tr) {#k, al, t, offsetof(mist_arch, k), lo, hi, tr, 0}
#define OPT(k, t, lo, hi) {#k, NULL, t, offsetof(mist_arch, k), lo, hi, 0, 1}
/* Ranges bound what a hostile file can make us allocate; cross-field rules (D % H, the layouts'
 * widths, n_min <= n_max) live in mist_arch_validate. */
const arch_field arch_field_tab[] = {
    F(input_layout, "layout", AF_LAYOUT, 0, 2, 0),
    F(preprocess, NULL, AF_PREP, 0, 2, 0),
    F(max_input_dim, NULL, AF_INT, 1, MIST_MAX_INPUT, 0),
    F(max_dx, NULL, AF_INT, 1, MIST_MAX_INPUT, 0),
    F(max_dy, NULL, AF_INT, 1, MIST_MAX_INPUT, 0),
    F(D, NULL, AF_INT, 1, MIST_MAX_WIDTH, 0),
    F(H, "heads", AF_INT, 1, MIST_MAX_WIDTH, 0),
    F(ff, NULL, AF_INT, 1, MIST_MAX_WIDTH, 0),
    F(n_inds, NULL, AF_INT, 1, MIST_MAX_TOKENS, 0),
    F(n_seeds, NULL, AF_INT, 1, MIST_MAX_TOKENS, 0),
    F(n_feature_sab, NULL, AF_INT, 0, MIST_MAX_LAYERS, 0),
    F(n_isab, NULL, AF_INT, 0, MIST_MAX_LAYERS, 0),
    F(n_dec, NULL, AF_INT, 0, MIST_MAX_LAYERS, 0),
    F(n_rho, NULL, AF_INT, 1, MIST_MAX_LAYERS, 0),
    F(rho_hidden, NULL, AF_INT, 1, MIST_MAX_WIDTH, 0),
    F(quantile_conditioned, NULL, AF_BOOL, 0, 1, 0),
    F(activation, NULL, AF_ACT, 0, 1, 0),
    F(ln_eps, NULL, AF_F64, 0, 1, 0),
    F(n_min, NULL, AF_I64, 1, 1e15, 1),
    F(n_max, NULL, AF_I64, 1, 1e15, 1),
    F(d_min, NULL, AF_I64, 1, 1e15, 1),
    F(d_max, NULL, AF_I64, 1, 1e15, 1),
    OPT(gauss_base, AF_BOOL, 0, 1),
    OPT(gauss_base_unbiased, AF_BOOL, 0, 1),
    OPT(ksg_feature, AF_BOOL, 0, 1),
    OPT(sign_canon, AF_BOOL, 0, 1),
    OPT(gauss_base_cap, AF_BOOL, 0, 1),
    OPT(sum_head, AF_BOOL, 0, 1),
};
#undef F
#undef OPT
const size_t arch_field_n = sizeof arch_field_tab / sizeof arch_field_tab[0];

static const char *enum_name(int type, int v)
{
    return type == AF_LAYOUT ? mist_layout_name(v)
           : type == AF_PREP ? mist_prep_name(v)
                             : mist_act_name(v);
}

/* The code of an enum value's name (len bytes), -1 when unknown. */
static int enum_code(int type, const char *s, size_t len)
{
    for (int v = 0; v < 8; v++) {
        const char *n = enum_name(type, v);
        if (strcmp(n, "?") && strlen(n) == len && !memcmp(n, s, len)) return v;
    }
    return -1;
}

static int key_eq(const char *name, const char *key, size_t klen)
{
    return name && strlen(name) == klen && !memcmp(name, key, klen);
}

const arch_field *arch_field_find(const char *key, size_t klen)
{
    for (size_t i = 0; i < arch_field_n; i++)
        if (key_eq(arch_field_tab[i].name, key, klen) || key_eq(arch_field_tab[i].alias, key, klen))
            return &arch_field_tab[i];
    return NULL;
}

double arch_field_value(const arch_field *f, const mist_arch *a)
{
    const char *p = (const char *)a + f->off;
    int iv;
    int64_t lv;
    double dv;
    switch (f->type) {
    case AF_I64: memcpy(&lv, p, sizeof lv); return (double)lv;
    case AF_F64: memcpy(&dv, p, sizeof dv); return dv;
    default: memcpy(&iv, p, sizeof iv); return iv;
    }
}

static int in_range(const arch_field *f, double v)
{
    return f->type == AF_F64 ? v > f->lo && v <= f->hi : v >= f->lo && v <= f->hi;
}

/* Stores v (already known to be in range and integral where it must be). */
static void store(const arch_field *f, mist_arch *a, double v)
{
    char *p = (char *)a + f->off;
    if (f->type == AF_F64) {
        memcpy(p, &v, sizeof v);
    } else if (f->type == AF_I64) {
        int64_t lv = (int64_t)v;
        memcpy(p, &lv, sizeof lv);
    } else {
        int iv = (int)v;
        memcpy(p, &iv, sizeof iv);
    }
}

int arch_field_parse(const arch_field *f, mist_arch *a, const char *text, mist_err *err)
{
    double v;
    if (f->type == AF_LAYOUT || f->type == AF_PREP || f->type == AF_ACT) {
        int c = enum_code(f->type, text, strlen(text));
        if (c < 0) {
            char opts[64] = "";
            for (int i = 0; strcmp(enum_name(f->type, i), "?"); i++)
                snprintf(opts + strlen(opts), sizeof opts - strlen(opts), "%s%s", i ? ", " : "",
                         enum_name(f->type, i));
            return mist_fail(err, MIST_EINVAL, "arch %s is one of %s (got '%s')", f->name, opts,
                             text);
        }
        v = c;
    } else if (f->type == AF_BOOL && (!strcmp(text, "true") || !strcmp(text, "false"))) {
        v = text[0] == 't';
    } else {
        char *end;
        errno = 0;
        v = f->type == AF_F64 ? strtod(text, &end) : (double)strtoll(text, &end, 10);
        if (end == text || *end || errno || !isfinite(v))
            return mist_fail(err, MIST_EINVAL, "arch %s wants %s (got '%s')", f->name,
                             f->type == AF_F64 ? "a number" : "an integer", text);
    }
    if (!in_range(f, v))
        return mist_fail(err, MIST_EINVAL, "arch %s = %s is outside %s%g..%g", f->name, text,
                         f->type == AF_F64 ? "(exclusive) " : "", f->lo, f->hi);
    store(f, a, v);
    return MIST_OK;
}

void arch_field_text(const arch_field *f, const mist_arch *a, char *buf, size_t bufsz)
{
    double v = arch_field_value(f, a);
    switch (f->type) {
    case AF_LAYOUT:
    case AF_PREP:
    case AF_ACT: snprintf(buf, bufsz, "%s", enum_name(f->type, (int)v)); break;
    case AF_BOOL: snprintf(buf, bufsz, "%s", v != 0 ? "true" : "false"); break;
    case AF_F64: snprintf(buf, bufsz, "%g", v); break;
    default: snprintf(buf, bufsz, "%.0f", v); break;
    }
}

/* ---- public accessors ------------------------------------------------------------------- */

size_t mist_arch_field_count(void) { return arch_field_n; }

const char *mist_arch_field_name(size_t i)
{
    return i < arch_field_n ? arch_field_tab[i].name : NULL;
}

int mist_arch_field_text(const mist_arch *a, size_t i, char *buf, size_t bufsz)
{
    if (!a || !buf || !bufsz || i >= arch_field_n) return MIST_EINVAL;
    arch_field_text(&arch_field_tab[i], a, buf, bufsz);
    return MIST_OK;
}

int mist_arch_field_set(mist_arch *a, const char *key, const char *value, mist_err *err)
{
    if (!a || !key || !value) return mist_fail(err, MIST_EINVAL, "arch, key and value must be set");
    const arch_field *f = arch_field_find(key, strlen(key));
    if (!f) return mist_fail(err, MIST_EINVAL, "unknown arch key '%s'", key);
    return arch_field_parse(f, a, value, err);
}

int mist_arch_same_graph(const mist_arch *a, const mist_arch *b)
{
    for (size_t i = 0; i < arch_field_n; i++)
        if (!arch_field_tab[i].trained &&
            arch_field_value(&arch_field_tab[i], a) != arch_field_value(&arch_field_tab[i], b))
            return 0;
    return 1;
}

/* ---- msgpack ---------------------------------------------------------------------------- */

int arch_pack(struct msgpack_packer *pk, const mist_arch *a)
{
    size_t nkeys = 0;
    for (size_t i = 0; i < arch_field_n; i++)
        nkeys += !arch_field_tab[i].optional || arch_field_value(&arch_field_tab[i], a) != 0;
    int bad = msgpack_pack_map(pk, nkeys);
    for (size_t i = 0; i < arch_field_n && !bad; i++) {
        const arch_field *f = &arch_field_tab[i];
        double v = arch_field_value(f, a);
        if (f->optional && v == 0) continue;
        bad |= mist_mp_pack_str(pk, f->name);
        switch (f->type) {
        case AF_INT: bad |= msgpack_pack_int(pk, (int)v); break;
        case AF_I64: {
            int64_t lv;
            memcpy(&lv, (const char *)a + f->off, sizeof lv); /* exact beyond 2^53 */
            bad |= msgpack_pack_int64(pk, lv);
            break;
        }
        case AF_BOOL: bad |= v != 0 ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case AF_F64: bad |= msgpack_pack_double(pk, v); break;
        default: bad |= mist_mp_pack_str(pk, enum_name(f->type, (int)v)); break;
        }
    }
    return bad;
}

/* One value of the file into f of a; -1 when of the wrong type or out of range. The file's
 * keys are the names only (aliases are for overrides and meta). */
static int unpack_value(const arch_field *f, const msgpack_object *v, mist_arch *a)
{
    double d;
    switch (f->type) {
    case AF_INT:
    case AF_I64:
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (v->via.u64 > (uint64_t)1e15) return -1;
            d = (double)v->via.u64;
        } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            return -1; /* every integer field is >= 0 */
        } else {
            return -1;
        }
        break;
    case AF_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN) return -1;
        d = v->via.boolean ? 1 : 0;
        break;
    case AF_F64:
        if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64) d = v->via.f64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) d = (double)v->via.u64;
        else return -1;
        break;
    default: {
        if (v->type != MSGPACK_OBJECT_STR) return -1;
        int c = enum_code(f->type, v->via.str.ptr, v->via.str.size);
        if (c < 0) return -1;
        d = c;
        break;
    }
    }
    if (!in_range(f, d)) return -1;
    store(f, a, d);
    return 0;
}

int arch_unpack(const struct msgpack_object *o, mist_arch *a, const char *name, mist_err *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return mist_fail(err, MIST_EFORMAT, "'%s': \"arch\" is not a map", name);
    memset(a, 0, sizeof *a);
    unsigned char seen[sizeof arch_field_tab / sizeof arch_field_tab[0]] = {0};
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        size_t j = 0;
        while (j < arch_field_n && !mist_mp_str_is(k, arch_field_tab[j].name)) j++;
        char kn[64];
        mist_mp_show_str(k, kn, sizeof kn);
        if (j == arch_field_n)
            return mist_fail(err, MIST_EFORMAT,
                             "'%s': unknown arch setting \"%s\" (written by a newer mist?)", name,
                             kn);
        if (seen[j]++)
            return mist_fail(err, MIST_EFORMAT, "'%s': arch setting \"%s\" appears twice", name,
                             kn);
        if (unpack_value(&arch_field_tab[j], v, a))
            return mist_fail(err, MIST_EFORMAT, "'%s': invalid value for arch setting \"%s\"",
                             name, arch_field_tab[j].name);
    }
    for (size_t j = 0; j < arch_field_n; j++)
        if (!seen[j] && !arch_field_tab[j].optional)
            return mist_fail(err, MIST_EFORMAT, "'%s': arch setting \"%s\" is missing", name,
                             arch_field_tab[j].name);
    return MIST_OK;
}

/* ---- overrides -------------------------------------------------------------------------- */

int arch_override(mist_arch *a, const char *kv, mist_err *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return mist_fail(err, MIST_EINVAL, "arch override '%s' is not key=value", kv);
    size_t kl = (size_t)(eq - kv);
    const char *v = eq + 1;
    /* max_d: both maxima at once (not a field of its own) */
    int both = kl == 5 && !memcmp(kv, "max_d", 5);
    const arch_field *f = both ? arch_field_find("max_dx", 6) : arch_field_find(kv, kl);
    if (!f)
        return mist_fail(err, MIST_EINVAL, "unknown arch key '%.*s'", (int)(kl < 64 ? kl : 64),
                         kv);
    int rc = arch_field_parse(f, a, v, err);
    if (!rc && both) rc = arch_field_parse(arch_field_find("max_dy", 6), a, v, err);
    if (rc) return rc;
    /* what follows from the maxima: the split layout's token width, the trained d range */
    int is_dim = both || !strcmp(f->name, "max_dx") || !strcmp(f->name, "max_dy");
    if ((is_dim || f->type == AF_LAYOUT) && a->input_layout == MIST_LAYOUT_SPLIT)
        a->max_input_dim = a->max_dx + a->max_dy;
    if (is_dim) a->d_max = a->max_dx > a->max_dy ? a->max_dx : a->max_dy;
    return MIST_OK;
}
