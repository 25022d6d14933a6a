#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double mist_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* strtol and strtod skip leading white space: refuse it (trailing text is refused by *end) */
static int starts_clean(const char *s)
{
    return s && *s && !isspace((unsigned char)*s);
}

int mist_parse_int(const char *s, int lo, int hi, int *out)
{
    if (!starts_clean(s)) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int mist_parse_u64(const char *s, uint64_t *out)
{
    /* strtoull accepts a sign and wraps "-1" to the maximum: digits only */
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

int mist_parse_double(const char *s, double *out)
{
    if (!starts_clean(s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int mist_json_num_text(char *buf, double x)
{
    const char *lit = isnan(x) ? "null" : isinf(x) ? (x > 0 ? "1e999" : "-1e999") : NULL;
    if (lit) {
        size_t l = strlen(lit);
        memcpy(buf, lit, l + 1);
        return (int)l;
    }
    return snprintf(buf, MIST_JSON_NUM_MAX, "%.17g", x);
}

int mist_json_put_number(FILE *f, double x)
{
    char buf[MIST_JSON_NUM_MAX];
    int l = mist_json_num_text(buf, x);
    return fwrite(buf, 1, (size_t)l, f) == (size_t)l ? 0 : -1;
}

int mist_json_escape_byte(char *out, unsigned char c)
{
    if (c == '"' || c == '\\') return out[0] = '\\', out[1] = (char)c, 2;
    if (c == '\n') return out[0] = '\\', out[1] = 'n', 2;
    if (c == '\t') return out[0] = '\\', out[1] = 't', 2;
    if (c < 0x20) return snprintf(out, 8, "\\u%04x", c);
    out[0] = (char)c;
    return 1;
}

int mist_json_put_string(FILE *f, const char *s)
{
    if (fputc('"', f) == EOF) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        size_t l = (size_t)mist_json_escape_byte(e, *p);
        if (fwrite(e, 1, l, f) != l) return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}

int mist_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t mist_first_nonfinite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

size_t mist_first_nonfinite_f(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}
