/* Integrity of what mist writes and reads back: checksums of weights files and checkpoints
 * (every flipped bit refused, files without a checksum still load), the meta cross-check
 * against the arch, absurd recalibration tables refused, the one table of architecture fields
 * (weights, checkpoints, overrides, same-run comparison), the resume-settings report, and the
 * calibration defaults taken from the model. */
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mist_infer.h"
#include "mist_train.h"
#include "testutil.h"

#define TAIL 18 /* the checksum entry: 0xa8 "checksum" 0xcf + 8 bytes */

static mist_model *random_model(const char *preset, int qc, uint64_t seed)
{
    mist_arch a;
    mist_err err;
    ck_assert_msg(mist_arch_preset(preset, &a, &err) == 0, "%s", err.msg);
    a.quantile_conditioned = qc;
    mist_model *m = mist_model_create_random(&a, seed, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

static unsigned char *saved_bytes(const mist_model *m, const char *tag, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/m.msgpack", tu_tmpdir(tag));
    mist_err err;
    ck_assert_msg(mist_model_save(m, path, &err) == 0, "%s", err.msg);
    unsigned char *b = tu_slurp(path, len);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* Where the parameter block's bytes lie in a file: the first tensor's data is its first
 * numel floats, memcpy'd (little-endian host); found by content, not by the writer's layout. */
static size_t find_bytes(const unsigned char *b, size_t len, const void *needle, size_t nl)
{
    for (size_t i = 0; i + nl <= len; i++)
        if (!memcmp(b + i, needle, nl)) return i;
    ck_abort_msg("bytes not found");
    return 0;
}

/* ---- weights checksum --------------------------------------------------------------------- */

START_TEST(test_weights_every_flip_refused)
{
    mist_model *m = random_model("tiny", 1, 7);
    mist_err err;
    ck_assert_int_eq(mist_model_meta_set_str(m, "note", "flip me", &err), 0);
    size_t len;
    unsigned char *b = saved_bytes(m, "w-flip", &len);
    /* the tail: the key, then the FNV-1a 64 of every byte before it, recomputed here */
    ck_assert(len > TAIL && b[len - TAIL] == 0xa8 && !memcmp(b + len - TAIL + 1, "checksum", 8));
    uint64_t h = 0xcbf29ce484222325ULL, stored = 0;
    for (size_t i = 0; i < len - TAIL; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    for (int i = 0; i < 8; i++) stored = stored << 8 | b[len - 8 + i];
    ck_assert_uint_eq(h, stored);
    mist_model *ok = mist_model_open_mem(b, len, "intact.msgpack", &err);
    ck_assert_msg(ok != NULL, "%s", err.msg);
    mist_model_free(ok);
    /* every byte of the arch, the tensor headers and the meta, every 11th of the tensor data
     * (a different bit each time) */
    size_t p0 = find_bytes(b, len, mist_model_params(m), 64), refused_in_data = 0, tried = 0;
    size_t data_end = p0 + 4 * mist_model_param_count(m); /* tensors hold at least this */
    for (size_t pos = 0; pos < len; pos += pos >= p0 && pos < data_end ? 11 : 1) {
        tried++;
        unsigned char *c = malloc(len);
        memcpy(c, b, len);
        c[pos] ^= (unsigned char)(1u << (pos * 5 % 8));
        mist_model *r = mist_model_open_mem(c, len, "flipped.msgpack", &err);
        if (pos >= len - TAIL + 1 && pos < len - 9) {
            /* a flip in the key's name leaves an unknown top-level key and intact data: it
             * loads (unchecked, like an older file) with the very same parameters */
            ck_assert_msg(r != NULL, "flip in the key name at %zu: %s", pos, err.msg);
            ck_assert(!memcmp(mist_model_params(r), mist_model_params(m),
                              4 * mist_model_param_count(m)));
            mist_model_free(r);
        } else {
            ck_assert_msg(r == NULL, "a flipped bit at byte %zu of %zu was accepted", pos, len);
            ck_assert_msg(strstr(err.msg, "flipped.msgpack") != NULL, "message '%s' names no file",
                          err.msg);
            if (pos >= p0 && pos < data_end) refused_in_data++;
        }
        free(c);
    }
    ck_assert_uint_ge(refused_in_data, 4 * mist_model_param_count(m) / 11);
    ck_assert_uint_gt(tried, len / 11);
    free(b);
    mist_model_free(m);
}
END_TEST

START_TEST(test_weights_checksum_message_and_old_files)
{
    mist_model *m = random_model("tiny", 0, 8);
    size_t len;
    unsigned char *b = saved_bytes(m, "w-old", &len);
    size_t p0 = find_bytes(b, len, mist_model_params(m), 64);
    mist_err err;
    /* a flip in a weight that stays finite: only the checksum can tell */
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    c[p0 + 4 * 3] ^= 0x01; /* lowest mantissa bit of parameter 3 */
    ck_assert_ptr_null(mist_model_open_mem(c, len, "w.msgpack", &err));
    ck_assert_msg(strstr(err.msg, "'w.msgpack': checksum mismatch") != NULL, "%s", err.msg);
    /* the same file written by an older mist (no checksum: 5 entries) loads unchecked */
    ck_assert_uint_eq(b[0], 0x86);
    unsigned char *o = malloc(len - TAIL);
    memcpy(o, c, len - TAIL);
    o[0] = 0x85;
    mist_model *r = mist_model_open_mem(o, len - TAIL, "old.msgpack", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert(mist_model_params(r)[3] != mist_model_params(m)[3]); /* the flip, unnoticed */
    mist_model_free(r);
    /* the shipped weights (no checksum or one that matches) keep loading */
    mist_model *s = mist_model_open_default("mist-qr.msgpack", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    mist_model_free(s);
    /* the arch edited in a checksummed file: H 2 -> 4 (16 % 4 == 0, tensors unchanged) */
    memcpy(c, b, len);
    size_t at = find_bytes(c, len, "\xa1" "H\x02", 3);
    c[at + 2] = 0x04;
    ck_assert_ptr_null(mist_model_open_mem(c, len, "h.msgpack", &err));
    ck_assert_msg(strstr(err.msg, "checksum mismatch") != NULL, "%s", err.msg);
    /* ... and in a file without a checksum it is what it says (nothing to check it against) */
    memcpy(o, c, len - TAIL);
    o[0] = 0x85;
    r = mist_model_open_mem(o, len - TAIL, "h-old.msgpack", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(mist_model_arch(r)->H, 4);
    mist_model_free(r);
    free(o), free(c), free(b);
    mist_model_free(m);
}
END_TEST

/* ---- checkpoints -------------------------------------------------------------------------- */

static void tiny_run_cfg(mist_train_config *c)
{
    mist_train_config_default(c);
    c->batch = 4;
    c->pool = 2;
    c->steps = 6;
    c->warmup = 1;
    c->val_count = 0;
    c->ckpt_every_s = 0;
    c->seed = 5;
    c->prefetch = 0;
}

START_TEST(test_checkpoint_flips_do_not_resume)
{
    mist_train_config c;
    tiny_run_cfg(&c);
    c.stop_after = 3;
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir("ck-flip"));
    snprintf(path, sizeof path, "%s/checkpoint.msgpack", dir);
    mist_err err;
    ck_assert_msg(mist_train_run(&c, dir, NULL, NULL, NULL, &err) == 0, "%s", err.msg);
    size_t len;
    unsigned char *b = tu_slurp(path, &len);
    ck_assert_ptr_nonnull(b);
    mist_checkpoint ck;
    ck_assert_int_eq(mist_checkpoint_read_mem(b, len, "ck", &ck, &err), 0);
    size_t p0 = find_bytes(b, len, ck.params, 64), np = ck.nparams;
    mist_checkpoint_free(&ck);
    ck_assert(b[len - TAIL] == 0xa8 && !memcmp(b + len - TAIL + 1, "checksum", 8));
    /* many positions across params, m and v (the blocks follow each other), and the rest */
    size_t tried = 0;
    for (size_t pos = 0; pos < len; pos += (pos >= p0 && pos < p0 + 12 * np) ? 29 : 3) {
        if (pos >= len - TAIL + 1 && pos < len - 9) continue; /* the key's name: see weights */
        unsigned char *x = malloc(len);
        memcpy(x, b, len);
        x[pos] ^= (unsigned char)(1u << (pos % 8));
        int rc = mist_checkpoint_read_mem(x, len, "flipped-ck", &ck, &err);
        ck_assert_msg(rc != 0, "a flipped bit at byte %zu of %zu was accepted", pos, len);
        ck_assert_ptr_null(ck.params);
        ck_assert_msg(strstr(err.msg, "flipped-ck") != NULL, "%s", err.msg);
        free(x);
        tried++;
    }
    ck_assert_uint_gt(tried, 1000);
    /* a corrupted checkpoint on disk: the run does not resume */
    unsigned char *x = malloc(len);
    memcpy(x, b, len);
    x[p0 + 4 * (np / 2)] ^= 0x01;
    tu_write(path, x, len);
    ck_assert_int_ne(mist_train_run(NULL, dir, dir, NULL, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "checksum mismatch") != NULL, "%s", err.msg);
    /* an older checkpoint (no checksum: 9 entries) still resumes, to the end */
    ck_assert_uint_eq(b[0], 0x8a);
    b[0] = 0x89;
    tu_write(path, b, len - TAIL);
    c.stop_after = 0;
    ck_assert_msg(mist_train_run(&c, dir, dir, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(mist_checkpoint_read(dir, &ck, &err), 0);
    ck_assert_int_eq(ck.step, 6);
    mist_checkpoint_free(&ck);
    free(x), free(b);
}
END_TEST

/* ---- meta cross-check --------------------------------------------------------------------- */

/* Saves m with one more meta entry (string or number) and opens it again: NULL when refused. */
static mist_model *reopen_with(mist_model *m, const char *key, const char *s, double num,
                               mist_err *err)
{
    mist_err e;
    int rc = s ? mist_model_meta_set_str(m, key, s, &e) : mist_model_meta_set_num(m, key, num, &e);
    ck_assert_int_eq(rc, 0);
    size_t len;
    unsigned char *b = saved_bytes(m, "meta", &len);
    mist_model *r = mist_model_open_mem(b, len, "meta.msgpack", err);
    free(b);
    return r;
}

static void expect_meta(const char *preset, int qc, const char *key, const char *s, double num,
                        const char *needle)
{
    mist_model *m = random_model(preset, qc, 3);
    mist_err err;
    mist_model *r = reopen_with(m, key, s, num, &err);
    if (!needle) {
        ck_assert_msg(r != NULL, "meta %s=%s refused: %s", key, s ? s : "(num)", err.msg);
        mist_model_free(r);
    } else {
        ck_assert_msg(r == NULL, "meta %s=%s accepted", key, s ? s : "(num)");
        ck_assert_msg(strstr(err.msg, needle) && strstr(err.msg, "meta.msgpack"),
                      "message '%s' lacks '%s'", err.msg, needle);
    }
    mist_model_free(m);
}

START_TEST(test_meta_contradicting_arch)
{
    /* tiny: split layout, D 16, H 2 */
    expect_meta("tiny", 0, "heads", NULL, 4, "meta \"heads\" says 4 but the arch has H = 2");
    expect_meta("tiny", 0, "heads", NULL, 2, NULL);
    expect_meta("tiny", 0, "H", "8", 0, "the arch has H = 2");
    expect_meta("tiny", 0, "layout", "packed", 0, "the arch has input_layout = split");
    expect_meta("tiny", 0, "input_layout", "split", 0, NULL);
    expect_meta("tiny", 0, "layout", "diagonal", 0, "input_layout is one of packed, split, pairs");
    expect_meta("tiny", 0, "loss", "pinball", 0, "quantile_conditioned = false");
    expect_meta("tiny", 1, "loss", "pinball", 0, NULL);
    expect_meta("tiny", 1, "model", "MIST-QR", 0, "input_layout = split");
    expect_meta("tiny", 0, "arch_spec", "tiny,D=32", 0, "says D=32 but the arch has D = 16");
    expect_meta("tiny", 0, "arch_spec", "tiny,heads=4", 0, "says H=4");
    expect_meta("tiny", 0, "arch_spec", "tiny,D=16,layout=split,max_d=4", 0, NULL);
    expect_meta("tiny", 0, "arch_spec", "tiny,activation=relu", 0, "activation");
    /* the trained ranges are informational: never compared */
    expect_meta("tiny", 0, "arch_spec", "tiny,n_max=100000", 0, NULL);
    expect_meta("tiny", 0, "n_max", NULL, 7, NULL);
    /* the pairs layout */
    expect_meta("pairs-tiny", 1, "layout", "pairs", 0, NULL);
    expect_meta("pairs-tiny", 1, "arch_spec", "pairs-tiny,layout=split", 0, "input_layout");
    expect_meta("pairs-tiny", 1, "arch_spec", "pairs-tiny,D=16", 0, NULL);
}
END_TEST

/* ---- recalibration tables ----------------------------------------------------------------- */

START_TEST(test_absurd_recalibration_refused)
{
    static const struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"quantile_resid", "0.25:0.75||0.1,0.9|-1,1e308", "beyond"},
        {"quantile_resid", "0.25:0.75||0.1,0.9|-2e6,1", "beyond"},
        {"quantile_resid", "0.25:0.75||0.1,0.9|-1,inf", "beyond"},
        {"quantile_resid", "0.25:0.75||0.1,0.9|nan,1", "beyond"},
        {"quantile_resid", "0.25:0.75||0.1,0.9|1,-1", "must not decrease"},
        {"quantile_resid", "0.25:0.75||0.9,0.1|-1,1", "must increase"},
        {"quantile_resid", "0.25:0.75|||", "malformed"},
        {"quantile_resid", "0.25:0.75||0.5|0", "malformed"}, /* one knot */
        {"quantile_resid", "nan:0.75||0.1,0.9|-1,1", "spread levels"},
        {"quantile_resid", "0.25:0.75|50,20|0.1,0.9|-1,1|-1,1|-1,1", "must increase"},
        {"quantile_map", "0.5:1e308", "outside (0, 1)"},
        {"quantile_map", "0.5:nan", "outside (0, 1)"},
        {"quantile_map", "0.6:0.5,0.4:0.6", "must increase"},
        {"quantile_map", "0.4:0.6,0.6:0.5", "must not decrease"},
        {"quantile_map", "0.5:", "malformed"},
        {"quantile_map", ",", "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mist_model *m = random_model("tiny", 1, 4);
        mist_err err;
        mist_model *r = reopen_with(m, cases[i].key, cases[i].value, 0, &err);
        ck_assert_msg(r == NULL, "%s = \"%s\" accepted", cases[i].key, cases[i].value);
        ck_assert_msg(strstr(err.msg, cases[i].needle) && strstr(err.msg, cases[i].key) &&
                          strstr(err.msg, "meta.msgpack"),
                      "%s = \"%s\": message '%s' lacks '%s'", cases[i].key, cases[i].value,
                      err.msg, cases[i].needle);
        mist_model_free(m);
    }
    /* the sane neighbours load: large but bounded residuals, an explicit "no map" */
    const char *fine[][2] = {{"quantile_resid", "0.25:0.75||0.1,0.9|-1e6,1e6"},
                             {"quantile_map", ""},
                             {"quantile_map", "0.5:0.4"}};
    for (size_t i = 0; i < 3; i++) {
        mist_model *m = random_model("tiny", 1, 4);
        mist_err err;
        mist_model *r = reopen_with(m, fine[i][0], fine[i][1], 0, &err);
        ck_assert_msg(r != NULL, "%s = \"%s\" refused: %s", fine[i][0], fine[i][1], err.msg);
        mist_model_free(r);
        mist_model_free(m);
    }
}
END_TEST

/* ---- the arch field table ----------------------------------------------------------------- */

/* The weights format's arch keys (model.md), in file order: an independent list. */
static const char *const ARCH_KEYS[] = {
    "input_layout", "preprocess", "max_input_dim", "max_dx", "max_dy", "D", "H", "ff",
    "n_inds", "n_seeds", "n_feature_sab", "n_isab", "n_dec", "n_rho", "rho_hidden",
    "quantile_conditioned", "activation", "ln_eps", "n_min", "n_max", "d_min", "d_max",
    "gauss_base", "gauss_base_unbiased", "ksg_feature", "sign_canon", "gauss_base_cap", "sum_head"};
#define NKEYS (sizeof ARCH_KEYS / sizeof ARCH_KEYS[0])

/* The "arch" map of a msgpack file, re-packed: the bytes two writers must agree on. */
static msgpack_sbuffer arch_map_of(const unsigned char *b, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    ck_assert(msgpack_unpack_next(&up, (const char *)b, len, &off) == MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int found = 0;
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        const msgpack_object *k = &up.data.via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 4 &&
            !memcmp(k->via.str.ptr, "arch", 4)) {
            msgpack_pack_object(&pk, up.data.via.map.ptr[i].val);
            found = 1;
        }
    }
    ck_assert(found);
    msgpack_unpacked_destroy(&up);
    return sb;
}

START_TEST(test_arch_table)
{
    ck_assert_uint_eq(mist_arch_field_count(), NKEYS);
    for (size_t i = 0; i < NKEYS; i++) ck_assert_str_eq(mist_arch_field_name(i), ARCH_KEYS[i]);
    ck_assert_ptr_null(mist_arch_field_name(NKEYS));
    mist_arch a;
    mist_err err;
    ck_assert_int_eq(mist_arch_preset("pairs", &a, &err), 0);
    char t[64];
    ck_assert_int_eq(mist_arch_field_text(&a, 0, t, sizeof t), 0);
    ck_assert_str_eq(t, "pairs");
    /* setting by name and alias reaches exactly the struct member */
    mist_arch b = a;
    ck_assert_int_eq(mist_arch_field_set(&b, "heads", "8", &err), 0);
    ck_assert_int_eq(b.H, 8);
    b.H = a.H;
    ck_assert(!memcmp(&a, &b, sizeof a));
    ck_assert_int_eq(mist_arch_field_set(&b, "layout", "split", &err), 0);
    ck_assert_int_eq(b.input_layout, MIST_LAYOUT_SPLIT);
    ck_assert_int_eq(b.max_input_dim, a.max_input_dim); /* the field alone */
    ck_assert_int_eq(mist_arch_field_set(&b, "quantile_conditioned", "true", &err), 0);
    ck_assert_int_eq(b.quantile_conditioned, 1);
    ck_assert_int_eq(mist_arch_field_set(&b, "ln_eps", "1e-6", &err), 0);
    ck_assert(b.ln_eps == 1e-6);
    ck_assert_int_eq(mist_arch_field_set(&b, "n_max", "12345", &err), 0);
    ck_assert_int_eq(b.n_max, 12345);
    ck_assert_int_ne(mist_arch_field_set(&b, "H", "0", &err), 0);
    ck_assert_int_ne(mist_arch_field_set(&b, "D", "16x", &err), 0);
    ck_assert_int_ne(mist_arch_field_set(&b, "ln_eps", "0", &err), 0);
    ck_assert_int_ne(mist_arch_field_set(&b, "activation", "tanh", &err), 0);
    ck_assert_int_ne(mist_arch_field_set(&b, "dropout", "0", &err), 0);
    ck_assert(strstr(err.msg, "unknown arch key 'dropout'") != NULL);
    /* overrides keep the maxima consistent on the split layout */
    ck_assert_int_eq(mist_arch_preset("small", &b, &err), 0);
    ck_assert_int_eq(mist_arch_override(&b, "max_dx=8", &err), 0);
    ck_assert_int_eq(b.max_input_dim, 8 + 32);
    ck_assert_int_eq(b.d_max, 32);
    ck_assert_int_eq(mist_arch_override(&b, "max_d=6", &err), 0);
    ck_assert(b.max_dx == 6 && b.max_dy == 6 && b.max_input_dim == 12 && b.d_max == 6);
    /* same graph: every field but the trained ranges */
    mist_arch c = b;
    c.n_max = 77, c.d_min = 2;
    ck_assert(mist_arch_same_graph(&b, &c));
    c.ln_eps = 2e-5;
    ck_assert(!mist_arch_same_graph(&b, &c));
    c = b, c.activation = MIST_ACT_RELU;
    ck_assert(!mist_arch_same_graph(&b, &c));
    c = b, c.gauss_base = 1;
    ck_assert(!mist_arch_same_graph(&b, &c));
    c.gauss_base_unbiased = 1;
    ck_assert(!mist_arch_same_graph(&b, &c));
    /* a weights file and a checkpoint of one arch carry the same arch map (one writer) */
    for (int pairs = 0; pairs < 4; pairs++) { /* split, pairs, with gauss_base, unbiased */
        mist_checkpoint ck;
        memset(&ck, 0, sizeof ck);
        mist_train_config_default(&ck.cfg);
        ck_assert_int_eq(mist_arch_preset(pairs ? "pairs-tiny" : "tiny", &ck.cfg.arch, &err), 0);
        ck.cfg.arch.gauss_base = pairs >= 2;
        ck.cfg.arch.gauss_base_unbiased = pairs == 3;
        mist_model *m = mist_model_create_random(&ck.cfg.arch, 1, &err);
        ck_assert_ptr_nonnull(m);
        ck.nparams = mist_model_param_count(m);
        ck.params = ck.m = ck.v = mist_model_params(m);
        for (size_t i = 0; i < ck.nparams; i++) ck.v[i] = fabsf(ck.v[i]);
        char path[700];
        snprintf(path, sizeof path, "%s/ck.msgpack", tu_tmpdir("arch-map"));
        ck_assert_msg(mist_checkpoint_write(path, &ck, &err) == 0, "%s", err.msg);
        size_t l1, l2;
        unsigned char *b1 = tu_slurp(path, &l1), *b2 = saved_bytes(m, "arch-map-w", &l2);
        msgpack_sbuffer s1 = arch_map_of(b1, l1), s2 = arch_map_of(b2, l2);
        ck_assert_uint_eq(s1.size, s2.size);
        ck_assert(!memcmp(s1.data, s2.data, s1.size));
        mist_checkpoint back;
        ck_assert_msg(mist_checkpoint_read(path, &back, &err) == 0, "%s", err.msg);
        ck_assert(!memcmp(&back.cfg.arch, &ck.cfg.arch, sizeof back.cfg.arch));
        mist_checkpoint_free(&back);
        mist_model *r = mist_model_open_mem(b2, l2, "pairs", &err);
        ck_assert_msg(r != NULL, "%s", err.msg);
        ck_assert(!memcmp(mist_model_arch(r), mist_model_arch(m), sizeof(mist_arch)));
        mist_model_free(r);
        msgpack_sbuffer_destroy(&s1);
        msgpack_sbuffer_destroy(&s2);
        free(b1), free(b2);
        mist_model_free(m);
    }
}
END_TEST

/* ---- resume settings ---------------------------------------------------------------------- */

START_TEST(test_resume_changes)
{
    mist_train_config a, b;
    mist_train_config_default(&a);
    b = a;
    char why[300];
    ck_assert_uint_eq(mist_train_resume_changes(&a, &b, why, sizeof why), 0);
    ck_assert_str_eq(why, "");
    b.ckpt_every_s = 5, b.prefetch = !a.prefetch, b.stop_after = 3; /* timing only */
    ck_assert_uint_eq(mist_train_resume_changes(&a, &b, why, sizeof why), 0);
    b.threads = 2;
    ck_assert_uint_eq(mist_train_resume_changes(&a, &b, why, sizeof why), 1);
    ck_assert_str_eq(why, "threads 2 (the run used 1)");
    b.steps = a.steps * 2;
    ck_assert_uint_eq(mist_train_resume_changes(&a, &b, NULL, 0), 2);
    ck_assert_uint_eq(mist_train_resume_changes(&a, &b, why, sizeof why), 2);
    ck_assert(strstr(why, "threads 2") && strstr(why, "steps 2000 (the run planned 1000"));
}
END_TEST

/* ---- calibration defaults ----------------------------------------------------------------- */

START_TEST(test_calibrate_defaults_from_model)
{
    mist_model *m = random_model("tiny", 1, 9);
    mist_arch a = *mist_model_arch(m);
    mist_model_free(m);
    a.n_min = 50, a.n_max = 120; /* what the model was trained on */
    mist_err err;
    m = mist_model_create_random(&a, 9, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mist_model_meta_set_str(m, "metadist", "normal1x1", &err), 0);
    mist_calibrate_opts o;
    mist_calibrate_opts_default(&o);
    o.count = 16;
    mist_calibrate_report r;
    ck_assert_msg(mist_calibrate_model(m, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(r.metadist, "normal1x1");
    ck_assert_int_eq(r.n_min, 50);
    ck_assert_int_eq(r.n_max, 120);
    /* the default bounds 25, 50, 100, 200, 350 that fall in 50..119 split it */
    ck_assert_uint_eq(r.ngroups, 3);
    ck_assert(r.group_lo[0] == 50 && r.group_hi[0] == 50 && r.group_lo[1] == 51 &&
              r.group_hi[1] == 100 && r.group_lo[2] == 101 && r.group_hi[2] == 120);
    char note[400];
    ck_assert(mist_model_meta_get_str(m, "quantile_calibration", note, sizeof note));
    ck_assert_msg(strstr(note, "datasets of normal1x1 (seed 6513004, n 50-120)"), "%s", note);
    ck_assert(mist_model_quantile_map(m, NULL, NULL) || mist_model_quantile_resid(m, NULL));
    for (int j = 0; j < MIST_CALIB_NCHECK; j++)
        ck_assert(r.network[j] >= 0 && r.network[j] <= 1);
    mist_model_free(m);
    /* no meta "metadist": the default one; an explicit one wins over the meta */
    m = mist_model_create_random(&a, 9, &err);
    o.method = MIST_CALIB_MAP;
    ck_assert_msg(mist_calibrate_model(m, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(r.metadist, "default");
    ck_assert(r.kept_map && isnan(r.worst_resid));
    ck_assert_int_eq(mist_model_meta_set_str(m, "metadist", "normal1x1", &err), 0);
    o.metadist = "mist16";
    o.n_min = 30, o.n_max = 40;
    ck_assert_msg(mist_calibrate_model(m, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(r.metadist, "mist16");
    ck_assert(r.n_min == 30 && r.n_max == 40 && r.ngroups == 1);
    mist_model_free(m);
    /* a point model is refused */
    m = random_model("tiny", 0, 9);
    ck_assert_int_ne(mist_calibrate_model(m, &o, &r, &err), 0);
    ck_assert(strstr(err.msg, "point model") != NULL);
    mist_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("integrity");
    tu_case(s, "weights", 300, test_weights_every_flip_refused,
            test_weights_checksum_message_and_old_files, NULL);
    tu_case(s, "checkpoint", 300, test_checkpoint_flips_do_not_resume, test_resume_changes, NULL);
    tu_case(s, "meta", 300, test_meta_contradicting_arch, test_absurd_recalibration_refused, NULL);
    tu_case(s, "arch", 300, test_arch_table, NULL);
    tu_case(s, "calibrate", 300, test_calibrate_defaults_from_model, NULL);
    return tu_run(s) ? 1 : 0;
}
