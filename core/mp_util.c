#include "mp_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int mist_mp_fwrite(void *data, const char *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)data) == len ? 0 : -1;
}

int mist_mp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t l = strlen(s);
    return msgpack_pack_str(pk, l) || msgpack_pack_str_body(pk, s, l);
}

int mist_mp_str_is(const msgpack_object *o, const char *s)
{
    size_t l = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == l &&
           memcmp(o->via.str.ptr, s, l) == 0;
}

int mist_mp_get_str(const msgpack_object *o, char *dst, size_t dstsz)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= dstsz ||
        memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -1;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

void mist_mp_show_str(const msgpack_object *o, char *dst, size_t dstsz)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        snprintf(dst, dstsz, "(not a string)");
        return;
    }
    size_t l = o->via.str.size < dstsz - 1 ? o->via.str.size : dstsz - 1;
    for (size_t i = 0; i < l; i++) {
        unsigned char c = (unsigned char)o->via.str.ptr[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[l] = '\0';
}

int mist_mp_get_i64(const msgpack_object *o, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) return -1;
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return -1;
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int mist_mp_get_double(const msgpack_object *o, int allow_nil, double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        if (!allow_nil) return -1;
        *out = NAN;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return 0;
    default: return -1;
    }
}
