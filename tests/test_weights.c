/* Weights files and checkpoint import: the msgpack weights round trip (writer -> strict loader),
 * rejection of truncated, mis-shaped, unknown, missing, duplicated, newer-version and hostile
 * files with the tensor or problem named; the safetensors reader's validation; the official-
 * checkpoint import (name mapping, config.json, shapes) and its failures. */
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "infer_internal.h"
#include "mist_infer.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static void small_arch(mist_arch *a, int qc)
{
    mist_arch_official(a, qc);
    a->max_input_dim = 4;
    a->max_dx = a->max_dy = 2;
    a->D = 8;
    a->H = 2;
    a->ff = 12;
    a->n_inds = 3;
    a->n_seeds = 2;
    a->n_feature_sab = 1;
    a->n_isab = 1;
    a->n_dec = 1;
    a->n_rho = 2;
    a->rho_hidden = 4;
}

static mist_model *small_model(int qc, uint64_t seed)
{
    mist_arch a;
    small_arch(&a, qc);
    mist_err err;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert(mist_model_meta_set_str(m, "note", "test \"model\"", &err) == MIST_OK);
    ck_assert(mist_model_meta_set_num(m, "steps", 1234.5, &err) == MIST_OK);
    ck_assert(mist_model_meta_set_str(m, "note", "replaced", &err) == MIST_OK);
    return m;
}

static unsigned char *model_bytes(const mist_model *m, size_t *len)
{
    const char *dir = tu_tmpdir("weights-bytes");
    char path[600];
    snprintf(path, sizeof path, "%s/m.msgpack", dir);
    mist_err err;
    ck_assert_msg(mist_model_save(m, path, &err) == MIST_OK, "%s", err.msg);
    unsigned char *b = tu_slurp(path, len);
    ck_assert_ptr_nonnull(b);
    return b;
}

static void expect_reject(const void *buf, size_t len, const char *needle)
{
    mist_err err = {0};
    mist_model *m = mist_model_open_mem(buf, len, "w.msgpack", &err);
    ck_assert_msg(m == NULL, "accepted a file that should fail with '%s'", needle);
    ck_assert_int_ne(err.code, MIST_OK);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

static int key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
           memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

static int pstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str(pk, strlen(s)) || msgpack_pack_str_body(pk, s, strlen(s));
}

/* One edit of a valid weights file, re-packed from its object tree. Tensor indices: -1 none. */
typedef struct edit {
    int version;          /* 0: keep */
    const char *format;   /* NULL: keep */
    int drop, dup, rename, reshape, dtype, shortdata, nanv, extra_key;
    int arch_extra, arch_drop, arch_bad_H, arch_huge, no_arch;
} edit;

static const edit NOEDIT = {0, NULL, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0};

static void pack_tensor(msgpack_packer *pk, const msgpack_object *t, int idx, const edit *e)
{
    const msgpack_object_map *m = &t->via.map;
    msgpack_pack_map(pk, m->size + (idx == e->extra_key));
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        msgpack_pack_object(pk, *k);
        if (key_is(k, "name") && idx == e->rename) {
            pstr(pk, "phi.bogus.weight");
        } else if (key_is(k, "dtype") && idx == e->dtype) {
            pstr(pk, "f16");
        } else if (key_is(k, "shape") && idx == e->reshape) {
            msgpack_pack_array(pk, v->via.array.size);
            for (uint32_t j = 0; j < v->via.array.size; j++)
                msgpack_pack_uint64(pk, v->via.array.ptr[j].via.u64 + (j == 0));
        } else if (key_is(k, "data") && (idx == e->shortdata || idx == e->nanv)) {
            uint32_t n = v->via.bin.size - (idx == e->shortdata ? 4 : 0);
            unsigned char *d = malloc(n + 1);
            memcpy(d, v->via.bin.ptr, n);
            if (idx == e->nanv) {
                float nan = NAN;
                memcpy(d, &nan, 4);
            }
            msgpack_pack_bin(pk, n);
            msgpack_pack_bin_body(pk, d, n);
            free(d);
        } else {
            msgpack_pack_object(pk, *v);
        }
    }
    if (idx == e->extra_key) {
        pstr(pk, "strides");
        msgpack_pack_nil(pk);
    }
}

static unsigned char *repack(const unsigned char *buf, size_t len, const edit *e, size_t *outlen)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    ck_assert(msgpack_unpack_next(&up, (const char *)buf, len, &off) == MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const msgpack_object_map *root = &up.data.via.map;
    msgpack_pack_map(&pk, root->size - (e->no_arch ? 1 : 0));
    for (uint32_t i = 0; i < root->size; i++) {
        const msgpack_object *k = &root->ptr[i].key, *v = &root->ptr[i].val;
        if (key_is(k, "arch") && e->no_arch) continue;
        msgpack_pack_object(&pk, *k);
        if (key_is(k, "version") && e->version) {
            msgpack_pack_int(&pk, e->version);
        } else if (key_is(k, "format") && e->format) {
            pstr(&pk, e->format);
        } else if (key_is(k, "arch")) {
            const msgpack_object_map *a = &v->via.map;
            msgpack_pack_map(&pk, a->size + (e->arch_extra ? 1 : 0) - (e->arch_drop ? 1 : 0));
            for (uint32_t j = 0; j < a->size; j++) {
                const msgpack_object *ak = &a->ptr[j].key;
                if (e->arch_drop && key_is(ak, "n_rho")) continue;
                msgpack_pack_object(&pk, *ak);
                if (e->arch_bad_H && key_is(ak, "H")) msgpack_pack_int(&pk, 3);
                else if (e->arch_huge && key_is(ak, "D")) msgpack_pack_int(&pk, 4096);
                else if (e->arch_huge && key_is(ak, "H")) msgpack_pack_int(&pk, 1);
                else if (e->arch_huge && key_is(ak, "ff")) msgpack_pack_int(&pk, 4096);
                else if (e->arch_huge && key_is(ak, "n_isab")) msgpack_pack_int(&pk, 2);
                else msgpack_pack_object(&pk, a->ptr[j].val);
            }
            if (e->arch_extra) {
                pstr(&pk, "attention_dropout");
                msgpack_pack_double(&pk, 0.1);
            }
        } else if (key_is(k, "tensors")) {
            const msgpack_object_array *t = &v->via.array;
            msgpack_pack_array(&pk, t->size - (e->drop >= 0) + (e->dup >= 0));
            for (uint32_t j = 0; j < t->size; j++) {
                if ((int)j == e->drop) continue;
                pack_tensor(&pk, &t->ptr[j], (int)j, e);
                if ((int)j == e->dup) pack_tensor(&pk, &t->ptr[j], -2, e);
            }
        } else {
            msgpack_pack_object(&pk, *v);
        }
    }
    msgpack_unpacked_destroy(&up);
    *outlen = sb.size;
    return (unsigned char *)msgpack_sbuffer_release(&sb);
}

static void expect_edit(const unsigned char *buf, size_t len, edit e, const char *needle)
{
    size_t l2;
    unsigned char *b2 = repack(buf, len, &e, &l2);
    expect_reject(b2, l2, needle);
    free(b2);
}

/* ---- msgpack weights ---------------------------------------------------------------------- */

START_TEST(test_round_trip)
{
    mist_model *m = small_model(1, 3);
    size_t len;
    unsigned char *b = model_bytes(m, &len);
    mist_err err;
    mist_model *r = mist_model_open_mem(b, len, "rt", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_uint_eq(mist_model_param_count(r), mist_model_param_count(m));
    ck_assert(memcmp(mist_model_params(r), mist_model_params(m),
                     mist_model_param_count(m) * sizeof(float)) == 0);
    const mist_arch *a = mist_model_arch(m), *b2 = mist_model_arch(r);
    ck_assert(a->D == b2->D && a->H == b2->H && a->ff == b2->ff && a->n_inds == b2->n_inds &&
              a->n_seeds == b2->n_seeds && a->n_rho == b2->n_rho && a->ln_eps == b2->ln_eps &&
              a->quantile_conditioned == b2->quantile_conditioned && a->n_max == b2->n_max &&
              a->input_layout == b2->input_layout && a->preprocess == b2->preprocess &&
              a->max_dx == b2->max_dx && a->rho_hidden == b2->rho_hidden);
    ck_assert_str_eq(mist_model_meta_json(r), mist_model_meta_json(m));
    ck_assert(strstr(mist_model_meta_json(r), "\"note\": \"replaced\"") != NULL);
    ck_assert(strstr(mist_model_meta_json(r), "\"steps\": 1234.5") != NULL);
    /* same bytes when written again, same estimates */
    size_t len2;
    unsigned char *c = model_bytes(r, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(b, c, len) == 0);
    double x[12] = {0.1, 0.3, -1, 0.2, 2, 1.5, 0.4, -0.4, 1, 1, -2, -1.1}, q1[2], q2[2];
    const double taus[2] = {0.25, 0.75};
    ck_assert(mist_model_estimate(m, x, 3, 2, 2, taus, 2, q1, &err) == MIST_OK);
    ck_assert(mist_model_estimate(r, x, 3, 2, 2, taus, 2, q2, &err) == MIST_OK);
    ck_assert(q1[0] == q2[0] && q1[1] == q2[1]);
    /* the path front end and the atomic writer: no temporary left behind */
    const char *dir = tu_tmpdir("weights-rt");
    char path[600];
    snprintf(path, sizeof path, "%s/x.msgpack", dir);
    ck_assert(mist_model_save(r, path, &err) == MIST_OK);
    mist_model *f = mist_model_open(path, &err);
    ck_assert_msg(f != NULL, "%s", err.msg);
    mist_model_free(f);
    snprintf(path, sizeof path, "%s/missing.msgpack", dir);
    ck_assert_ptr_null(mist_model_open(path, &err));
    ck_assert_int_eq(err.code, MIST_EIO);
    free(b), free(c);
    mist_model_free(m);
    mist_model_free(r);
}
END_TEST

START_TEST(test_truncated_every_prefix)
{
    mist_model *m = small_model(0, 4);
    size_t len;
    unsigned char *b = model_bytes(m, &len);
    mist_err err;
    for (size_t l = 0; l < len; l++) {
        unsigned char *c = malloc(l ? l : 1); /* exact size: ASan sees any overread */
        memcpy(c, b, l);
        mist_model *r = mist_model_open_mem(c, l, "t", &err);
        ck_assert_msg(r == NULL, "prefix of %zu of %zu bytes accepted", l, len);
        ck_assert_int_eq(err.code, MIST_EFORMAT);
        ck_assert(err.msg[0] != '\0');
        free(c);
    }
    /* a byte appended is rejected too */
    unsigned char *d = malloc(len + 1);
    memcpy(d, b, len);
    d[len] = 0xc0;
    expect_reject(d, len + 1, "not a valid weights file");
    free(d), free(b);
    mist_model_free(m);
}
END_TEST

START_TEST(test_malformed_named)
{
    mist_model *m = small_model(1, 5);
    size_t len;
    unsigned char *b = model_bytes(m, &len);
    const char *n0 = m->table[0].name, *n3 = m->table[3].name, *n7 = m->table[7].name;
    char want[200];
    edit e;
    e = NOEDIT, e.version = 2;
    expect_edit(b, len, e, "weights version 2 is not supported");
    e = NOEDIT, e.format = "mist-dataset";
    expect_edit(b, len, e, "format is not \"mist-weights\"");
    e = NOEDIT, e.drop = 3;
    snprintf(want, sizeof want, "tensor '%s' is missing", n3);
    expect_edit(b, len, e, want);
    e = NOEDIT, e.dup = 7;
    snprintf(want, sizeof want, "tensor '%s' appears twice", n7);
    expect_edit(b, len, e, want);
    e = NOEDIT, e.rename = 5;
    expect_edit(b, len, e, "unknown tensor 'phi.bogus.weight'");
    e = NOEDIT, e.reshape = 0;
    snprintf(want, sizeof want, "tensor '%s' has shape [17, 4] but the arch needs [16, 4]", n0);
    expect_edit(b, len, e, want);
    e = NOEDIT, e.dtype = 3;
    snprintf(want, sizeof want, "tensor '%s' has dtype \"f16\"", n3);
    expect_edit(b, len, e, want);
    e = NOEDIT, e.shortdata = 7;
    snprintf(want, sizeof want, "tensor '%s' holds", n7);
    expect_edit(b, len, e, want);
    e = NOEDIT, e.nanv = 7;
    snprintf(want, sizeof want, "tensor '%s' has a non-finite value", n7);
    expect_edit(b, len, e, want);
    e = NOEDIT, e.extra_key = 2;
    expect_edit(b, len, e, "unknown key \"strides\"");
    e = NOEDIT, e.arch_extra = 1;
    expect_edit(b, len, e, "unknown arch setting \"attention_dropout\"");
    e = NOEDIT, e.arch_drop = 1;
    expect_edit(b, len, e, "arch setting \"n_rho\" is missing");
    e = NOEDIT, e.arch_bad_H = 1;
    expect_edit(b, len, e, "not a multiple of H");
    e = NOEDIT, e.arch_huge = 1;
    expect_edit(b, len, e, "the file has only");
    e = NOEDIT, e.no_arch = 1;
    expect_edit(b, len, e, "no \"arch\"");
    /* the unedited repack is accepted (the editor itself is sound) */
    size_t l2;
    e = NOEDIT;
    unsigned char *ok = repack(b, len, &e, &l2);
    mist_err err;
    mist_model *r = mist_model_open_mem(ok, l2, "ok", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    mist_model_free(r);
    free(ok), free(b);
    mist_model_free(m);
}
END_TEST

/* Declared sizes far beyond the bytes present never reach msgpack-c's allocator. */
START_TEST(test_hostile_sizes)
{
    /* {"tensors": array32 of 4294967295} */
    unsigned char a[] = {0x81, 0xa7, 't', 'e', 'n', 's', 'o', 'r',
                         's',  0xdd, 0xff, 0xff, 0xff, 0xff};
    expect_reject(a, sizeof a, "truncated");
    /* a bin32 of 4 GB - 16 in 8 bytes */
    unsigned char b[] = {0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xf0, 1, 2};
    expect_reject(b, sizeof b, "truncated");
    /* a .npy file or any other non-map start */
    expect_reject("\x93NUMPY", 6, "does not start with a msgpack map");
    /* map32 of 2^31 pairs */
    unsigned char c[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0};
    expect_reject(c, sizeof c, "truncated");
    /* nesting deeper than the limit */
    unsigned char d[40];
    d[0] = 0x81, d[1] = 0xc0;
    for (int i = 2; i < 39; i++) d[i] = 0x91;
    d[39] = 0xc0;
    expect_reject(d, sizeof d, "nesting too deep");
    /* not a map, empty, an invalid byte inside */
    unsigned char e[] = {0x92, 0x01, 0x02};
    expect_reject(e, sizeof e, "does not start with a msgpack map");
    expect_reject(e, 0, "empty");
    unsigned char f[] = {0x81, 0xc1, 0xc0};
    expect_reject(f, sizeof f, "invalid type byte");
}
END_TEST

/* Random corruption: any outcome but a crash (the fuzzer does this at scale). */
START_TEST(test_random_corruption)
{
    mist_model *m = small_model(1, 6);
    size_t len;
    unsigned char *b = model_bytes(m, &len);
    uint64_t s = 12345;
    mist_err err;
    for (int rep = 0; rep < 300; rep++) {
        unsigned char *c = malloc(len);
        memcpy(c, b, len);
        int flips = 1 + rep % 4;
        for (int k = 0; k < flips; k++) {
            s = mist_mix64(s);
            size_t pos = (size_t)(s % len);
            c[pos] ^= (unsigned char)(1u << (s >> 61));
        }
        mist_model *r = mist_model_open_mem(c, len, "c", &err);
        if (r) mist_model_free(r);
        else ck_assert(err.msg[0] != '\0');
        free(c);
    }
    free(b);
    mist_model_free(m);
}
END_TEST

/* ---- safetensors -------------------------------------------------------------------------- */

typedef struct stbuf {
    char *hdr;
    size_t hlen, hcap;
    unsigned char *data;
    size_t dlen, dcap;
} stbuf;

static void st_hdr(stbuf *s, const char *text)
{
    size_t l = strlen(text);
    if (s->hlen + l + 1 > s->hcap) {
        s->hcap = (s->hlen + l + 1) * 2;
        s->hdr = realloc(s->hdr, s->hcap);
    }
    memcpy(s->hdr + s->hlen, text, l + 1);
    s->hlen += l;
}

static void st_data(stbuf *s, const void *p, size_t n)
{
    if (s->dlen + n > s->dcap) {
        s->dcap = (s->dlen + n) * 2 + 16;
        s->data = realloc(s->data, s->dcap);
    }
    memcpy(s->data + s->dlen, p, n);
    s->dlen += n;
}

/* Adds one F32 tensor entry with its data at the current end of the data section. */
static void st_tensor(stbuf *s, const char *name, int ndim, const int64_t *shape,
                      const float *vals, size_t numel)
{
    char tmp[512];
    size_t l = (size_t)snprintf(tmp, sizeof tmp, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                                s->hlen > 1 ? "," : "", name);
    for (int i = 0; i < ndim; i++)
        l += (size_t)snprintf(tmp + l, sizeof tmp - l, "%s%lld", i ? "," : "", (long long)shape[i]);
    snprintf(tmp + l, sizeof tmp - l, "],\"data_offsets\":[%zu,%zu]}", s->dlen,
             s->dlen + numel * 4);
    st_hdr(s, tmp);
    st_data(s, vals, numel * 4);
}

static unsigned char *st_finish(stbuf *s, size_t *len)
{
    st_hdr(s, "}");
    size_t hl = s->hlen;
    unsigned char *out = malloc(8 + hl + s->dlen + 1);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(out + 8, s->hdr, hl);
    if (s->dlen) memcpy(out + 8 + hl, s->data, s->dlen);
    *len = 8 + hl + s->dlen;
    free(s->hdr), free(s->data);
    memset(s, 0, sizeof *s);
    return out;
}

/* The official layout of model m: "core." + our names, plus config.json text. skip/extra:
 * tensor index to leave out / an extra tensor to add; reshape: index whose first dim grows. */
static unsigned char *official_st(const mist_model *m, const char *prefix, int skip, int extra,
                                  int reshape, size_t *len)
{
    stbuf s = {0};
    st_hdr(&s, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < m->ntensors; i++) {
        if ((int)i == skip) continue;
        const tensor_spec *t = &m->table[i];
        char name[200];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        int64_t shape[3] = {t->shape[0], t->ndim > 1 ? t->shape[1] : 0,
                            t->ndim > 2 ? t->shape[2] : 0};
        size_t numel = t->numel;
        float *vals = m->params + t->offset, *grown = NULL;
        if ((int)i == reshape) {
            shape[0] += 1;
            numel = numel / (size_t)t->shape[0] * (size_t)shape[0];
            grown = calloc(numel, sizeof *grown);
            vals = grown;
        }
        st_tensor(&s, name, t->ndim, shape, vals, numel);
        free(grown);
    }
    if (extra) {
        int64_t sh[1] = {3};
        float v[3] = {1, 2, 3};
        st_tensor(&s, "core.phi.extra.bias", 1, sh, v, 3);
    }
    return st_finish(&s, len);
}

static const char *config_of(const mist_arch *a, char *buf, size_t sz)
{
    snprintf(buf, sz,
             "{\"n_phi_layers\": %d, \"phi_hidden_dim\": %d, \"n_phi_heads\": %d, "
             "\"phi_dim_forward\": %d, \"phi_activation_fun\": \"gelu\", \"n_rho_layers\": %d, "
             "\"rho_hidden_dim\": %d, \"n_inds\": %d, \"n_seeds\": %d, \"n_dec_layers\": %d, "
             "\"sab_stack_layers\": %d, \"max_input_dim\": %d, \"output_dim\": 1, "
             "\"phi_model\": \"set_transformer\", \"quantile_conditioned\": %s, "
             "\"repo_url\": null, \"license\": \"mit\"}",
             a->n_isab, a->D, a->H, a->ff, a->n_rho, a->rho_hidden, a->n_inds, a->n_seeds,
             a->n_dec, a->n_feature_sab, a->max_input_dim,
             a->quantile_conditioned ? "true" : "false");
    return buf;
}

static void expect_st_reject(const void *buf, size_t len, const char *needle)
{
    mist_safetensors st;
    mist_err err = {0};
    int rc = mist_safetensors_parse(buf, len, "m.safetensors", &st, &err);
    ck_assert_msg(rc != MIST_OK, "accepted a safetensors file that should fail with '%s'",
                  needle);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

static unsigned char *raw_st(const char *header, size_t data_len, size_t *len)
{
    size_t hl = strlen(header);
    unsigned char *out = calloc(8 + hl + data_len + 1, 1);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(out + 8, header, hl);
    *len = 8 + hl + data_len;
    return out;
}

START_TEST(test_import_official)
{
    mist_model *m = small_model(1, 7);
    mist_arch a = *mist_model_arch(m);
    char cfg[1024];
    config_of(&a, cfg, sizeof cfg);
    mist_err err;
    for (int pre = 0; pre < 2; pre++) {
        size_t len;
        unsigned char *st = official_st(m, pre ? "core." : "", -1, 0, -1, &len);
        mist_model *r = mist_import_official_mem(st, len, "m.safetensors", cfg, strlen(cfg),
                                                 "config.json", NULL, &err);
        ck_assert_msg(r != NULL, "%s", err.msg);
        ck_assert(memcmp(mist_model_params(r), mist_model_params(m),
                         mist_model_param_count(m) * 4) == 0);
        const mist_arch *ra = mist_model_arch(r);
        ck_assert(ra->D == a.D && ra->H == a.H && ra->ff == a.ff && ra->n_seeds == a.n_seeds &&
                  ra->quantile_conditioned && ra->input_layout == MIST_LAYOUT_PACKED &&
                  ra->preprocess == MIST_PREP_NONE && ra->max_dx == 2);
        ck_assert(strstr(mist_model_meta_json(r), "\"model\": \"MIST-QR\"") != NULL);
        ck_assert(strstr(mist_model_meta_json(r), "safetensors_metadata") != NULL);
        mist_model_free(r);
        /* without config.json: the arch is read off the shapes, heads must be given */
        r = mist_import_official_mem(st, len, "m.safetensors", NULL, 0, NULL, NULL, &err);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err.msg, "--heads") != NULL, "%s", err.msg);
        mist_convert_opts o = {a.H, MIST_ACT_GELU};
        r = mist_import_official_mem(st, len, "m.safetensors", NULL, 0, NULL, &o, &err);
        ck_assert_msg(r != NULL, "%s", err.msg);
        ck_assert(memcmp(mist_model_params(r), mist_model_params(m),
                         mist_model_param_count(m) * 4) == 0);
        ck_assert(mist_model_arch(r)->n_dec == a.n_dec && mist_model_arch(r)->n_isab == a.n_isab);
        mist_model_free(r);
        free(st);
    }
    /* missing, extra and mis-shaped tensors are named */
    size_t len;
    unsigned char *st = official_st(m, "core.", 4, 0, -1, &len);
    char want[256];
    ck_assert_ptr_null(mist_import_official_mem(st, len, "m.safetensors", cfg, strlen(cfg),
                                                "config.json", NULL, &err));
    snprintf(want, sizeof want, "lacks tensor 'core.%s'", m->table[4].name);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
    free(st);
    st = official_st(m, "core.", -1, 1, -1, &len);
    ck_assert_ptr_null(mist_import_official_mem(st, len, "m.safetensors", cfg, strlen(cfg),
                                                "config.json", NULL, &err));
    ck_assert_msg(strstr(err.msg, "'core.phi.extra.bias'") != NULL, "%s", err.msg);
    free(st);
    st = official_st(m, "core.", -1, 0, 2, &len);
    ck_assert_ptr_null(mist_import_official_mem(st, len, "m.safetensors", cfg, strlen(cfg),
                                                "config.json", NULL, &err));
    snprintf(want, sizeof want, "tensor 'core.%s' has shape [17]", m->table[2].name);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
    free(st);
    /* a config that does not match the tensors */
    st = official_st(m, "core.", -1, 0, -1, &len);
    mist_arch b = a;
    b.n_feature_sab = 2;
    config_of(&b, cfg, sizeof cfg);
    ck_assert_ptr_null(mist_import_official_mem(st, len, "m.safetensors", cfg, strlen(cfg),
                                                "config.json", NULL, &err));
    ck_assert_msg(strstr(err.msg, "lacks tensor 'core.phi.feature_interaction_block.layers.3") !=
                      NULL,
                  "%s", err.msg);
    const char *badcfg = "{\"n_phi_layers\": 1}";
    ck_assert_ptr_null(mist_import_official_mem(st, len, "m.safetensors", badcfg, strlen(badcfg),
                                                "config.json", NULL, &err));
    ck_assert_msg(strstr(err.msg, "config has no \"phi_hidden_dim\"") != NULL, "%s", err.msg);
    /* the file front end: config.json found next to the checkpoint, output written */
    const char *dir = tu_tmpdir("convert");
    char p1[600], p2[600], p3[600];
    snprintf(p1, sizeof p1, "%s/model.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/config.json", dir);
    snprintf(p3, sizeof p3, "%s/out.msgpack", dir);
    tu_write(p1, st, len);
    config_of(&a, cfg, sizeof cfg);
    tu_write(p2, cfg, strlen(cfg));
    mist_model *out = NULL;
    ck_assert_msg(mist_convert_official(p1, NULL, p3, NULL, &out, &err) == MIST_OK, "%s",
                  err.msg);
    mist_model *back = mist_model_open(p3, &err);
    ck_assert_msg(back != NULL, "%s", err.msg);
    ck_assert(memcmp(mist_model_params(back), mist_model_params(m),
                     mist_model_param_count(m) * 4) == 0);
    mist_model_free(back);
    mist_model_free(out);
    free(st);
    mist_model_free(m);
}
END_TEST

START_TEST(test_safetensors_malformed)
{
    size_t len;
    unsigned char *b;
    mist_safetensors st;
    mist_err err;
    /* a valid one first */
    b = raw_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[8,12]},"
               "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[12,12]},"
               "\"__metadata__\":{\"k\":\"v\"}}   ",
               12, &len);
    ck_assert_msg(mist_safetensors_parse(b, len, "ok", &st, &err) == MIST_OK, "%s", err.msg);
    ck_assert_uint_eq(st.ntensors, 3);
    ck_assert_str_eq(st.metadata_json, "{\"k\":\"v\"}");
    mist_safetensors_free(&st);
    expect_st_reject(b, len - 1, "outside");           /* truncated data */
    free(b);
    b = raw_st("{}", 0, &len);
    ck_assert(mist_safetensors_parse(b, len, "empty", &st, &err) == MIST_OK);
    mist_safetensors_free(&st);
    free(b);
    /* header length beyond the limit / beyond the file */
    unsigned char big[16] = {0, 0, 0, 0x10, 0, 0, 0, 0, '{', '}'};
    expect_st_reject(big, 10, "exceeds the");
    unsigned char past[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    expect_st_reject(past, 10, "runs past the end");
    expect_st_reject(past, 5, "too short");
#define REJ(hdr, dlen, needle)                                                                   \
    do {                                                                                         \
        b = raw_st(hdr, dlen, &len);                                                             \
        expect_st_reject(b, len, needle);                                                        \
        free(b);                                                                                 \
    } while (0)
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, "invalid JSON");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", 8, "invalid JSON");
    REJ("[1,2]", 0, "not a JSON object");
    REJ("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype I32");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "need 12");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        12, "overlaps");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
        20, "unused bytes before tensor 'b'");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "trailing");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8, "outside");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "outside");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "bad shape");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
        "\"data_offsets\":[0,8]}}",
        8, "absurdly large");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
        "unknown field");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks \"data_offsets\"");
    REJ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
        16, "duplicate");
    REJ("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    REJ("{\"__metadata__\":[]}", 0, "not an object");
#undef REJ
}
END_TEST

START_TEST(test_safetensors_dtypes)
{
    /* F16: 1, -2.5, smallest subnormal, inf; BF16: 1, -2; F64: 0.1 */
    unsigned char d[] = {0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00, 0x00, 0x7c, 0x80, 0x3f, 0x00, 0xc0,
                         0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f};
    const char *h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                    "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[12,20]}}";
    size_t len;
    unsigned char *b = raw_st(h, sizeof d, &len);
    memcpy(b + len - sizeof d, d, sizeof d);
    mist_safetensors st;
    mist_err err;
    ck_assert_msg(mist_safetensors_parse(b, len, "dt", &st, &err) == MIST_OK, "%s", err.msg);
    float f[4];
    mist_st_to_f32(mist_safetensors_find(&st, "h"), f);
    ck_assert(f[0] == 1.0f && f[1] == -2.5f && f[2] == ldexpf(1.0f, -24) && isinf(f[3]));
    mist_st_to_f32(mist_safetensors_find(&st, "b"), f);
    ck_assert(f[0] == 1.0f && f[1] == -2.0f);
    mist_st_to_f32(mist_safetensors_find(&st, "d"), f);
    ck_assert(f[0] == 0.1f);
    ck_assert_ptr_null(mist_safetensors_find(&st, "zz"));
    mist_safetensors_free(&st);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    tu_case(s, "msgpack", 120, test_round_trip, test_truncated_every_prefix, test_malformed_named,
            test_hostile_sizes, test_random_corruption, NULL);
    tu_case(s, "safetensors", 0, test_import_official, test_safetensors_malformed,
            test_safetensors_dtypes, NULL);
    return tu_run(s) ? 1 : 0;
}
