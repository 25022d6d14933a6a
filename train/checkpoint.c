/* Training checkpoints: one msgpack map
 *   {format: "mist-train-checkpoint", version: 1,
 *    arch: {...the weights file's arch keys...}, config: {...every training setting...},
 *    state: {step, elapsed_s, last_loss, val_mse, val_pinball, datasets, n_seen_min,
 *            n_seen_max, d_seen_min, d_seen_max},
 *    nparams, params: bin, m: bin, v: bin,      (float32 little-endian, nparams each)
 *    checksum: FNV-1a 64 of every byte before it (core/checksum.h; absent in older files)}
 * written atomically (temporary file + rename). The stream needs no state of its own: its
 * batches are a function of (seed, step). The reader is strict: it proves the bytes are one sane
 * msgpack object first, then every key must be known, present once, of its type and in range,
 * and the blocks must hold exactly the arch's parameter count; last, a present checksum must
 * match (a corrupted checkpoint does not resume). */
#include <math.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch_fields.h"
#include "checksum.h"
#include "io_internal.h"
#include "mist_io.h"
#include "mp_util.h"
#include "mist_train.h"
#include "mist_train_grad.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint blocks are written as host floats: little-endian hosts only"
#endif

#define CKPT_MAX_BYTES (((size_t)1 << 34))

/* The configuration and the state; the arch map is the field table's (infer/arch_fields.c). */
enum { F_INT, F_I64, F_U64, F_F64, F_STR, F_BOOL, F_LOSS };

typedef struct field {
    const char *name;
    int type;
    size_t off;
    size_t size; /* F_STR: buffer size */
    int opt;     /* may be absent (older checkpoints): keeps its default */
} field;

#define C(k, t) {#k, t, offsetof(mist_train_config, k), 0, 0}
#define CS(k) {#k, F_STR, offsetof(mist_train_config, k), sizeof(((mist_train_config *)0)->k), 0}
static const field config_fields[] = {
    CS(arch_spec), C(loss, F_LOSS), C(batch, F_INT), C(steps, F_I64), C(lr, F_F64),
    C(lr_floor, F_F64), C(warmup, F_I64), C(wd, F_F64), C(clip, F_F64), C(beta1, F_F64),
    C(beta2, F_F64), C(eps, F_F64), CS(metadist), C(seed, F_U64), C(val_seed, F_U64),
    C(val_count, F_INT), C(val_every, F_I64), C(pool, F_INT), C(n_min, F_I64), C(n_max, F_I64),
    C(threads, F_INT), C(prefetch, F_BOOL), C(ckpt_every_s, F_F64), C(stop_after, F_I64),
    CS(dump_dir), C(dump_steps, F_INT),
    {"col_canon", F_BOOL, offsetof(mist_train_config, col_canon), 0, 1}};
#undef C
#undef CS
#define S(k, t) {#k, t, offsetof(mist_checkpoint, k), 0, 0}
static const field state_fields[] = {S(step, F_I64), S(elapsed_s, F_F64), S(last_loss, F_F64),
                                     S(val_mse, F_F64), S(val_pinball, F_F64),
                                     S(datasets, F_U64), S(n_seen_min, F_I64),
                                     S(n_seen_max, F_I64), S(d_seen_min, F_I64),
                                     S(d_seen_max, F_I64)};
#undef S
#define NF(a) (sizeof a / sizeof a[0])

/* ---- writing ---------------------------------------------------------------------------- */

static const char *loss_name(int l) { return l == MIST_LOSS_PINBALL ? "pinball" : "mse"; }

static int pack_fields(msgpack_packer *pk, const void *base, const field *f, size_t nf)
{
    int bad = msgpack_pack_map(pk, nf);
    for (size_t i = 0; i < nf; i++) {
        const char *p = (const char *)base + f[i].off;
        int iv;
        int64_t lv;
        uint64_t uv;
        double dv;
        bad |= mist_mp_pack_str(pk, f[i].name);
        switch (f[i].type) {
        case F_INT: memcpy(&iv, p, sizeof iv); bad |= msgpack_pack_int(pk, iv); break;
        case F_BOOL: memcpy(&iv, p, sizeof iv); bad |= iv ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case F_I64: memcpy(&lv, p, sizeof lv); bad |= msgpack_pack_int64(pk, lv); break;
        case F_U64: memcpy(&uv, p, sizeof uv); bad |= msgpack_pack_uint64(pk, uv); break;
        case F_F64: memcpy(&dv, p, sizeof dv); bad |= msgpack_pack_double(pk, dv); break;
        case F_STR: bad |= mist_mp_pack_str(pk, p); break;
        case F_LOSS: memcpy(&iv, p, sizeof iv); bad |= mist_mp_pack_str(pk, loss_name(iv)); break;
        }
    }
    return bad;
}

static int pack_block(msgpack_packer *pk, const char *name, const float *x, size_t n)
{
    return mist_mp_pack_str(pk, name) || msgpack_pack_bin(pk, n * 4) ||
           (n ? msgpack_pack_bin_body(pk, x, n * 4) : 0);
}

int mist_checkpoint_write(const char *path, const mist_checkpoint *ck, mist_err *err)
{
    if (ck->nparams > UINT32_MAX / 4)
        return mist_fail(err, MIST_EINVAL, "checkpoint: %zu parameters exceed a bin", ck->nparams);
    mist_atomic_file *af = mist_atomic_open(path, err);
    if (!af) return err ? err->code : MIST_EIO;
    mist_hashed_file hf = {mist_atomic_stream(af), MIST_FNV1A64_INIT};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &hf, mist_hashed_write);
    int bad = msgpack_pack_map(&pk, 10);
    bad |= mist_mp_pack_str(&pk, "format") || mist_mp_pack_str(&pk, MIST_CKPT_FORMAT);
    bad |= mist_mp_pack_str(&pk, "version") || msgpack_pack_int(&pk, MIST_CKPT_VERSION);
    bad |= mist_mp_pack_str(&pk, "arch") || arch_pack(&pk, &ck->cfg.arch);
    bad |= mist_mp_pack_str(&pk, "config") || pack_fields(&pk, &ck->cfg, config_fields, NF(config_fields));
    bad |= mist_mp_pack_str(&pk, "state") || pack_fields(&pk, ck, state_fields, NF(state_fields));
    bad |= mist_mp_pack_str(&pk, "nparams") || msgpack_pack_uint64(&pk, ck->nparams);
    bad |= pack_block(&pk, "params", ck->params, ck->nparams);
    bad |= pack_block(&pk, "m", ck->m, ck->nparams);
    bad |= pack_block(&pk, "v", ck->v, ck->nparams);
    bad |= mist_hashed_write_tail(&hf); /* the last entry: it covers every byte before it */
    if (bad) {
        mist_atomic_abort(af);
        return mist_fail(err, MIST_EIO, "cannot write checkpoint '%s'", path);
    }
    return mist_atomic_commit(af, err);
}

/* ---- reading ---------------------------------------------------------------------------- */

static int read_loss(const msgpack_object *o, int *out)
{
    for (int v = 0; v < 2; v++)
        if (mist_mp_str_is(o, loss_name(v))) {
            *out = v;
            return 0;
        }
    return -1;
}

static int read_fields(const msgpack_object *map, const char *what, void *base, const field *f,
                       size_t nf, const char *name, mist_err *err)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return mist_fail(err, MIST_EFORMAT, "'%s': %s is not a map", name, what);
    unsigned char seen[64] = {0};
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        size_t j = 0;
        while (j < nf && !mist_mp_str_is(k, f[j].name)) j++;
        if (j == nf) {
            if (k->type == MSGPACK_OBJECT_STR)
                return mist_fail(err, MIST_EFORMAT, "'%s': unknown key '%.*s' in %s", name,
                                 (int)(k->via.str.size > 64 ? 64 : k->via.str.size),
                                 k->via.str.ptr, what);
            return mist_fail(err, MIST_EFORMAT, "'%s': a non-string key in %s", name, what);
        }
        if (seen[j]++)
            return mist_fail(err, MIST_EFORMAT, "'%s': duplicate key '%s' in %s", name, f[j].name, what);
        char *p = (char *)base + f[j].off;
        int64_t lv;
        int iv;
        int ok = 1;
        switch (f[j].type) {
        case F_INT:
            ok = !mist_mp_get_i64(v, INT32_MIN, INT32_MAX, &lv);
            iv = (int)lv;
            if (ok) memcpy(p, &iv, sizeof iv);
            break;
        case F_BOOL:
            ok = v->type == MSGPACK_OBJECT_BOOLEAN;
            iv = ok && v->via.boolean;
            if (ok) memcpy(p, &iv, sizeof iv);
            break;
        case F_I64:
            ok = !mist_mp_get_i64(v, INT64_MIN, INT64_MAX, &lv);
            if (ok) memcpy(p, &lv, sizeof lv);
            break;
        case F_U64:
            ok = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
            if (ok) memcpy(p, &v->via.u64, sizeof(uint64_t));
            break;
        case F_F64: {
            double d;
            if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32) d = v->via.f64;
            else if (!mist_mp_get_i64(v, INT64_MIN, INT64_MAX, &lv)) d = (double)lv;
            else ok = 0;
            if (ok) memcpy(p, &d, sizeof d);
            break;
        }
        case F_STR:
            ok = !mist_mp_get_str(v, p, f[j].size);
            break;
        default:
            ok = !read_loss(v, &iv);
            if (ok) memcpy(p, &iv, sizeof iv);
            break;
        }
        if (!ok)
            return mist_fail(err, MIST_EFORMAT, "'%s': %s.%s has a wrong type or value", name, what,
                             f[j].name);
    }
    for (size_t j = 0; j < nf; j++)
        if (!seen[j] && !f[j].opt)
            return mist_fail(err, MIST_EFORMAT, "'%s': %s.%s is missing", name, what, f[j].name);
    return MIST_OK;
}

void mist_checkpoint_free(mist_checkpoint *ck)
{
    if (!ck) return;
    free(ck->params);
    free(ck->m);
    free(ck->v);
    ck->params = ck->m = ck->v = NULL;
}

static int parse_root(const msgpack_object *root, const char *name, mist_checkpoint *ck,
                      int *has_checksum, mist_err *err)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return mist_fail(err, MIST_EFORMAT, "'%s': not a checkpoint (not a map)", name);
    enum { NKEYS = 10, NREQUIRED = 9 }; /* the checksum is absent from older checkpoints */
    static const char *keys[NKEYS] = {"format",  "version", "arch", "config", "state",
                                      "nparams", "params",  "m",    "v",      MIST_CHECKSUM_KEY};
    int is_ckpt = 0;
    for (uint32_t i = 0; i < root->via.map.size; i++)
        if (mist_mp_str_is(&root->via.map.ptr[i].key, "format") &&
            mist_mp_str_is(&root->via.map.ptr[i].val, MIST_CKPT_FORMAT))
            is_ckpt = 1;
    if (!is_ckpt)
        return mist_fail(err, MIST_EFORMAT, "'%s': not a valid checkpoint (no format \"%s\")",
                         name, MIST_CKPT_FORMAT);
    const msgpack_object *val[NKEYS] = {0};
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        size_t j = 0;
        while (j < NKEYS && !mist_mp_str_is(k, keys[j])) j++;
        if (j == NKEYS) return mist_fail(err, MIST_EFORMAT, "'%s': unknown top-level key", name);
        if (val[j]) return mist_fail(err, MIST_EFORMAT, "'%s': duplicate key '%s'", name, keys[j]);
        val[j] = &root->via.map.ptr[i].val;
    }
    if (val[NKEYS - 1] && &root->via.map.ptr[root->via.map.size - 1].val != val[NKEYS - 1])
        return mist_fail(err, MIST_EFORMAT, "'%s': the checksum is not the file's last entry",
                         name);
    *has_checksum = val[NKEYS - 1] != NULL;
    for (size_t j = 0; j < NREQUIRED; j++)
        if (!val[j]) return mist_fail(err, MIST_EFORMAT, "'%s': key '%s' is missing", name, keys[j]);
    if (!mist_mp_str_is(val[0], MIST_CKPT_FORMAT))
        return mist_fail(err, MIST_EFORMAT, "'%s': format is not \"%s\"", name, MIST_CKPT_FORMAT);
    int64_t ver;
    if (mist_mp_get_i64(val[1], INT64_MIN, INT64_MAX, &ver) || ver != MIST_CKPT_VERSION)
        return mist_fail(err, MIST_EFORMAT, "'%s': unsupported checkpoint version", name);
    int rc;
    if ((rc = arch_unpack(val[2], &ck->cfg.arch, name, err)) ||
        (rc = read_fields(val[3], "config", &ck->cfg, config_fields, NF(config_fields), name, err)) ||
        (rc = read_fields(val[4], "state", ck, state_fields, NF(state_fields), name, err)))
        return rc;
    if (mist_train_config_validate(&ck->cfg, err)) {
        char msg[MIST_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return mist_fail(err, MIST_EFORMAT, "'%s': bad configuration: %.400s", name, msg);
    }
    size_t np = mist_arch_param_count(&ck->cfg.arch);
    if (val[5]->type != MSGPACK_OBJECT_POSITIVE_INTEGER || val[5]->via.u64 != np)
        return mist_fail(err, MIST_EFORMAT, "'%s': nparams does not match the arch (%zu)", name, np);
    if (ck->step < 0 || ck->step > ck->cfg.steps)
        return mist_fail(err, MIST_EFORMAT, "'%s': step %lld is outside 0..steps", name,
                         (long long)ck->step);
    float **dst[3] = {&ck->params, &ck->m, &ck->v};
    for (int b = 0; b < 3; b++) {
        const msgpack_object *o = val[6 + b];
        if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != np * 4)
            return mist_fail(err, MIST_EFORMAT, "'%s': block '%s' is not a bin of %zu bytes", name,
                             keys[6 + b], np * 4);
        *dst[b] = malloc(np ? np * 4 : 4);
        if (!*dst[b]) return mist_fail(err, MIST_ENOMEM, "out of memory");
        if (np) memcpy(*dst[b], o->via.bin.ptr, np * 4);
        for (size_t i = 0; i < np; i++)
            if (!isfinite((*dst[b])[i]) || (b == 2 && (*dst[b])[i] < 0))
                return mist_fail(err, MIST_EFORMAT, "'%s': block '%s' holds a bad value at %zu",
                                 name, keys[6 + b], i);
    }
    ck->nparams = np;
    return MIST_OK;
}

int mist_checkpoint_read_mem(const void *buf, size_t len, const char *name, mist_checkpoint *ck,
                             mist_err *err)
{
    memset(ck, 0, sizeof *ck);
    const char *why;
    if (mist_msgpack_check(buf, len, &why))
        return mist_fail(err, MIST_EFORMAT, "'%s': not a valid checkpoint (%s)", name, why);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc, has_checksum = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, buf, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", name);
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = mist_fail(err, MIST_EFORMAT, "'%s': not a valid checkpoint", name);
    else
        rc = parse_root(&up.data, name, ck, &has_checksum, err);
    msgpack_unpacked_destroy(&up);
    /* last, as for weights: a checkpoint that parses but was changed since it was written */
    if (!rc && has_checksum) rc = mist_checksum_verify(buf, len, name, "checkpoint", err);
    if (rc) mist_checkpoint_free(ck);
    return rc;
}

int mist_checkpoint_read(const char *path, mist_checkpoint *ck, mist_err *err)
{
    char full[4096];
    struct stat st;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!is_dir) snprintf(full, sizeof full, "%s", path);
    else snprintf(full, sizeof full, "%s/%s", path, MIST_CKPT_FILE);
    unsigned char *buf = NULL;
    size_t len = 0;
    int missing = 0;
    memset(ck, 0, sizeof *ck);
    int rc = mist_io_slurp(full, CKPT_MAX_BYTES, &buf, &len, &missing, err);
    if (rc) return rc;
    rc = mist_checkpoint_read_mem(buf, len, full, ck, err);
    free(buf);
    return rc;
}
