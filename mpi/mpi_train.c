/* Data-parallel training over MPI (mist_train_dist): every rank differentiates its contiguous
 * share of the global batch one example at a time, and the per-example gradients are summed in
 * example order along the ranks (rank r continues rank r-1's running sum), so the sum is the
 * same float sequence for any rank count and any --threads: P = 1, 2, 4 give the same weights bit
 * for bit. Every wait polls with a deadline, so a rank that dies or hangs stops the others with
 * a message instead of blocking them. Compiled into the mist program only (MIST_HAVE_MPI). */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mist_train.h"
#include "mist_train_grad.h"
#include "mpi_internal.h"
#include "train_graph.h"
#include "util.h"

#define MAX_THREADS 256
#define INFO 6 /* per example: loss, prediction, n, smaller dim, larger dim, flops */

typedef struct mpi_dist {
    mist_train_dist d;
    mist_train_ws *ws[MAX_THREADS];
    float *g; /* share x nparams: the per-example gradients */
    size_t gcap;
    double *info; /* B x INFO, every rank's examples */
    size_t infocap;
} mpi_dist;

int cli_mpi_failed(int code, const char *what, mist_err *err)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", code);
    cli_mpi_mark_broken();
    return mist_fail(err, MIST_EIO, "rank %d: %s failed (%s): another rank died; the job stops "
                     "(the last checkpoint is intact)", cli_mpi_rank(), what, msg);
}

int cli_mpi_wait(MPI_Request *rq, int n, const char *what, mist_err *err)
{
    double t0 = mist_clock_s(), limit = cli_mpi_timeout_s();
    for (;;) {
        int done = 0, e = MPI_Testall(n, rq, &done, MPI_STATUSES_IGNORE);
        if (e != MPI_SUCCESS) return cli_mpi_failed(e, what, err);
        if (done) return MIST_OK;
        if (mist_clock_s() - t0 > limit) {
            cli_mpi_mark_broken();
            return mist_fail(err, MIST_EIO, "rank %d: no word from the other ranks for %.0f s while "
                             "%s: a rank died or hangs (MIST_MPI_TIMEOUT sets the limit); the job "
                             "stops (the last checkpoint is intact)", cli_mpi_rank(), limit, what);
        }
        /* sleep rather than spin: on a shared machine a spinning rank slows the working ones */
        struct timespec nap = {0, 50 * 1000};
        nanosleep(&nap, NULL);
    }
}

static int d_agree(mist_train_dist *d, int rc, mist_err *err)
{
    (void)d;
    return cli_mpi_agree(rc, err);
}

static int d_bcast(mist_train_dist *d, void *buf, size_t bytes, mist_err *err)
{
    (void)d;
    return cli_mpi_bcast(buf, bytes, 0, err);
}

typedef struct job {
    mist_model *m;
    mist_train_ws *ws;
    const mist_train_example *ex;
    size_t a, b, lo, np;
    int loss_kind;
    float *g;
    double *info;
    int rc;
    mist_err err;
} job;

static void *run_job(void *p)
{
    job *j = p;
    for (size_t i = j->a; i < j->b && !j->rc; i++) {
        float *g = j->g + (i - j->lo) * j->np;
        memset(g, 0, j->np * sizeof *g);
        double *in = j->info + INFO * i;
        const mist_train_example *e = &j->ex[i];
        mist_train_timing *tm = mist_train_ws_timing(j->ws);
        double f0 = tm ? tm->flops : 0;
        j->rc = mist_train_grad(j->m, j->ws, e, 1, j->loss_kind, g, &in[0], &in[1], &j->err);
        in[2] = (double)e->n;
        in[3] = e->dx < e->dy ? e->dx : e->dy;
        in[4] = e->dx > e->dy ? e->dx : e->dy;
        in[5] = tm ? tm->flops - f0 : 0;
    }
    return NULL;
}

/* This rank's examples [lo, hi) on its threads, each a contiguous run. */
static int share_grads(mpi_dist *p, mist_model *m, const mist_train_example *ex, size_t lo,
                       size_t hi, int loss_kind, size_t np, mist_err *err)
{
    /* the trainer set the BLAS thread count to --threads: here they are example workers */
    int blas = mist_infer_get_threads(), T = blas < 1 ? 1 : blas > MAX_THREADS ? MAX_THREADS : blas;
    size_t k = hi - lo;
    if ((size_t)T > k) T = (int)k;
    if (T < 1) return MIST_OK;
    for (int t = 0; t < T; t++)
        if (!p->ws[t] && !(p->ws[t] = mist_train_ws_alloc(m, err))) return err ? err->code : 1;
    job jobs[MAX_THREADS];
    for (int t = 0; t < T; t++)
        jobs[t] = (job){m, p->ws[t], ex, lo + k * (size_t)t / (size_t)T,
                        lo + k * (size_t)(t + 1) / (size_t)T, lo, np, loss_kind, p->g, p->info,
                        0, {0, ""}};
    /* concurrent calls into a multi-threaded OpenBLAS crawl: one BLAS thread per worker */
    if (T > 1 && blas > 1) mist_infer_set_threads(1, NULL);
    mist_fan_out(run_job, jobs, sizeof *jobs, T);
    if (T > 1 && blas > 1) mist_infer_set_threads(blas, NULL);
    for (int t = 0; t < T; t++)
        if (jobs[t].rc) {
            if (err) *err = jobs[t].err;
            return jobs[t].rc;
        }
    return MIST_OK;
}

static int d_grad(mist_train_dist *d, mist_model *m, const mist_train_example *ex, size_t B,
                  int loss_kind, float *grads, double *loss, double *preds, int64_t seen[4],
                  mist_err *err)
{
    mpi_dist *p = (mpi_dist *)d;
    int rank = d->rank, P = d->size;
    size_t np = mist_model_param_count(m), lo, hi;
    mist_train_dist_share(B, rank, P, &lo, &hi);
    int rc = MIST_OK;
    if ((hi - lo) * np > p->gcap) {
        free(p->g);
        p->gcap = (hi - lo) * np;
        if (!(p->g = malloc(p->gcap * sizeof *p->g))) p->gcap = 0;
    }
    if (INFO * B > p->infocap) {
        free(p->info);
        p->infocap = INFO * B;
        if (!(p->info = malloc(p->infocap * sizeof *p->info))) p->infocap = 0;
    }
    if ((hi > lo && !p->g) || !p->info)
        rc = mist_fail(err, MIST_ENOMEM, "out of memory for %zu example gradients", hi - lo);
    if (!rc) rc = share_grads(p, m, ex, lo, hi, loss_kind, np, err);
    if ((rc = cli_mpi_agree(rc, err))) return rc;

    /* every rank's losses, predictions and sizes, in example order */
    int counts[P], displs[P];
    for (int r = 0; r < P; r++) {
        size_t a, b;
        mist_train_dist_share(B, r, P, &a, &b);
        counts[r] = (int)(INFO * (b - a));
        displs[r] = (int)(INFO * a);
    }
    MPI_Request rq;
    int e = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DOUBLE, p->info, counts, displs, MPI_DOUBLE,
                            MPI_COMM_WORLD, &rq);
    if ((rc = e != MPI_SUCCESS ? cli_mpi_failed(e, "sharing the losses", err)
                               : cli_mpi_wait(&rq, 1, "sharing the losses", err)))
        return rc;

    /* the running sum: from the previous rank, plus this rank's examples in order */
    const float f = (float)(1.0 / (double)B);
    if (rank > 0) {
        e = MPI_Irecv(grads, (int)np, MPI_FLOAT, rank - 1, 1, MPI_COMM_WORLD, &rq);
        if ((rc = e != MPI_SUCCESS ? cli_mpi_failed(e, "receiving the gradient sum", err)
                                   : cli_mpi_wait(&rq, 1, "receiving the gradient sum", err)))
            return rc;
    }
    for (size_t i = lo; i < hi; i++) {
        const float *g = p->g + (i - lo) * np;
        for (size_t j = 0; j < np; j++) grads[j] += f * g[j];
    }
    if (rank < P - 1) {
        e = MPI_Isend(grads, (int)np, MPI_FLOAT, rank + 1, 1, MPI_COMM_WORLD, &rq);
        if ((rc = e != MPI_SUCCESS ? cli_mpi_failed(e, "passing the gradient sum on", err)
                                   : cli_mpi_wait(&rq, 1, "passing the gradient sum on", err)))
            return rc;
    }
    if (P > 1 && (rc = cli_mpi_bcast(grads, np * sizeof *grads, P - 1, err))) return rc;

    double L = 0;
    for (size_t i = 0; i < B; i++) {
        const double *in = p->info + INFO * i;
        L += in[0] / (double)B;
        if (preds) preds[i] = in[1];
        int64_t n = (int64_t)in[2], dlo = (int64_t)in[3], dhi = (int64_t)in[4];
        if (!seen[0] || n < seen[0]) seen[0] = n;
        if (n > seen[1]) seen[1] = n;
        if (!seen[2] || dlo < seen[2]) seen[2] = dlo;
        if (dhi > seen[3]) seen[3] = dhi;
        d->flops += in[5];
    }
    *loss = L;
    return MIST_OK;
}

mist_train_dist *cli_mpi_train_dist(void)
{
    mpi_dist *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->d.rank = cli_mpi_rank();
    p->d.size = cli_mpi_size();
    p->d.grad = d_grad;
    p->d.bcast = d_bcast;
    p->d.agree = d_agree;
    return &p->d;
}

void cli_mpi_train_dist_free(mist_train_dist *d)
{
    mpi_dist *p = (mpi_dist *)d;
    if (!p) return;
    for (int t = 0; t < MAX_THREADS; t++) mist_train_ws_free(p->ws[t]);
    free(p->g);
    free(p->info);
    free(p);
}
