/* msgpack helpers shared by the dataset, weights and checkpoint formats. Internal. */
#ifndef MIST_MP_UTIL_H
#define MIST_MP_UTIL_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* A msgpack_packer write callback onto a FILE * (data). */
int mist_mp_fwrite(void *data, const char *buf, size_t len);

/* A C string as a msgpack str; nonzero on a write error. */
int mist_mp_pack_str(msgpack_packer *pk, const char *s);

/* 1 when o is a str equal to s (byte for byte, same length). */
int mist_mp_str_is(const msgpack_object *o, const char *s);

/* A str into a C string buffer, whole: -1 when o is no str, holds a NUL or does not fit. */
int mist_mp_get_str(const msgpack_object *o, char *dst, size_t dstsz);

/* A str for a message: truncated to dstsz - 1, NULs and control characters shown as '?';
 * "(not a string)" when o is no str. */
void mist_mp_show_str(const msgpack_object *o, char *dst, size_t dstsz);

/* An integer (either msgpack integer type) within [lo, hi]; -1 otherwise. */
int mist_mp_get_i64(const msgpack_object *o, int64_t lo, int64_t hi, int64_t *out);

/* A number: floats, and integers too (Python's msgpack writes 2.0 as 2); nil as NaN when
 * allow_nil. -1 for anything else. */
int mist_mp_get_double(const msgpack_object *o, int allow_nil, double *out);

#endif
