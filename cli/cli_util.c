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

int cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    uint64_t v;
    if (mist_parse_u64(s, &v) || v < lo || v > hi) return -1;
    *out = (size_t)v;
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
    return mist_parse_int(a, 1, 1 << 20, dx) || mist_parse_int(x + 1, 1, 1 << 20, dy) ? -1 : 0;
}

int cli_parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    const char *dash = s ? strchr(s, '-') : NULL;
    if (!dash) {
        if (mist_parse_u64(s, lo)) return -1;
        *hi = *lo;
        return 0;
    }
    char a[32];
    size_t la = (size_t)(dash - s);
    if (la == 0 || la >= sizeof a) return -1;
    memcpy(a, s, la);
    a[la] = '\0';
    if (mist_parse_u64(a, lo) || mist_parse_u64(dash + 1, hi) || *hi < *lo) return -1;
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
