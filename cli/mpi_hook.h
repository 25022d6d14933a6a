/* The mist program under an MPI launcher (mpirun -np P mist train|bench ...): the ranks, the
 * data-parallel transport for training, and agreement between ranks. Built with MPI only when
 * CMake finds it (MIST_HAVE_MPI, the files in mpi/); otherwise, and when not started by a launcher, there
 * is one rank and every function below is a no-op. */
#ifndef MIST_CLI_MPI_HOOK_H
#define MIST_CLI_MPI_HOOK_H

#include "mist_core.h"
#include "mist_train_grad.h"

#ifdef MIST_HAVE_MPI
/* Joins the MPI job when a launcher started this process (its environment says so); 0, or
 * non-zero with a message printed. */
int cli_mpi_init(int *argc, char ***argv);
/* Leaves the job; after a broken link (a rank died or timed out) it aborts the job instead. */
void cli_mpi_finalize(void);
int cli_mpi_active(void); /* 1 when started by a launcher (even with one rank) */
int cli_mpi_rank(void);
int cli_mpi_size(void);
/* 0 when rc is 0 on every rank; else non-zero on every rank, naming the failing one. */
int cli_mpi_agree(int rc, mist_err *err);
int cli_mpi_bcast(void *buf, size_t bytes, int root, mist_err *err);
/* The transport for mist_train_run_dist (free with cli_mpi_train_dist_free); NULL when out of
 * memory. */
mist_train_dist *cli_mpi_train_dist(void);
void cli_mpi_train_dist_free(mist_train_dist *d);
#else
static inline int cli_mpi_init(int *argc, char ***argv) { (void)argc, (void)argv; return 0; }
static inline void cli_mpi_finalize(void) {}
static inline int cli_mpi_active(void) { return 0; }
static inline int cli_mpi_rank(void) { return 0; }
static inline int cli_mpi_size(void) { return 1; }
static inline int cli_mpi_agree(int rc, mist_err *err) { (void)err; return rc; }
static inline mist_train_dist *cli_mpi_train_dist(void) { return NULL; }
static inline void cli_mpi_train_dist_free(mist_train_dist *d) { (void)d; }
#endif

#endif
