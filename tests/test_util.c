/* The shared helpers of core/util.h and core/mp_util.h against independent references: the
 * fan-out runs every job exactly once (more jobs than threads too), the JSON number writer
 * round-trips through strtod and the JSON parser, the string escaper through the parser for every
 * byte, the strict parsers refuse every near miss, the msgpack helpers agree with msgpack-c. */
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "mp_util.h"
#include "testutil.h"
#include "util.h"

typedef struct fan_job {
    atomic_int *runs; /* shared: total calls */
    int hits;         /* this job's calls */
} fan_job;

static void *fan_fn(void *p)
{
    fan_job *j = p;
    j->hits++;
    atomic_fetch_add(j->runs, 1);
    return NULL;
}

START_TEST(test_fan_out_every_job_once)
{
    const int counts[] = {1, 2, 7, 300}; /* 300: past the helper's thread cap */
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int T = counts[c];
        atomic_int runs = 0;
        fan_job *jobs = calloc((size_t)T, sizeof *jobs);
        ck_assert_ptr_nonnull(jobs);
        for (int t = 0; t < T; t++) jobs[t].runs = &runs;
        mist_fan_out(fan_fn, jobs, sizeof *jobs, T);
        ck_assert_int_eq(atomic_load(&runs), T);
        for (int t = 0; t < T; t++) ck_assert_msg(jobs[t].hits == 1, "T %d job %d ran %d times", T, t, jobs[t].hits);
        free(jobs);
    }
}
END_TEST

/* The text parsed back as JSON, then as a double by the sidecar's reader. */
static double json_back(const char *text)
{
    mist_json v;
    mist_err err;
    ck_assert_msg(mist_json_parse("t", text, strlen(text), &v, &err) == 0, "%s: %s", text, err.msg);
    double d = 0;
    ck_assert_int_eq(mist_json_double(&v, 1, &d), 0);
    mist_json_free(&v);
    return d;
}

START_TEST(test_json_number)
{
    char buf[MIST_JSON_NUM_MAX];
    uint64_t st = 12345;
    for (int i = 0; i < 20000; i++) {
        /* random bit patterns: every exponent, subnormals and signed zeros included */
        uint64_t bits = tu_rnext(&st);
        double x;
        memcpy(&x, &bits, 8);
        if (!isfinite(x)) continue;
        int l = mist_json_num_text(buf, x);
        ck_assert_int_eq(l, (int)strlen(buf));
        double y = strtod(buf, NULL);
        ck_assert_msg(memcmp(&x, &y, 8) == 0, "%s does not round-trip", buf);
        double z = json_back(buf);
        ck_assert_msg(memcmp(&x, &z, 8) == 0, "%s: JSON reader disagrees", buf);
    }
    mist_json_num_text(buf, NAN);
    ck_assert_str_eq(buf, "null");
    ck_assert(isnan(json_back(buf)));
    mist_json_num_text(buf, INFINITY);
    ck_assert_str_eq(buf, "1e999");
    ck_assert(isinf(json_back(buf)) && json_back(buf) > 0);
    mist_json_num_text(buf, -INFINITY);
    ck_assert(isinf(json_back(buf)) && json_back(buf) < 0);
    mist_json_num_text(buf, -DBL_MIN / 4); /* longest forms fit */
    ck_assert_int_lt((int)strlen(buf), MIST_JSON_NUM_MAX);
}
END_TEST

START_TEST(test_json_string_every_byte)
{
    /* every byte 1..255 in one string, written and parsed back */
    char s[256];
    for (int i = 1; i < 256; i++) s[i - 1] = (char)i;
    s[255] = '\0';
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(mist_json_put_string(f, s), 0);
    fclose(f);
    mist_json v;
    mist_err err;
    ck_assert_msg(mist_json_parse("t", text, len, &v, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(v.type, MIST_JSON_STR);
    ck_assert_mem_eq(v.str, s, 256);
    mist_json_free(&v);
    free(text);
}
END_TEST

START_TEST(test_strict_parsers)
{
    int i = 7;
    ck_assert_int_eq(mist_parse_int("-12", -20, 20, &i), 0);
    ck_assert_int_eq(i, -12);
    const char *bad_int[] = {"", " 1", "1 ", "1x", "0x10", "21", "-21", "99999999999999999999", "1.0"};
    for (size_t k = 0; k < sizeof bad_int / sizeof *bad_int; k++) {
        i = 7;
        ck_assert_msg(mist_parse_int(bad_int[k], -20, 20, &i) == -1, "'%s' accepted", bad_int[k]);
        ck_assert_int_eq(i, 7);
    }
    ck_assert_int_eq(mist_parse_int(NULL, 0, 1, &i), -1);
    uint64_t u = 0;
    ck_assert_int_eq(mist_parse_u64("18446744073709551615", &u), 0);
    ck_assert(u == UINT64_MAX);
    const char *bad_u[] = {"", "-1", "+1", " 1", "18446744073709551616", "1e3"};
    for (size_t k = 0; k < sizeof bad_u / sizeof *bad_u; k++)
        ck_assert_msg(mist_parse_u64(bad_u[k], &u) == -1, "'%s' accepted", bad_u[k]);
    double d = 0;
    ck_assert_int_eq(mist_parse_double("2.5e-3", &d), 0);
    ck_assert(d == 2.5e-3);
    const char *bad_d[] = {"", "nan", "inf", "1e999", "1,5", "1.5 ", "abc"};
    for (size_t k = 0; k < sizeof bad_d / sizeof *bad_d; k++)
        ck_assert_msg(mist_parse_double(bad_d[k], &d) == -1, "'%s' accepted", bad_d[k]);
}
END_TEST

START_TEST(test_nonfinite_scan)
{
    double x[50];
    float f[50];
    for (int i = 0; i < 50; i++) x[i] = f[i] = (float)i;
    ck_assert_uint_eq(mist_first_nonfinite(x, 50), 50);
    ck_assert_uint_eq(mist_first_nonfinite_f(f, 50), 50);
    ck_assert_uint_eq(mist_first_nonfinite(x, 0), 0);
    x[31] = -INFINITY;
    x[40] = NAN;
    f[17] = NAN;
    ck_assert_uint_eq(mist_first_nonfinite(x, 50), 31);
    ck_assert_uint_eq(mist_first_nonfinite(x, 31), 31);
    ck_assert_uint_eq(mist_first_nonfinite_f(f, 50), 17);
}
END_TEST

START_TEST(test_msgpack_helpers)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 7);
    ck_assert_int_eq(mist_mp_pack_str(&pk, "tensor.w"), 0);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "a\0b", 3);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_double(&pk, 0.25);
    msgpack_pack_nil(&pk);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "\n\x7f", 2);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    ck_assert_int_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *o = u.data.via.array.ptr;
    ck_assert(mist_mp_str_is(&o[0], "tensor.w"));
    ck_assert(!mist_mp_str_is(&o[0], "tensor"));
    ck_assert(!mist_mp_str_is(&o[0], "tensor.w2"));
    ck_assert(!mist_mp_str_is(&o[2], "tensor.w"));
    char buf[16];
    ck_assert_int_eq(mist_mp_get_str(&o[0], buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "tensor.w");
    ck_assert_int_eq(mist_mp_get_str(&o[0], buf, 8), -1); /* 8 bytes + NUL do not fit */
    ck_assert_int_eq(mist_mp_get_str(&o[1], buf, sizeof buf), -1); /* holds a NUL */
    mist_mp_show_str(&o[1], buf, sizeof buf);
    ck_assert_str_eq(buf, "a?b");
    mist_mp_show_str(&o[6], buf, sizeof buf);
    ck_assert_str_eq(buf, "??");
    mist_mp_show_str(&o[2], buf, sizeof buf);
    ck_assert_str_eq(buf, "(not a string)");
    int64_t v = 0;
    ck_assert_int_eq(mist_mp_get_i64(&o[2], -10, 10, &v), 0);
    ck_assert(v == -5);
    ck_assert_int_eq(mist_mp_get_i64(&o[2], 0, 10, &v), -1);
    ck_assert_int_eq(mist_mp_get_i64(&o[3], INT64_MIN, INT64_MAX, &v), -1); /* > INT64_MAX */
    ck_assert_int_eq(mist_mp_get_i64(&o[4], INT64_MIN, INT64_MAX, &v), -1); /* a float */
    double d = 0;
    ck_assert_int_eq(mist_mp_get_double(&o[4], 0, &d), 0);
    ck_assert(d == 0.25);
    ck_assert_int_eq(mist_mp_get_double(&o[2], 0, &d), 0);
    ck_assert(d == -5);
    ck_assert_int_eq(mist_mp_get_double(&o[5], 0, &d), -1);
    ck_assert_int_eq(mist_mp_get_double(&o[5], 1, &d), 0);
    ck_assert(isnan(d));
    ck_assert_int_eq(mist_mp_get_double(&o[0], 1, &d), -1);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

int main(void)
{
    return tu_run_case("util", 0, test_fan_out_every_job_once, test_json_number,
                       test_json_string_every_byte, test_strict_parsers, test_nonfinite_scan,
                       test_msgpack_helpers, NULL) ? 1 : 0;
}
