/* Self-contained .msgpack records: one map holding the metadata and the matrix as a bin of
 * little-endian float64. The reader first walks the raw bytes itself to prove the buffer holds
 * exactly one complete, sanely sized object: msgpack-c allocates containers from the counts the
 * input declares, so "array of 4 billion elements" in a 5-byte file would otherwise ask for
 * ~100 GB. Only then does msgpack_unpack_next build the object tree we validate. */
#include "io_internal.h"
#include "mp_util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MSGPACK_RECORD_VERSION 1
#define MP_MAX_DEPTH MIST_MSGPACK_MAX_DEPTH
#define CHUNK 4096

/* ---- writing ---------------------------------------------------------------------------- */

static int pack_mi(msgpack_packer *pk, double x)
{
    return isnan(x) ? msgpack_pack_nil(pk) : msgpack_pack_double(pk, x);
}

int mist_msgpack_write(FILE *f, const char *name, const mist_dataset *ds, mist_err *err)
{
    size_t cols = (size_t)ds->dx + (size_t)ds->dy;
    size_t total = ds->n * cols; /* the dataset exists in memory, so this cannot overflow */
    if (total > UINT32_MAX / 8)
        return mist_fail(err, MIST_EINVAL,
                         "'%s': %zu values exceed the 4 GiB limit of a msgpack bin; use .npy",
                         name, total);
    const mist_meta *m = &ds->meta;
    msgpack_packer pk;
    msgpack_packer_init(&pk, f, mist_mp_fwrite);
    int bad = 0;
    int has_tr = m->transform[0] != '\0'; /* only then: untransformed records keep their bytes */
    bad |= msgpack_pack_map(&pk, has_tr ? 13 : 11);
    bad |= mist_mp_pack_str(&pk, "format") || mist_mp_pack_str(&pk, "mist-dataset");
    bad |= mist_mp_pack_str(&pk, "version") || msgpack_pack_int(&pk, MSGPACK_RECORD_VERSION);
    bad |= mist_mp_pack_str(&pk, "task") || mist_mp_pack_str(&pk, m->task);
    bad |= mist_mp_pack_str(&pk, "dx") || msgpack_pack_int(&pk, ds->dx);
    bad |= mist_mp_pack_str(&pk, "dy") || msgpack_pack_int(&pk, ds->dy);
    bad |= mist_mp_pack_str(&pk, "n") || msgpack_pack_uint64(&pk, (uint64_t)ds->n);
    bad |= mist_mp_pack_str(&pk, "seed") ||
           (m->has_seed ? msgpack_pack_uint64(&pk, m->seed) : msgpack_pack_nil(&pk));
    bad |= mist_mp_pack_str(&pk, "mi") || pack_mi(&pk, m->mi);
    bad |= mist_mp_pack_str(&pk, "params") || msgpack_pack_map(&pk, m->nparams);
    for (size_t i = 0; i < m->nparams && !bad; i++)
        bad |= mist_mp_pack_str(&pk, m->params[i].name) || msgpack_pack_double(&pk, m->params[i].value);
    bad |= mist_mp_pack_str(&pk, "generator_version") || mist_mp_pack_str(&pk, m->generator_version);
    if (has_tr) {
        bad |= mist_mp_pack_str(&pk, "transform") || mist_mp_pack_str(&pk, m->transform);
        bad |= mist_mp_pack_str(&pk, "transform_seed") || msgpack_pack_uint64(&pk, m->transform_seed);
    }
    bad |= mist_mp_pack_str(&pk, "data") || msgpack_pack_bin(&pk, total * 8);
    if (!bad && mist_io_host_le()) {
        bad |= msgpack_pack_bin_body(&pk, ds->data, total * 8);
    } else {
        unsigned char buf[CHUNK * 8];
        for (size_t off = 0; off < total && !bad; off += CHUNK) {
            size_t k = total - off < CHUNK ? total - off : CHUNK;
            for (size_t i = 0; i < k; i++) mist_io_put_f64(buf + 8 * i, ds->data[off + i]);
            bad |= msgpack_pack_bin_body(&pk, buf, k * 8);
        }
    }
    if (bad) return mist_fail(err, MIST_EIO, "cannot write '%s': %s", name, strerror(errno));
    return MIST_OK;
}

/* ---- structural pre-check --------------------------------------------------------------- */

/* Big-endian length of w bytes at p. */
static uint64_t be(const unsigned char *p, int w)
{
    uint64_t v = 0;
    for (int i = 0; i < w; i++) v = v << 8 | p[i];
    return v;
}

/* 0 when buf holds exactly one complete msgpack object, every container declaring no more
 * elements than bytes remain (each element takes at least one) and nesting <= MP_MAX_DEPTH. */
int mist_msgpack_check(const unsigned char *buf, size_t len, const char **why)
{
    uint64_t left[MP_MAX_DEPTH + 1]; /* elements still expected at each open level */
    int depth = 0;
    left[0] = 1;
    size_t pos = 0;
    for (;;) {
        while (depth >= 0 && left[depth] == 0) depth--;
        if (depth < 0) break;
        left[depth]--;
        if (pos >= len) goto truncated;
        unsigned b = buf[pos++];
        uint64_t skip = 0, count = 0;
        int container = 0, w = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            skip = 0; /* fixint, nil, bool */
        } else if (b >= 0x80 && b <= 0x8f) {
            container = 1, count = 2 * (uint64_t)(b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            container = 1, count = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: w = 1; break;                 /* bin8, str8 */
            case 0xc5: case 0xda: w = 2; break;                 /* bin16, str16 */
            case 0xc6: case 0xdb: w = 4; break;                 /* bin32, str32 */
            case 0xc7: w = 1; skip = 1; break;                  /* ext8: len, type */
            case 0xc8: w = 2; skip = 1; break;                  /* ext16 */
            case 0xc9: w = 4; skip = 1; break;                  /* ext32 */
            case 0xca: skip = 4; break;                         /* float32 */
            case 0xcb: skip = 8; break;                         /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;              /* (u)int8 */
            case 0xcd: case 0xd1: skip = 2; break;              /* (u)int16 */
            case 0xce: case 0xd2: skip = 4; break;              /* (u)int32 */
            case 0xcf: case 0xd3: skip = 8; break;              /* (u)int64 */
            case 0xd4: skip = 2; break;                         /* fixext1 */
            case 0xd5: skip = 3; break;                         /* fixext2 */
            case 0xd6: skip = 5; break;                         /* fixext4 */
            case 0xd7: skip = 9; break;                         /* fixext8 */
            case 0xd8: skip = 17; break;                        /* fixext16 */
            case 0xdc: container = 1; w = 2; break;             /* array16 */
            case 0xdd: container = 1; w = 4; break;             /* array32 */
            case 0xde: container = 2; w = 2; break;             /* map16 */
            case 0xdf: container = 2; w = 4; break;             /* map32 */
            default: *why = "invalid type byte"; return -1;     /* 0xc1 */
            }
            if (w) {
                if (len - pos < (size_t)w) goto truncated;
                uint64_t l = be(buf + pos, w);
                pos += (size_t)w;
                if (container) count = container == 2 ? 2 * l : l;
                else skip += l;
            }
        }
        if (container) {
            if (count > len - pos) goto truncated;
            if (depth == MP_MAX_DEPTH) {
                *why = "nesting too deep";
                return -1;
            }
            left[++depth] = count;
        } else {
            if (skip > len - pos) goto truncated;
            pos += (size_t)skip;
        }
    }
    if (pos != len) {
        *why = "unexpected bytes after the record";
        return -1;
    }
    return 0;
truncated:
    *why = "truncated record";
    return -1;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int get_uint(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *out = o->via.u64;
    return 0;
}

/* Keys from K_REQUIRED on are optional (written only when they say something). */
enum {
    K_FORMAT, K_VERSION, K_TASK, K_DX, K_DY, K_N, K_SEED, K_MI, K_PARAMS, K_GENVER, K_DATA,
    K_REQUIRED, K_TRANSFORM = K_REQUIRED, K_TSEED, K_COUNT
};
static const char *const key_names[K_COUNT] = {
    "format", "version", "task", "dx", "dy", "n", "seed", "mi", "params", "generator_version",
    "data", "transform", "transform_seed"};

static int decode(const char *path, const msgpack_object *root, double **data, size_t *n_out,
                  int *dx_out, int *dy_out, mist_meta *meta, mist_err *err)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return mist_fail(err, MIST_EFORMAT, "'%s': record is not a map", path);
    const msgpack_object *val[K_COUNT] = {NULL};
    const msgpack_object_map *map = &root->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        for (int k = 0; k < K_COUNT; k++) {
            if (!mist_mp_str_is(&map->ptr[i].key, key_names[k])) continue;
            if (val[k])
                return mist_fail(err, MIST_EFORMAT, "'%s': key \"%s\" appears twice", path,
                                 key_names[k]);
            val[k] = &map->ptr[i].val;
        }
        /* Unknown keys are ignored: later versions may add fields. */
    }
    for (int k = 0; k < K_REQUIRED; k++)
        if (!val[k])
            return mist_fail(err, MIST_EFORMAT, "'%s': record has no \"%s\"", path, key_names[k]);
    if (!val[K_TRANSFORM] != !val[K_TSEED])
        return mist_fail(err, MIST_EFORMAT, "'%s': record has \"%s\" without \"%s\"", path,
                         key_names[val[K_TSEED] ? K_TSEED : K_TRANSFORM],
                         key_names[val[K_TSEED] ? K_TRANSFORM : K_TSEED]);

    const char *bad = NULL;
    char format[32];
    uint64_t version = 0, dx = 0, dy = 0, n = 0;
    if (mist_mp_get_str(val[K_FORMAT], format, sizeof format) || strcmp(format, "mist-dataset") != 0)
        bad = "format";
    else if (get_uint(val[K_VERSION], &version))
        bad = "version";
    else if (version != MSGPACK_RECORD_VERSION)
        return mist_fail(err, MIST_EFORMAT, "'%s': unsupported record version %llu", path,
                         (unsigned long long)version);
    else if (mist_mp_get_str(val[K_TASK], meta->task, sizeof meta->task))
        bad = "task";
    else if (get_uint(val[K_DX], &dx) || dx < 1 || dx > INT_MAX)
        bad = "dx";
    else if (get_uint(val[K_DY], &dy) || dy < 1 || dy > INT_MAX - dx)
        bad = "dy";
    else if (get_uint(val[K_N], &n) || n > SIZE_MAX)
        bad = "n";
    else if (val[K_SEED]->type != MSGPACK_OBJECT_NIL && get_uint(val[K_SEED], &meta->seed))
        bad = "seed";
    else if (mist_mp_get_double(val[K_MI], 1, &meta->mi))
        bad = "mi";
    else if (val[K_PARAMS]->type != MSGPACK_OBJECT_MAP)
        bad = "params";
    else if (mist_mp_get_str(val[K_GENVER], meta->generator_version, sizeof meta->generator_version))
        bad = "generator_version";
    else if (val[K_DATA]->type != MSGPACK_OBJECT_BIN)
        bad = "data";
    else if (val[K_TRANSFORM] &&
             (mist_mp_get_str(val[K_TRANSFORM], meta->transform, sizeof meta->transform) ||
              !meta->transform[0]))
        bad = "transform";
    else if (val[K_TSEED] && get_uint(val[K_TSEED], &meta->transform_seed))
        bad = "transform_seed";
    if (bad) return mist_fail(err, MIST_EFORMAT, "'%s': invalid value for \"%s\"", path, bad);
    meta->has_seed = val[K_SEED]->type != MSGPACK_OBJECT_NIL;

    const msgpack_object_map *pm = &val[K_PARAMS]->via.map;
    for (uint32_t i = 0; i < pm->size; i++) {
        char pname[MIST_PARAM_NAME_LEN];
        double x;
        if (mist_mp_get_str(&pm->ptr[i].key, pname, sizeof pname) || !pname[0] ||
            mist_mp_get_double(&pm->ptr[i].val, 1, &x))
            return mist_fail(err, MIST_EFORMAT, "'%s': invalid entry %u in \"params\"", path,
                             (unsigned)i + 1);
        if (mist_meta_get_param(meta, pname, NULL))
            return mist_fail(err, MIST_EFORMAT, "'%s': parameter '%s' appears twice", path,
                             pname);
        int rc = mist_meta_set_param(meta, pname, x, err);
        if (rc) return rc;
    }

    size_t cols = (size_t)dx + (size_t)dy;
    if (n > SIZE_MAX / 8 / cols)
        return mist_fail(err, MIST_EFORMAT, "'%s': %llu rows of %zu columns is too large", path,
                         (unsigned long long)n, cols);
    size_t total = (size_t)n * cols;
    uint32_t blen = val[K_DATA]->via.bin.size;
    if ((uint64_t)blen != (uint64_t)total * 8)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': data holds %lu bytes but n=%llu, dx+dy=%zu need %zu", path,
                         (unsigned long)blen, (unsigned long long)n, cols, total * 8);
    double *d = malloc(total ? total * sizeof(double) : sizeof(double));
    if (!d) return mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    /* The bin sits at an arbitrary offset in the buffer: copy bytes, never cast. */
    const unsigned char *src = (const unsigned char *)val[K_DATA]->via.bin.ptr;
    if (mist_io_host_le()) {
        if (total) memcpy(d, src, total * 8);
    } else {
        for (size_t i = 0; i < total; i++) d[i] = mist_io_get_f64(src + 8 * i);
    }
    *data = d;
    *n_out = (size_t)n;
    *dx_out = (int)dx;
    *dy_out = (int)dy;
    return MIST_OK;
}

int mist_msgpack_read(const char *path, double **data, size_t *n, int *dx, int *dy,
                      mist_meta *meta, mist_err *err)
{
    memset(meta, 0, sizeof *meta);
    meta->mi = NAN;
    unsigned char *buf;
    size_t len;
    /* A bin holds at most 4 GiB, so no valid record is much larger. */
    int rc = mist_io_slurp(path, (size_t)UINT32_MAX + (1u << 20), &buf, &len, NULL, err);
    if (rc) return rc;
    const char *why = NULL;
    if (len == 0) {
        free(buf);
        return mist_fail(err, MIST_EFORMAT, "'%s' is empty", path);
    }
    if (mist_msgpack_check(buf, len, &why)) {
        free(buf);
        return mist_fail(err, MIST_EFORMAT, "'%s': not a valid msgpack record (%s)", path, why);
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)buf, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = mist_fail(err, MIST_ENOMEM, "out of memory reading '%s'", path);
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = mist_fail(err, MIST_EFORMAT, "'%s': not a valid msgpack record", path);
    else
        rc = decode(path, &up.data, data, n, dx, dy, meta, err);
    msgpack_unpacked_destroy(&up);
    free(buf);
    if (rc) mist_meta_clear(meta);
    return rc;
}
