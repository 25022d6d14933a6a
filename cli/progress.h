/* A progress line on stderr for calls that may run long (a bootstrap, `train validate`): a
 * thread wakes every 0.25 s and, once the work has run 2 s, shows what runs, how far it is
 * (when the work reports counts) and the time so far; rewritten in place on a terminal, a
 * plain line every 10 s otherwise. Short runs print nothing; quiet prints nothing at all. */
#ifndef MIST_CLI_PROGRESS_H
#define MIST_CLI_PROGRESS_H

#include <stddef.h>

typedef struct cli_progress cli_progress;

/* what: e.g. "estimate: ksg1 bootstrap". NULL when quiet or out of resources (every function
 * below accepts NULL). */
cli_progress *cli_progress_start(const char *what, int quiet);
/* The current stage ("drawing 2048 datasets"); copied. */
void cli_progress_stage(cli_progress *p, const char *stage);
/* done of total; callable from any thread. */
void cli_progress_count(cli_progress *p, size_t done, size_t total);
/* Stops the thread; ends the line with the total time when anything was shown. */
void cli_progress_stop(cli_progress *p);

#endif
