/* Small helpers every part of mist shares: a monotonic clock, the strict number parsers, the one
 * JSON number writer, the non-finite scan and the thread fan-out. Internal (not installed); the
 * names carry the mist_ prefix because libmist.so exports exactly the mist_ symbols and the
 * command-line tool, a separate program, uses these too. */
#ifndef MIST_UTIL_H
#define MIST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Seconds on CLOCK_MONOTONIC: for durations only. */
double mist_clock_s(void);

/* Strict parsers: all of s (no leading or trailing text, not empty), in range, no overflow.
 * 0 on success, -1 otherwise (*out untouched). Doubles must be finite. */
int mist_parse_int(const char *s, int lo, int hi, int *out);
int mist_parse_u64(const char *s, uint64_t *out);
int mist_parse_double(const char *s, double *out);

/* A double as a JSON number: %.17g (round-trips), NaN as null, +-inf as +-1e999 (which JSON
 * readers turn back into an infinity; JSON has no NaN or Infinity literal). buf holds at least
 * MIST_JSON_NUM_MAX bytes; returns the length written. */
#define MIST_JSON_NUM_MAX 32
int mist_json_num_text(char *buf, double x);
/* The same onto f; 0, or -1 on a write error. */
int mist_json_put_number(FILE *f, double x);

/* Byte c as it appears inside a JSON string literal: '"' and '\\' escaped, \n and \t by
 * name, other control bytes as \u00XX, everything else (bytes >= 0x80 too: names are UTF-8 or
 * ASCII) as itself. out holds at least 8 bytes; returns the length written. */
int mist_json_escape_byte(char *out, unsigned char c);
/* s as a JSON string literal onto f; 0, or -1 on a write error. */
int mist_json_put_string(FILE *f, const char *s);

/* qsort comparator of doubles, increasing (no NaN among them). */
int mist_cmp_double(const void *a, const void *b);

/* The index of the first NaN or infinity in x[0..n), or n when all are finite. */
size_t mist_first_nonfinite(const double *x, size_t n);
size_t mist_first_nonfinite_f(const float *x, size_t n);

/* Runs fn on each of the T job records jobs, jobs + stride, ...: jobs 1..T-1 on their own
 * threads, job 0 on the calling thread, then any job whose thread could not be started, also on
 * the calling thread (so a failed pthread_create costs time, never work). Returns when all are
 * done. fn's return value is ignored. */
void mist_fan_out(void *(*fn)(void *), void *jobs, size_t stride, int T);

#endif
