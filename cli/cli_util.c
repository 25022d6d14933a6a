#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int unit_bits;

void cli_set_unit_bits(int bits) { unit_bits = bits; }

double cli_mi(double nats) { return unit_bits ? nats / 0.69314718055994530942 : nats; }

const char *cli_unit(void) { return unit_bits ? "bits" : "nats"; }

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mist: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_json_num(double v)
{
    if (isfinite(v)) printf("%.17g", v);
    else printf("null");
}

void cli_json_str(const char *str)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    uint64_t v;
    if (cli_parse_u64(s, &v) || v < lo || v > hi) return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_int(const char *s, int lo, int hi, int *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int cli_parse_dims(const char *s, int *dx, int *dy)
{
    const char *x = s ? strchr(s, 'x') : NULL;
    if (!x) return -1;
    char a[32];
    size_t la = (size_t)(x - s);
    if (la == 0 || la >= sizeof a) return -1;
    memcpy(a, s, la);
    a[la] = '\0';
    return cli_parse_int(a, 1, 1 << 20, dx) || cli_parse_int(x + 1, 1, 1 << 20, dy) ? -1 : 0;
}

int cli_parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *dash = s ? strchr(s, '-') : NULL;
    if (!dash) {
        if (cli_parse_u64(s, lo)) return -1;
        *hi = *lo;
        return 0;
    }
    char a[32];
    size_t la = (size_t)(dash - s);
    if (la == 0 || la >= sizeof a) return -1;
    memcpy(a, s, la);
    a[la] = '\0';
    if (cli_parse_u64(a, lo) || cli_parse_u64(dash + 1, hi) || *hi < *lo) return -1;
    return 0;
}

int cli_regular_file(const char *cmd, const char *path)
{
    struct stat st;
    /* a missing file is left to the reader, whose message names it */
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    cli_error("%s: '%s' is not a regular file (%s): it must be a file of a known size", cmd, path,
              S_ISDIR(st.st_mode)    ? "a folder"
              : S_ISFIFO(st.st_mode) ? "a pipe"
              : S_ISCHR(st.st_mode)  ? "a character device"
                                     : "a device or socket");
    return 1;
}
