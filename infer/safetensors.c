/* safetensors reader: 8-byte little-endian header length N, N bytes of JSON
 *   {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"k": "v", ...}}
 * then the data section; offsets are relative to byte 8 + N. Everything is validated: N is
 * bounded and fits the buffer, the JSON is strict (core's parser: no duplicate names), each
 * entry has exactly a dtype we know, a shape of non-negative dims whose byte size does not
 * overflow, and offsets with begin <= end that match the byte size; sorted by offset, the
 * tensors tile the data section exactly (first at 0, no gaps, no overlaps, last ends at the
 * end of the buffer). __metadata__ must be an object of strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"
#include "io_internal.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MB, the limit of the reference library */

const char *mist_st_dtype_name(int dtype)
{
    switch (dtype) {
    case MIST_ST_F32: return "F32";
    case MIST_ST_F64: return "F64";
    case MIST_ST_F16: return "F16";
    case MIST_ST_BF16: return "BF16";
    default: return "?";
    }
}

static int dtype_size(int dt)
{
    return dt == MIST_ST_F64 ? 8 : dt == MIST_ST_F32 ? 4 : 2;
}

void mist_safetensors_free(mist_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->ntensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st->metadata_json);
    memset(st, 0, sizeof *st);
}

const mist_st_tensor *mist_safetensors_find(const mist_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->ntensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

static int cmp_offset(const void *a, const void *b)
{
    const mist_st_tensor *p = a, *q = b;
    if (p->data < q->data) return -1;
    if (p->data > q->data) return 1;
    /* equal offsets only for empty tensors: order by size, so an empty one sorts first */
    return (p->nbytes > q->nbytes) - (p->nbytes < q->nbytes);
}

/* The __metadata__ object back as compact JSON (keys and values are plain strings). */
static char *metadata_text(const mist_json *o)
{
    size_t len = 3;
    for (size_t i = 0; i < o->n; i++) len += 2 * (strlen(o->keys[i]) + strlen(o->items[i].str)) + 8;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    *p++ = '{';
    for (size_t i = 0; i < o->n; i++) {
        const char *parts[2] = {o->keys[i], o->items[i].str};
        if (i) *p++ = ',';
        for (int k = 0; k < 2; k++) {
            *p++ = '"';
            for (const char *c = parts[k]; *c; c++) {
                if (*c == '"' || *c == '\\') *p++ = '\\';
                *p++ = (unsigned char)*c < 0x20 ? ' ' : *c;
            }
            *p++ = '"';
            if (k == 0) *p++ = ':';
        }
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

static int parse_entry(const char *name, const char *tname, const mist_json *e,
                       const unsigned char *data, uint64_t data_len, mist_st_tensor *t,
                       mist_err *err)
{
    if (e->type != MIST_JSON_OBJ)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' is not a JSON object", name, tname);
    const mist_json *dt = NULL, *sh = NULL, *of = NULL;
    for (size_t i = 0; i < e->n; i++) {
        if (!strcmp(e->keys[i], "dtype")) dt = &e->items[i];
        else if (!strcmp(e->keys[i], "shape")) sh = &e->items[i];
        else if (!strcmp(e->keys[i], "data_offsets")) of = &e->items[i];
        else
            return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' has an unknown field \"%s\"",
                             name, tname, e->keys[i]);
    }
    if (!dt || !sh || !of)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s' lacks \"%s\"", name, tname,
                         !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (dt->type != MIST_JSON_STR)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': dtype is not a string", name,
                         tname);
    if (!strcmp(dt->str, "F32")) t->dtype = MIST_ST_F32;
    else if (!strcmp(dt->str, "F64")) t->dtype = MIST_ST_F64;
    else if (!strcmp(dt->str, "F16")) t->dtype = MIST_ST_F16;
    else if (!strcmp(dt->str, "BF16")) t->dtype = MIST_ST_BF16;
    else
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s' has dtype %.16s; only floating-point tensors (F32, "
                         "F64, F16, BF16) can be model weights",
                         name, tname, dt->str);
    if (sh->type != MIST_JSON_ARR || sh->n > 8)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': shape must be an array of at "
                         "most 8 dims", name, tname);
    t->ndim = (int)sh->n;
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < sh->n; i++) {
        uint64_t d;
        if (mist_json_u64(&sh->items[i], &d) || d > INT64_MAX)
            return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': bad shape entry %zu", name,
                             tname, i + 1);
        t->shape[i] = (int64_t)d;
        if (d && numel > UINT64_MAX / 8 / d) overflow = 1;
        else numel *= d;
    }
    if (overflow)
        return mist_fail(err, MIST_EFORMAT, "'%s': tensor '%s': shape is absurdly large", name,
                         tname);
    uint64_t nbytes = numel * (uint64_t)dtype_size(t->dtype);
    uint64_t b, e2;
    if (of->type != MIST_JSON_ARR || of->n != 2 || mist_json_u64(&of->items[0], &b) ||
        mist_json_u64(&of->items[1], &e2))
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s': data_offsets must be [begin, end] integers", name,
                         tname);
    if (b > e2 || e2 > data_len)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s': data_offsets [%llu, %llu) lie outside the %llu-byte "
                         "data section",
                         name, tname, (unsigned long long)b, (unsigned long long)e2,
                         (unsigned long long)data_len);
    if (e2 - b != nbytes)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': tensor '%s': data_offsets span %llu bytes but %s x %llu elements "
                         "need %llu",
                         name, tname, (unsigned long long)(e2 - b), mist_st_dtype_name(t->dtype),
                         (unsigned long long)numel, (unsigned long long)nbytes);
    t->numel = numel;
    t->data = data + b;
    t->nbytes = (size_t)nbytes;
    return MIST_OK;
}

int mist_safetensors_parse(const void *buf, size_t len, const char *name, mist_safetensors *st,
                           mist_err *err)
{
    memset(st, 0, sizeof *st);
    if (!name) name = "(memory)";
    const unsigned char *b = buf;
    if (!b || len < 8)
        return mist_fail(err, MIST_EFORMAT, "'%s': too short for a safetensors file (%zu bytes)",
                         name, len);
    uint64_t hl = mist_io_get_le64(b);
    if (hl > ST_MAX_HEADER)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': safetensors header length %llu exceeds the %llu-byte limit", name,
                         (unsigned long long)hl, (unsigned long long)ST_MAX_HEADER);
    if (hl > len - 8)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': safetensors header of %llu bytes runs past the end of the file "
                         "(%zu bytes): truncated?",
                         name, (unsigned long long)hl, len);
    if (hl < 2 || b[8] != '{')
        return mist_fail(err, MIST_EFORMAT, "'%s': the safetensors header is not a JSON object",
                         name);
    const unsigned char *data = b + 8 + hl;
    uint64_t data_len = len - 8 - hl;
    mist_json root;
    mist_err e2;
    if (mist_json_parse(name, (const char *)b + 8, (size_t)hl, &root, &e2))
        return mist_fail(err, e2.code, "safetensors header: %s", e2.msg);
    int rc = MIST_OK;
    if (root.type != MIST_JSON_OBJ) {
        rc = mist_fail(err, MIST_EFORMAT, "'%s': the safetensors header is not a JSON object",
                       name);
        goto out;
    }
    st->tensors = calloc(root.n ? root.n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = mist_fail(err, MIST_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < root.n; i++) {
        const char *k = root.keys[i];
        const mist_json *e = &root.items[i];
        if (!strcmp(k, "__metadata__")) {
            if (e->type != MIST_JSON_OBJ) {
                rc = mist_fail(err, MIST_EFORMAT, "'%s': __metadata__ is not an object", name);
                goto out;
            }
            for (size_t j = 0; j < e->n; j++)
                if (e->items[j].type != MIST_JSON_STR) {
                    rc = mist_fail(err, MIST_EFORMAT,
                                   "'%s': __metadata__ value \"%s\" is not a string", name,
                                   e->keys[j]);
                    goto out;
                }
            free(st->metadata_json);
            st->metadata_json = metadata_text(e);
            if (!st->metadata_json) {
                rc = mist_fail(err, MIST_ENOMEM, "out of memory");
                goto out;
            }
            continue;
        }
        mist_st_tensor *t = &st->tensors[st->ntensors];
        if ((rc = parse_entry(name, k, e, data, data_len, t, err))) goto out;
        t->name = strdup(k);
        if (!t->name) {
            rc = mist_fail(err, MIST_ENOMEM, "out of memory");
            goto out;
        }
        st->ntensors++;
    }
    if (st->ntensors > 1) qsort(st->tensors, st->ntensors, sizeof *st->tensors, cmp_offset);
    uint64_t pos = 0;
    for (size_t i = 0; i < st->ntensors; i++) {
        const mist_st_tensor *t = &st->tensors[i];
        uint64_t b0 = (uint64_t)(t->data - data);
        if (b0 > pos) {
            rc = mist_fail(err, MIST_EFORMAT,
                           "'%s': %llu unused bytes before tensor '%s' in the data section "
                           "(offsets must tile it exactly)",
                           name, (unsigned long long)(b0 - pos), t->name);
            goto out;
        }
        if (b0 < pos) {
            rc = mist_fail(err, MIST_EFORMAT,
                           "'%s': tensor '%s' overlaps the tensor before it (offsets must tile "
                           "the data section exactly)",
                           name, t->name);
            goto out;
        }
        pos = b0 + t->nbytes;
    }
    if (pos != data_len) {
        rc = mist_fail(err, MIST_EFORMAT,
                       "'%s': the data section has %llu bytes but the tensors cover %llu "
                       "(trailing bytes or a truncated file)",
                       name, (unsigned long long)data_len, (unsigned long long)pos);
        goto out;
    }
out:
    mist_json_free(&root);
    if (rc) mist_safetensors_free(st);
    return rc;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void mist_st_to_f32(const mist_st_tensor *t, float *out)
{
    const unsigned char *p = t->data;
    for (uint64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case MIST_ST_F32: out[i] = infer_get_f32le(p + 4 * i); break;
        case MIST_ST_F64: out[i] = (float)mist_io_get_f64(p + 8 * i); break;
        case MIST_ST_F16: out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case MIST_ST_BF16: {
            uint32_t bits = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &bits, 4);
            break;
        }
        }
    }
}
