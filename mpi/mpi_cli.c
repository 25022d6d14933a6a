/* The mist program's MPI job: joining it when a launcher started the process, agreement and
 * broadcasts with deadlines, leaving it. Compiled into the mist program only (MIST_HAVE_MPI). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "mpi_internal.h"

static int active, rank_, size_ = 1, broken;

int cli_mpi_active(void) { return active; }
int cli_mpi_rank(void) { return rank_; }
int cli_mpi_size(void) { return size_; }
void cli_mpi_mark_broken(void) { broken = 1; }

double cli_mpi_timeout_s(void)
{
    /* long enough for rank 0's validation and checkpoints while the others wait */
    const char *s = getenv("MIST_MPI_TIMEOUT");
    double v;
    if (s && !mist_parse_double(s, &v) && v > 0) return v;
    return 1800;
}

/* Open MPI, MPICH/Hydra and Intel MPI, MVAPICH, PMIx (srun --mpi=pmix) */
static int launched(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                 "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int cli_mpi_init(int *argc, char ***argv)
{
    if (!launched()) return 0;
    int provided = 0;
    /* only the main thread calls MPI (workers compute, the stream generates) */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        cli_error("cannot join the MPI job");
        return 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    active = 1;
    return 0;
}

void cli_mpi_finalize(void)
{
    if (!active) return;
    active = 0;
    if (broken) MPI_Abort(MPI_COMM_WORLD, 1); /* the others may wait on a dead rank forever */
    else MPI_Finalize();
}

int cli_mpi_agree(int rc, mist_err *err)
{
    if (!active || size_ == 1) return rc;
    int mine = rc ? rank_ : INT_MAX, first = INT_MAX;
    MPI_Request rq;
    int e = MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &rq);
    int wrc = e != MPI_SUCCESS ? cli_mpi_failed(e, "agreeing", rc ? NULL : err)
                               : cli_mpi_wait(&rq, 1, "agreeing", rc ? NULL : err);
    if (rc) return rc; /* this rank's own failure keeps its message */
    if (wrc) return wrc;
    if (first == INT_MAX) return 0;
    return mist_fail(err, MIST_EIO, "rank %d failed (see its message)", first);
}

int cli_mpi_bcast(void *buf, size_t bytes, int root, mist_err *err)
{
    if (!active || size_ == 1) return 0;
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; off < bytes || off == 0; off += chunk) {
        size_t k = bytes - off < chunk ? bytes - off : chunk;
        MPI_Request rq;
        int e = MPI_Ibcast((char *)buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD, &rq);
        int rc = e != MPI_SUCCESS ? cli_mpi_failed(e, "a broadcast", err)
                                  : cli_mpi_wait(&rq, 1, "a broadcast", err);
        if (rc) return rc;
        if (bytes == 0) break;
    }
    return 0;
}
