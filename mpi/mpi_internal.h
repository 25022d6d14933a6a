/* Shared by the files in mpi/: waits with a deadline, and what a failed MPI call becomes. */
#ifndef MIST_MPI_INTERNAL_H
#define MIST_MPI_INTERNAL_H

#include <mpi.h>

#include "mpi_hook.h"

/* The deadline of every wait: MIST_MPI_TIMEOUT seconds (default 1800). */
double cli_mpi_timeout_s(void);
/* After a failed or timed-out exchange: cli_mpi_finalize aborts the job. */
void cli_mpi_mark_broken(void);
/* Polls the n requests until done, an error, or the deadline; a message on failure. */
int cli_mpi_wait(MPI_Request *rq, int n, const char *what, mist_err *err);
/* A failed MPI call (code) as a mist error naming this rank and what it was doing. */
int cli_mpi_failed(int code, const char *what, mist_err *err);

#endif
