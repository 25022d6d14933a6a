/* The weights file (model.md): one msgpack map
 *   {format: "mist-weights", version: 1, arch: {...every graph setting...},
 *    tensors: [{name, dtype: "f32", shape: [..], data: bin (little-endian)}, ...], meta: {...},
 *    checksum: FNV-1a 64 of every byte before it (core/checksum.h; absent in older files)}
 * The writer goes through an atomic temporary file. The loader is strict: it proves the bytes
 * are one sane msgpack object before msgpack-c allocates anything (mist_msgpack_check: declared
 * counts must fit in the bytes that remain), builds the graph from arch (every value range-
 * checked, the parameter total bounded by the file size before any allocation), then looks
 * every tensor up in the tensor table by name and checks dtype, shape and byte length; unknown,
 * missing, duplicated and mis-shaped tensors, non-finite weights and newer versions are
 * rejected with a message naming the tensor or the problem; so is a meta that contradicts the
 * arch, and last a checksum that does not match. Tensor bytes are memcpy'd out of
 * the bin (it is not aligned). */
#include <math.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_fields.h"
#include "checksum.h"
#include "infer_internal.h"
#include "io_internal.h"
#include "mp_util.h"

/* A bin holds at most 4 GiB; so does the parameter block (MIST_MAX_PARAMS floats). */
#define WEIGHTS_MAX_BYTES (((size_t)1 << 32) + ((size_t)1 << 24))

/* ---- writing ---------------------------------------------------------------------------- */

int weights_write(const mist_model *m, const char *path, mist_err *err)
{
    for (size_t t = 0; t < m->ntensors; t++)
        if (m->table[t].numel > UINT32_MAX / 4)
            return mist_fail(err, MIST_EINVAL, "tensor '%s' exceeds the 4 GiB limit of a bin",
                             m->table[t].name);
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    mist_hashed_file hf = {mist_atomic_stream(af), MIST_FNV1A64_INIT};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &hf, mist_hashed_write);
    int bad = 0;
    bad |= msgpack_pack_map(&pk, 6);
    bad |= mist_mp_pack_str(&pk, "format") || mist_mp_pack_str(&pk, MIST_WEIGHTS_FORMAT);
    bad |= mist_mp_pack_str(&pk, "version") || msgpack_pack_int(&pk, MIST_WEIGHTS_VERSION);
    bad |= mist_mp_pack_str(&pk, "arch") || arch_pack(&pk, &m->arch);
    bad |= mist_mp_pack_str(&pk, "tensors") || msgpack_pack_array(&pk, m->ntensors);
    for (size_t t = 0; t < m->ntensors && !bad; t++) {
        const tensor_spec *s = &m->table[t];
        const float *d = m->params + s->offset;
        bad |= msgpack_pack_map(&pk, 4);
        bad |= mist_mp_pack_str(&pk, "name") || mist_mp_pack_str(&pk, s->name);
        bad |= mist_mp_pack_str(&pk, "dtype") || mist_mp_pack_str(&pk, "f32");
        bad |= mist_mp_pack_str(&pk, "shape") || msgpack_pack_array(&pk, (size_t)s->ndim);
        for (int i = 0; i < s->ndim; i++) bad |= msgpack_pack_int64(&pk, s->shape[i]);
        bad |= mist_mp_pack_str(&pk, "data") || msgpack_pack_bin(&pk, s->numel * 4);
        if (mist_io_host_le()) {
            if (s->numel) bad |= msgpack_pack_bin_body(&pk, d, s->numel * 4);
        } else {
            unsigned char buf[4096];
            for (size_t i = 0; i < s->numel && !bad;) {
                size_t k = 0;
                for (; k < sizeof buf / 4 && i < s->numel; k++, i++) {
                    uint32_t u;
                    memcpy(&u, &d[i], 4);
                    mist_io_put_le32(buf + 4 * k, u);
                }
                bad |= msgpack_pack_bin_body(&pk, buf, 4 * k);
            }
        }
    }
    bad |= mist_mp_pack_str(&pk, "meta");
    if (m->meta_mp) bad |= mist_hashed_write(&hf, (const char *)m->meta_mp, m->meta_len);
    else bad |= msgpack_pack_map(&pk, 0);
    bad |= mist_hashed_write_tail(&hf); /* the last entry: it covers every byte before it */
    if (bad) {
        mist_atomic_abort(af);
        return mist_fail(err, MIST_EIO, "cannot write '%s'", path);
    }
    return mist_atomic_commit(af, err);
}

int mist_model_save(const mist_model *m, const char *path, mist_err *err)
{
    if (!m || !path) return mist_fail(err, MIST_EINVAL, "model and path must not be NULL");
    return weights_write(m, path, err);
}

/* ---- meta ------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int nomem;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t l)
{
    if (b->nomem) return;
    if (b->n + l + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + l + 1) nc *= 2;
        char *g = realloc(b->p, nc);
        if (!g) {
            b->nomem = 1;
            return;
        }
        b->p = g;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, l);
    b->n += l;
    b->p[b->n] = '\0';
}

static void sb_jstr(sbuf *b, const char *s, size_t l)
{
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < l; i++) {
        char e[8];
        sb_put(b, e, (size_t)mist_json_escape_byte(e, (unsigned char)s[i]));
    }
    sb_put(b, "\"", 1);
}

static void render(sbuf *b, const msgpack_object *o)
{
    char tmp[64];
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: sb_put(b, "null", 4); break;
    case MSGPACK_OBJECT_BOOLEAN:
        if (o->via.boolean) sb_put(b, "true", 4);
        else sb_put(b, "false", 5);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)o->via.u64);
        sb_put(b, tmp, strlen(tmp));
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(tmp, sizeof tmp, "%lld", (long long)o->via.i64);
        sb_put(b, tmp, strlen(tmp));
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        sb_put(b, tmp, (size_t)mist_json_num_text(tmp, o->via.f64));
        break;
    case MSGPACK_OBJECT_STR: sb_jstr(b, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        snprintf(tmp, sizeof tmp, "\"<%lu bytes>\"", (unsigned long)o->via.bin.size);
        sb_put(b, tmp, strlen(tmp));
        break;
    case MSGPACK_OBJECT_ARRAY:
        sb_put(b, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i) sb_put(b, ", ", 2);
            render(b, &o->via.array.ptr[i]);
        }
        sb_put(b, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        sb_put(b, "{", 1);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i) sb_put(b, ", ", 2);
            if (kv->key.type == MSGPACK_OBJECT_STR) {
                sb_jstr(b, kv->key.via.str.ptr, kv->key.via.str.size);
            } else { /* JSON keys are strings: quote the rendering */
                sbuf k = {0};
                render(&k, &kv->key);
                sb_jstr(b, k.p ? k.p : "", k.n);
                free(k.p);
            }
            sb_put(b, ": ", 2);
            render(b, &kv->val);
        }
        sb_put(b, "}", 1);
        break;
    default: sb_put(b, "\"<ext>\"", 7); break;
    }
}

const char *mist_model_meta_json(mist_model *m)
{
    if (m->meta_json) return m->meta_json;
    if (!m->meta_mp) return "{}";
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    sbuf b = {0};
    if (msgpack_unpack_next(&up, (const char *)m->meta_mp, m->meta_len, &off) ==
        MSGPACK_UNPACK_SUCCESS)
        render(&b, &up.data);
    msgpack_unpacked_destroy(&up);
    if (b.nomem || !b.p) {
        free(b.p);
        return "{}";
    }
    m->meta_json = b.p;
    return m->meta_json;
}

/* Rebuilds the meta map with key set to a string (str != NULL) or a number. */
static int meta_set(mist_model *m, const char *key, const char *str, double num, mist_err *err)
{
    if (!key || !*key) return mist_fail(err, MIST_EINVAL, "meta key must not be empty");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint32_t keep = 0;
    const msgpack_object_map *old = NULL;
    if (m->meta_mp) {
        size_t off = 0;
        if (msgpack_unpack_next(&up, (const char *)m->meta_mp, m->meta_len, &off) ==
                MSGPACK_UNPACK_SUCCESS &&
            up.data.type == MSGPACK_OBJECT_MAP)
            old = &up.data.via.map;
    }
    for (uint32_t i = 0; old && i < old->size; i++) {
        if (!mist_mp_str_is(&old->ptr[i].key, key)) keep++;
    }
    int bad = msgpack_pack_map(&pk, keep + 1);
    for (uint32_t i = 0; old && i < old->size; i++) {
        if (mist_mp_str_is(&old->ptr[i].key, key)) continue;
        bad |= msgpack_pack_object(&pk, old->ptr[i].key);
        bad |= msgpack_pack_object(&pk, old->ptr[i].val);
    }
    bad |= mist_mp_pack_str(&pk, key);
    bad |= str ? mist_mp_pack_str(&pk, str) : msgpack_pack_double(&pk, num);
    msgpack_unpacked_destroy(&up);
    if (bad) {
        msgpack_sbuffer_destroy(&sb);
        return mist_fail(err, MIST_ENOMEM, "out of memory");
    }
    free(m->meta_mp);
    free(m->meta_json);
    m->meta_json = NULL;
    m->meta_len = sb.size;
    m->meta_mp = (unsigned char *)msgpack_sbuffer_release(&sb);
    msgpack_sbuffer_destroy(&sb);
    return MIST_OK;
}

int mist_model_meta_get_str(const mist_model *m, const char *key, char *buf, size_t bufsz)
{
    if (!m || !key || !buf || !bufsz || !m->meta_mp) return 0;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0, kl = strlen(key);
    int found = 0;
    if (msgpack_unpack_next(&up, (const char *)m->meta_mp, m->meta_len, &off) ==
            MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < up.data.via.map.size && !found; i++) {
            const msgpack_object *k = &up.data.via.map.ptr[i].key, *v = &up.data.via.map.ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != kl ||
                memcmp(k->via.str.ptr, key, kl) || v->type != MSGPACK_OBJECT_STR ||
                v->via.str.size >= bufsz || memchr(v->via.str.ptr, 0, v->via.str.size))
                continue;
            memcpy(buf, v->via.str.ptr, v->via.str.size);
            buf[v->via.str.size] = '\0';
            found = 1;
        }
    msgpack_unpacked_destroy(&up);
    return found;
}

int mist_model_meta_set_str(mist_model *m, const char *key, const char *value, mist_err *err)
{
    return meta_set(m, key, value ? value : "", 0, err);
}

int mist_model_meta_set_num(mist_model *m, const char *key, double value, mist_err *err)
{
    return meta_set(m, key, NULL, value, err);
}

/* ---- reading ---------------------------------------------------------------------------- */

static int decode_arch(const char *name, const msgpack_object *o, mist_arch *a, mist_err *err)
{
    int rc = arch_unpack(o, a, name, err);
    if (rc) return rc;
    mist_err e2;
    if (mist_arch_validate(a, &e2))
        return mist_fail(err, MIST_EFORMAT, "'%s': %s", name, e2.msg);
    return MIST_OK;
}

static int decode_tensor(const char *name, const msgpack_object *o, size_t idx, mist_model *m,
                         unsigned char *seen, mist_err *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor entry %zu is not a map", name, idx + 1);
    const msgpack_object *f[4] = {NULL};
    static const char *const fk[4] = {"name", "dtype", "shape", "data"};
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        int j = 0;
        while (j < 4 && !mist_mp_str_is(&map->ptr[i].key, fk[j])) j++;
        char kn[64];
        mist_mp_show_str(&map->ptr[i].key, kn, sizeof kn);
        if (j == 4)
            return mist_fail(err, MIST_EFORMAT, "'%s': tensor entry %zu has an unknown key \"%s\"",
                             name, idx + 1, kn);
        if (f[j])
            return mist_fail(err, MIST_EFORMAT, "'%s': tensor entry %zu has \"%s\" twice", name,
                             idx + 1, kn);
        f[j] = &map->ptr[i].val;
    }
    for (int j = 0; j < 4; j++)
        if (!f[j])
            return mist_fail(err, MIST_EFORMAT, "'%s': tensor entry %zu has no \"%s\"", name,
                             idx + 1, fk[j]);
    char tn[MIST_TENSOR_NAME_LEN + 8];
    mist_mp_show_str(f[0], tn, sizeof tn);
    if (f[0]->type != MSGPACK_OBJECT_STR)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor entry %zu: name is not a string", name,
                         idx + 1);
    size_t t = 0;
    while (t < m->ntensors && !mist_mp_str_is(f[0], m->table[t].name)) t++;
    if (t == m->ntensors)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': unknown tensor '%s' (not part of the graph this arch describes)",
                         name, tn);
    const tensor_spec *s = &m->table[t];
    if (seen[t]) return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' appears twice", name, tn);
    seen[t] = 1;
    if (!mist_mp_str_is(f[1], "f32")) {
        char dn[32];
        mist_mp_show_str(f[1], dn, sizeof dn);
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s' has dtype \"%s\"; this build reads \"f32\" only", name,
                         tn, dn);
    }
    if (f[2]->type != MSGPACK_OBJECT_ARRAY)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': shape is not an array", name, tn);
    const msgpack_object_array *sh = &f[2]->via.array;
    int ok = sh->size == (uint32_t)s->ndim;
    char got[128] = "", want[128] = "";
    size_t gl = 0, wl = 0;
    for (uint32_t i = 0; i < sh->size && i < 8; i++) {
        int64_t d;
        if (mist_mp_get_i64(&sh->ptr[i], 0, INT64_MAX, &d))
            return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': bad shape entry %u", name, tn,
                             (unsigned)i + 1);
        if (ok && d != s->shape[i]) ok = 0;
        gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%lld", i ? ", " : "", (long long)d);
    }
    for (int i = 0; i < s->ndim; i++)
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%lld", i ? ", " : "",
                               (long long)s->shape[i]);
    if (!ok)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s' has shape [%s%s] but the arch needs [%s]", name, tn,
                         got, sh->size > 8 ? ", ..." : "", want);
    if (f[3]->type != MSGPACK_OBJECT_BIN)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': data is not a bin", name, tn);
    if ((uint64_t)f[3]->via.bin.size != (uint64_t)s->numel * 4)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s' holds %lu data bytes but shape [%s] needs %zu", name,
                         tn, (unsigned long)f[3]->via.bin.size, want, s->numel * 4);
    float *dst = m->params + s->offset;
    const unsigned char *src = (const unsigned char *)f[3]->via.bin.ptr;
    if (mist_io_host_le()) {
        if (s->numel) memcpy(dst, src, s->numel * 4);
    } else {
        for (size_t i = 0; i < s->numel; i++) dst[i] = infer_get_f32le(src + 4 * i);
    }
    size_t bad = mist_first_nonfinite_f(dst, s->numel);
    if (bad < s->numel)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' has a non-finite value at %zu",
                         name, tn, bad);
    return MIST_OK;
}

/* ---- meta cross-check --------------------------------------------------------------------
 * A meta that describes the architecture must describe this one: "loss" and "model" (written
 * by the trainer and the converter), a key named like an arch field or its alias ("heads",
 * "layout", ...), and the key=value overrides recorded in "arch_spec" (its preset names are not
 * compared: a preset may change between versions; the overrides stated were applied last). Not
 * compared: the trained ranges (informational; the export sets them to what training saw) and,
 * in arch_spec, quantile_conditioned (`mist train` sets it from --loss after the overrides). */

static int meta_contradicts(const char *name, const char *key, const char *says,
                            const arch_field *f, const mist_arch *a, mist_err *err)
{
    char has[64];
    arch_field_text(f, a, has, sizeof has);
    return mist_fail(err, MIST_EFORMAT,
                     "'%s': meta \"%s\" says %s but the arch has %s = %s (the file was altered "
                     "or assembled from two models)",
                     name, key, says, f->name, has);
}

static int spec_check(const char *name, const msgpack_object *o, const mist_arch *a,
                      mist_err *err)
{
    char spec[512];
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= sizeof spec) return MIST_OK;
    memcpy(spec, o->via.str.ptr, o->via.str.size);
    spec[o->via.str.size] = '\0';
    mist_arch b = *a;
    mist_err ignored;
    for (char *save = NULL, *t = strtok_r(spec, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strchr(t, '=')) (void)arch_override(&b, t, &ignored); /* unknown keys: recorded only */
    for (size_t i = 0; i < arch_field_n; i++) {
        const arch_field *f = &arch_field_tab[i];
        if (f->trained || !strcmp(f->name, "quantile_conditioned")) continue;
        if (arch_field_value(f, &b) != arch_field_value(f, a)) {
            char says[96];
            arch_field_text(f, &b, says + snprintf(says, sizeof says, "%s=", f->name),
                            sizeof says - strlen(f->name) - 1);
            return meta_contradicts(name, "arch_spec", says, f, a, err);
        }
    }
    return MIST_OK;
}

static int meta_crosscheck(const char *name, const msgpack_object_map *meta, const mist_arch *a,
                           mist_err *err)
{
    const arch_field *qc = arch_field_find("quantile_conditioned", 20),
                     *lay = arch_field_find("input_layout", 12);
    for (uint32_t i = 0; i < meta->size; i++) {
        const msgpack_object *k = &meta->ptr[i].key, *v = &meta->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) continue;
        int rc = MIST_OK;
        if (mist_mp_str_is(k, "arch_spec")) {
            rc = spec_check(name, v, a, err);
        } else if (mist_mp_str_is(k, "loss") && (mist_mp_str_is(v, "pinball") || mist_mp_str_is(v, "mse"))) {
            int q = mist_mp_str_is(v, "pinball");
            if (q != a->quantile_conditioned)
                rc = meta_contradicts(name, "loss", q ? "pinball" : "mse", qc, a, err);
        } else if (mist_mp_str_is(k, "model") && (mist_mp_str_is(v, "MIST-QR") || mist_mp_str_is(v, "MIST"))) {
            int q = mist_mp_str_is(v, "MIST-QR");
            const char *says = q ? "MIST-QR" : "MIST";
            if (q != a->quantile_conditioned)
                rc = meta_contradicts(name, "model", says, qc, a, err);
            else if (a->input_layout != MIST_LAYOUT_PACKED)
                rc = meta_contradicts(name, "model", says, lay, a, err);
        } else {
            const arch_field *f = arch_field_find(k->via.str.ptr, k->via.str.size);
            if (!f || f->trained) continue;
            mist_arch b = *a;
            char says[96];
            mist_err e2;
            if (v->type == MSGPACK_OBJECT_STR) {
                mist_mp_show_str(v, says, sizeof says);
                if (arch_field_parse(f, &b, says, &e2))
                    return mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\": %s", name, f->name,
                                     e2.msg);
            } else {
                double d = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER   ? (double)v->via.u64
                           : v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)v->via.i64
                           : v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64
                               ? v->via.f64
                           : v->type == MSGPACK_OBJECT_BOOLEAN ? (double)v->via.boolean
                                                               : NAN;
                snprintf(says, sizeof says, "%g", d);
                if (d != arch_field_value(f, a)) {
                    char kn[64];
                    mist_mp_show_str(k, kn, sizeof kn);
                    return meta_contradicts(name, kn, says, f, a, err);
                }
                continue;
            }
            if (arch_field_value(f, &b) != arch_field_value(f, a)) {
                char kn[64];
                mist_mp_show_str(k, kn, sizeof kn);
                rc = meta_contradicts(name, kn, says, f, a, err);
            }
        }
        if (rc) return rc;
    }
    return MIST_OK;
}

static mist_model *decode(const char *name, const msgpack_object *root, const void *buf,
                          size_t file_len, mist_err *err)
{
    if (root->type != MSGPACK_OBJECT_MAP) {
        mist_fail(err, MIST_EFORMAT, "'%s': not a mist weights file (the top level is not a map)",
                  name);
        return NULL;
    }
    enum { K_FORMAT, K_VERSION, K_ARCH, K_TENSORS, K_META, K_CHECKSUM, K_COUNT };
    static const char *const keys[K_COUNT] = {"format",  "version", "arch",
                                              "tensors", "meta",    MIST_CHECKSUM_KEY};
    const msgpack_object *v[K_COUNT] = {NULL};
    const msgpack_object_map *map = &root->via.map;
    for (uint32_t i = 0; i < map->size; i++)
        for (int k = 0; k < K_COUNT; k++) {
            if (!mist_mp_str_is(&map->ptr[i].key, keys[k])) continue;
            if (v[k]) {
                mist_fail(err, MIST_EFORMAT, "'%s': key \"%s\" appears twice", name, keys[k]);
                return NULL;
            }
            v[k] = &map->ptr[i].val;
        }
    /* unknown top-level keys are ignored (a change that matters bumps the version) */
    if (!v[K_FORMAT] || !mist_mp_str_is(v[K_FORMAT], MIST_WEIGHTS_FORMAT)) {
        mist_fail(err, MIST_EFORMAT, "'%s': not a mist weights file (format is not \"%s\")", name,
                  MIST_WEIGHTS_FORMAT);
        return NULL;
    }
    int64_t version;
    if (!v[K_VERSION] || mist_mp_get_i64(v[K_VERSION], 1, INT64_MAX, &version)) {
        mist_fail(err, MIST_EFORMAT, "'%s': missing or invalid \"version\"", name);
        return NULL;
    }
    if (version != MIST_WEIGHTS_VERSION) {
        mist_fail(err, MIST_EFORMAT,
                  "'%s': weights version %lld is not supported (this build reads version %d; "
                  "a newer mist wrote it)",
                  name, (long long)version, MIST_WEIGHTS_VERSION);
        return NULL;
    }
    for (int k = K_ARCH; k <= K_TENSORS; k++)
        if (!v[k]) {
            mist_fail(err, MIST_EFORMAT, "'%s': no \"%s\" in the weights file", name, keys[k]);
            return NULL;
        }
    mist_arch a;
    if (decode_arch(name, v[K_ARCH], &a, err)) return NULL;
    size_t np = mist_arch_param_count(&a);
    if (np > file_len / 4) {
        mist_fail(err, MIST_EFORMAT,
                  "'%s': the arch needs %zu parameters (%zu bytes) but the file has only %zu "
                  "bytes",
                  name, np, np * 4, file_len);
        return NULL;
    }
    if (v[K_TENSORS]->type != MSGPACK_OBJECT_ARRAY) {
        mist_fail(err, MIST_EFORMAT, "'%s': \"tensors\" is not an array", name);
        return NULL;
    }
    if (v[K_META] && v[K_META]->type != MSGPACK_OBJECT_MAP) {
        mist_fail(err, MIST_EFORMAT, "'%s': \"meta\" is not a map", name);
        return NULL;
    }
    mist_err e2;
    mist_model *m = model_alloc(&a, &e2);
    if (!m) {
        mist_fail(err, e2.code, "'%s': %s", name, e2.msg);
        return NULL;
    }
    unsigned char *seen = calloc(m->ntensors ? m->ntensors : 1, 1);
    if (!seen) {
        mist_fail(err, MIST_ENOMEM, "out of memory");
        goto fail;
    }
    const msgpack_object_array *arr = &v[K_TENSORS]->via.array;
    for (uint32_t i = 0; i < arr->size; i++)
        if (decode_tensor(name, &arr->ptr[i], i, m, seen, err)) goto fail;
    size_t missing = 0, first = 0;
    for (size_t t = 0; t < m->ntensors; t++)
        if (!seen[t] && missing++ == 0) first = t;
    if (missing) {
        if (missing == 1)
            mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' is missing", name,
                      m->table[first].name);
        else
            mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' is missing (and %zu more)", name,
                      m->table[first].name, missing - 1);
        goto fail;
    }
    if (v[K_META] && v[K_META]->via.map.size) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (msgpack_pack_object(&pk, *v[K_META])) {
            msgpack_sbuffer_destroy(&sb);
            mist_fail(err, MIST_ENOMEM, "out of memory");
            goto fail;
        }
        m->meta_len = sb.size;
        m->meta_mp = (unsigned char *)msgpack_sbuffer_release(&sb);
        msgpack_sbuffer_destroy(&sb);
        const msgpack_object_map *meta = &v[K_META]->via.map;
        for (uint32_t i = 0; i < meta->size; i++) {
            if (mist_mp_str_is(&meta->ptr[i].key, COLUMNS_META_KEY)) {
                const msgpack_object *c = &meta->ptr[i].val;
                int canon = c->type == MSGPACK_OBJECT_STR ? mist_mp_str_is(c, "canonical") : -1;
                if (canon == 0 && !mist_mp_str_is(c, "as_given")) canon = -1;
                if (canon < 0) {
                    mist_fail(err, MIST_EFORMAT,
                              "'%s': meta \"%s\" must be \"canonical\" or \"as_given\"", name,
                              COLUMNS_META_KEY);
                    goto fail;
                }
                m->col_canon = canon;
                continue;
            }
            int is_map = mist_mp_str_is(&meta->ptr[i].key, QMAP_META_KEY),
                is_res = mist_mp_str_is(&meta->ptr[i].key, QRES_META_KEY);
            if (!is_map && !is_res) continue;
            const char *key = is_map ? QMAP_META_KEY : QRES_META_KEY;
            const msgpack_object *q = &meta->ptr[i].val;
            if (q->type != MSGPACK_OBJECT_STR) {
                mist_fail(err, MIST_EFORMAT, "'%s': meta \"%s\" is not a string", name, key);
                goto fail;
            }
            if ((is_map ? qmap_parse : qres_parse)(m, name, q->via.str.ptr, q->via.str.size, err))
                goto fail;
        }
        if (m->qmap_k && m->qres_k) {
            mist_fail(err, MIST_EFORMAT,
                      "'%s': meta sets both \"%s\" and \"%s\" (one recalibration at a time)",
                      name, QMAP_META_KEY, QRES_META_KEY);
            goto fail;
        }
        if (meta_crosscheck(name, meta, &m->arch, err)) goto fail;
    }
    /* last: a file that decodes cleanly but was changed since it was written is caught here;
     * files without a checksum (older writers) load as before */
    if (v[K_CHECKSUM]) {
        if (&map->ptr[map->size - 1].val != v[K_CHECKSUM]) {
            mist_fail(err, MIST_EFORMAT, "'%s': the checksum is not the file's last entry", name);
            goto fail;
        }
        if (mist_checksum_verify(buf, file_len, name, "weights file", err)) goto fail;
    }
    free(seen);
    return m;
fail:
    free(seen);
    mist_model_free(m);
    return NULL;
}

static mist_model *open_mem(const void *buf, size_t len, const char *name, mist_err *err)
{
    if (!name) name = "(memory)";
    if (!buf || len == 0) {
        mist_fail(err, MIST_EFORMAT, "'%s' is empty", name);
        return NULL;
    }
    unsigned char b0 = *(const unsigned char *)buf;
    if (!((b0 >= 0x80 && b0 <= 0x8f) || b0 == 0xde || b0 == 0xdf)) {
        mist_fail(err, MIST_EFORMAT,
                  "'%s' is not a mist weights file (it does not start with a msgpack map)", name);
        return NULL;
    }
    const char *why = NULL;
    if (mist_msgpack_check(buf, len, &why)) {
        mist_fail(err, MIST_EFORMAT, "'%s': not a valid weights file (%s)", name, why);
        return NULL;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    mist_model *m = NULL;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, buf, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", name);
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        mist_fail(err, MIST_EFORMAT, "'%s': not a valid weights file", name);
    else
        m = decode(name, &up.data, buf, len, err);
    msgpack_unpacked_destroy(&up);
    return m;
}

/* A model with a route opens its second model too (route.c), or fails. */
static mist_model *with_route(mist_model *m, const char *path, mist_err *err)
{
    if (m && route_attach(m, path, err)) {
        mist_model_free(m);
        return NULL;
    }
    return m;
}

mist_model *mist_model_open_mem(const void *buf, size_t len, const char *name, mist_err *err)
{
    return with_route(open_mem(buf, len, name, err), NULL, err);
}

mist_model *mist_model_open_noroute(const char *path, mist_err *err)
{
    unsigned char *buf;
    size_t len;
    if (!path) {
        mist_fail(err, MIST_EINVAL, "path is NULL");
        return NULL;
    }
    if (mist_io_slurp(path, WEIGHTS_MAX_BYTES, &buf, &len, NULL, err)) return NULL;
    mist_model *m = open_mem(buf, len, path, err);
    free(buf);
    return m;
}

mist_model *mist_model_open(const char *path, mist_err *err)
{
    return with_route(mist_model_open_noroute(path, err), path, err);
}
