/* Small helpers shared by the Check suites. */
#ifndef MIST_TESTUTIL_H
#define MIST_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* A fresh empty directory under the build tree's tests folder; returns its path (static). */
const char *tu_tmpdir(const char *tag);
/* Reads a whole file; *len receives its size. NULL when it cannot be read. Caller frees. */
unsigned char *tu_slurp(const char *path, size_t *len);
/* Writes len bytes to path (not atomically: tests build malformed files on purpose). */
void tu_write(const char *path, const void *bytes, size_t len);
/* Runs one suite; returns the number of failures. */
int tu_run(Suite *s);

#endif
