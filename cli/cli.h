/* The mist command: a thin layer over libmist. */
#ifndef MIST_CLI_H
#define MIST_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "util.h" /* mist_parse_*, mist_json_put_*, mist_clock_s */

int cmd_gen(int argc, char **argv);
int cmd_estimate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int train_calibrate(int argc, char **argv); /* mist train calibrate (cmd_calibrate.c) */
int train_validate(int argc, char **argv);  /* mist train validate (cmd_calibrate.c) */
int train_route(int argc, char **argv);     /* mist train route (cmd_route.c) */

/* Strict number parsing (mist_parse_int, mist_parse_u64, mist_parse_double: core/util.h), and
 * a size in range; 0 on success. */
int cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out);
/* "5x3" -> 5, 3 */
int cli_parse_dims(const char *s, int *dx, int *dy);
/* "0-9" or "4" -> lo, hi */
int cli_parse_range(const char *s, uint64_t *lo, uint64_t *hi);

/* Re-executes the command with OPENBLAS_CORETYPE set when OpenBLAS fell back to its generic
 * kernels on a CPU it does not know (blas_env.c). Returns when nothing is to be done. */
void cli_blas_tune(char **argv);

/* 0 when path is a regular file or does not exist; else prints "CMD: 'path' is not a regular
 * file" and returns 1. For inputs that are read whole (weights, checkpoints): /dev/zero or a
 * FIFO would be read forever. */
int cli_regular_file(const char *cmd, const char *path);

/* The unit MI is printed in: nats (the default, what the library computes) or bits. cli_mi
 * converts a value in nats (NaN stays NaN). */
void cli_set_unit_bits(int bits);
double cli_mi(double nats);
const char *cli_unit(void); /* "nats" or "bits" */

/* Prints "mist: " + message to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
