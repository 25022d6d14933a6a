/* mist train: train a model on a generated stream; mist train export: checkpoint -> weights. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mist_gen.h"
#include "mist_infer.h"
#include "mist_train.h"
#include "mist_train_grad.h"
#include "mpi_hook.h"
#include "opts.h"

static void train_usage(FILE *f)
{
    fputs("usage:\n"
          "  mist train --arch PRESET[,key=value...] --loss mse|pinball --steps N --out DIR\n"
          "             [options]\n"
          "  mist train --resume DIR [--steps N] [--threads T] [--ckpt-every S] [--out DIR]\n"
          "  mist train export CKPT_OR_DIR [CKPT...] -o weights/NAME.msgpack\n"
          "        (several checkpoints of one run: their weights are averaged)\n"
          "  mist train calibrate WEIGHTS -o OUT   (quantile models: see --help there)\n"
          "  mist train validate WEIGHTS [--count N] [--seed S] [--quiet]\n"
          "  mist train route WEIGHTS --to SECOND --kappa K -o OUT   (see --help there)\n"
          "\n"
          "Trains a Set Transformer MI estimator on a fresh stream of datasets with known MI from\n"
          "a meta-distribution (see `mist gen --list`). DIR receives train.csv (step, elapsed_s,\n"
          "lr, train_loss, grad_norm, val_mse, val_pinball, datasets_per_s, gflops; row 0 is\n"
          "the initial weights' validation), checkpoint.msgpack (written atomically every\n"
          "--ckpt-every seconds, at the end, and on Ctrl-C / SIGTERM) and, when done,\n"
          "model.msgpack (an inference weights file with the training facts in its meta).\n"
          "A run stopped by Ctrl-C / SIGTERM before its last step exits 130 / 143 (128 + the\n"
          "signal), after saving the checkpoint; --stop-after exits 0.\n"
          "--resume continues a stopped run bit for bit (same --threads): batches are a function\n"
          "of (seed, step), and the checkpoint holds the parameters and the AdamW moments.\n"
          "Resuming with another --threads or --steps works but gives another model; it says\n"
          "so on stderr. A checkpoint whose checksum does not match is refused.\n"
          "Weight decay applies to weight matrices only (not biases, LayerNorm parameters,\n"
          "inducing points or PMA seeds). Validation: MSE of the point (tau 0.5 for a quantile\n"
          "model) and mean pinball over tau 0.05, 0.25, 0.5, 0.75, 0.95.\n"
          "\n"
          "options:\n"
          "  --arch SPEC        preset (tiny, small, medium: split layout; pairs, pairs-tiny: pair\n"
          "                     tokens; all with copula inputs) and/or\n"
          "                     key=value overrides, comma separated or repeated, e.g.\n"
          "                     --arch small,D=96,n_isab=3 (keys as in `mist info`)\n"
          "  --loss L           mse (point model) | pinball (quantile model, tau ~ U(0,1))\n"
          "  --batch B          datasets per step (default 32)\n"
          "  --steps N          optimizer steps (default 1000)\n"
          "  --lr LR            peak learning rate (default 1e-3)\n"
          "  --lr-floor F       final lr as a fraction of the peak (default 0.1)\n"
          "  --warmup W         linear warm-up steps (default 100)\n"
          "  --wd WD            AdamW decoupled weight decay on weight matrices (default 0.01)\n"
          "  --clip C           gradient global-norm clip, 0 = off (default 1.0); a sum_head\n"
          "                     readout is clipped on its own\n"
          "  --metadist NAME    training meta-distribution (default 'default')\n"
          "  --columns C        canonical: every training dataset in its canonical column order\n"
          "                     and signs (X/Y exchanged for half of them), as `mist estimate\n"
          "                     --columns canonical` reads data; the model reads canonical\n"
          "                     columns (meta \"columns\"). as_given (default): as generated\n"
          "  --init WEIGHTS     start from these weights instead of random ones (same graph;\n"
          "                     e.g. a trained model fine-tuned with --arch ...,gauss_base=1)\n"
          "  --n-range A-B      rows per dataset drawn uniformly in A..B (default: the\n"
          "                     meta-distribution's own)\n"
          "  --pool P           bucketing: P batches drawn together and sorted by n (default 8)\n"
          "  --seed S           weights, stream and taus (default 1)\n"
          "  --val-count V      validation datasets (default 256; 0: none)\n"
          "  --val-every K      validate every K steps (default 200) and at the end\n"
          "  --val-seed S       seed of the validation suite\n"
          "  --threads T        gradient workers, one BLAS thread each (default 1)\n"
          "  --ckpt-every SEC   checkpoint period in seconds (default 300)\n"
          "  --no-prefetch      no worker thread generating the next batch\n"
          "  --dump-batches DIR write the initial weights and the first --dump-steps batches\n"
          "  --dump-steps K     (default 10) as .npy + batches.csv, for the PyTorch reference\n"
          "  --stop-after K     stop (with a checkpoint) after step K, as if interrupted\n"
          "  --quiet            no progress line\n",
          f);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* Ctrl-C / kill: the run writes a checkpoint at the end of the current step and stops. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct prog {
    int quiet, tty, open;
    int done; /* the run reached its last step (and wrote model.msgpack) */
    double last;
    int64_t step, steps;
} prog;

static void fmt_eta(char *buf, size_t sz, double s)
{
    if (!isfinite(s) || s < 0) snprintf(buf, sz, "?");
    else if (s < 60) snprintf(buf, sz, "%.0fs", s);
    else if (s < 3600) snprintf(buf, sz, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, sz, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static int on_progress(const mist_train_progress *p, void *user)
{
    prog *g = user;
    g->step = p->step;
    g->steps = p->steps;
    if (p->event == MIST_TRAIN_EV_DONE) g->done = 1;
    if (g->quiet || p->event == MIST_TRAIN_EV_CKPT) return interrupted;
    double t = mist_clock_s();
    if (p->event == MIST_TRAIN_EV_DONE) {
        fprintf(stderr, "%sdone: %lld steps, %.1f s of training, last loss %.5f, val mse %.5f "
                        "pinball %.5f, %.1f datasets/s, %.1f GFLOP/s -> %s\n",
                g->open ? "\n" : "", (long long)p->step, p->elapsed_s, p->loss, p->val_mse,
                p->val_pinball, p->datasets_per_s, p->gflops, p->path);
        g->open = 0;
        return 0;
    }
    if (p->event == MIST_TRAIN_EV_VAL && p->step == 0) {
        fprintf(stderr, "initial weights: val mse %.5f pinball %.5f\n", p->val_mse, p->val_pinball);
        return 0;
    }
    if (p->event == MIST_TRAIN_EV_STEP && t - g->last < (g->tty ? 0.25 : 10.0)) return interrupted;
    g->last = t;
    char eta[32];
    fmt_eta(eta, sizeof eta, p->eta_s);
    int val_line = p->event == MIST_TRAIN_EV_VAL;
    fprintf(stderr, "%sstep %lld/%lld  loss %.5f  val mse %.5f pinball %.5f  lr %.2e  "
                    "%.1f ds/s %.1f GFLOP/s  ETA %s%s",
            g->tty ? "\r" : "", (long long)p->step, (long long)p->steps, p->loss, p->val_mse,
            p->val_pinball, p->lr, p->datasets_per_s, p->gflops, eta,
            g->tty && !val_line ? "   " : "\n");
    g->open = g->tty && !val_line;
    return interrupted;
}

/* 0 when the run finished or stopped where --stop-after asked; 128 + the signal (as a shell
 * reports a command a signal killed) when Ctrl-C / SIGTERM stopped it early: a script must
 * not take an interrupted run for a trained model. */
static int finish(const prog *g, const char *dir)
{
    if (cli_mpi_rank() != 0) return interrupted ? 128 + interrupted : 0; /* rank 0 reports */
    if (interrupted && !g->done) {
        fprintf(stderr, "%smist: train: interrupted (%s) at step %lld of %lld; the checkpoint is "
                        "saved, continue with: mist train --resume %s\n",
                g->open ? "\n" : "", interrupted == SIGINT ? "SIGINT" : "SIGTERM",
                (long long)g->step, (long long)g->steps, dir);
        return 128 + interrupted;
    }
    if (!g->quiet && g->step < g->steps)
        fprintf(stderr, "%sstopped at step %lld of %lld; continue with: mist train --resume %s\n",
                g->open ? "\n" : "", (long long)g->step, (long long)g->steps, dir);
    return 0;
}

/* The run, over the MPI ranks when an MPI launcher started the program (even one rank: then
 * the gradient sums in the order every rank count uses). */
static int run(const mist_train_config *c, const char *out, const char *resume, prog *g)
{
    mist_err err = {0};
    mist_train_dist *d = NULL;
    if (cli_mpi_active() && !(d = cli_mpi_train_dist())) {
        cli_error("train: out of memory");
        return 1;
    }
    int rc = mist_train_run_dist(c, out, resume, d, on_progress, g, &err);
    cli_mpi_train_dist_free(d);
    if (rc) {
        cli_error("%strain: %s", g->open ? "\n" : "", err.msg);
        return 1;
    }
    return finish(g, out);
}

static int train_export(int argc, char **argv)
{
    const char *out = NULL;
    const char **in = calloc((size_t)argc, sizeof *in);
    size_t nin = 0;
    if (!in) {
        cli_error("train export: out of memory");
        return 1;
    }
    int rc = 0;
    static const cli_opt opts[] = {{1, "--out", "-o", 1}, {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "train export", opts, argc, argv);
    const char *v;
    for (int id; !rc && (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
        if (id == CLI_OPT_ERROR) rc = 2;
        else if (id == CLI_OPT_HELP) {
            train_usage(stdout);
            free(in);
            return 0;
        } else if (id == 1) out = v;
        else in[nin++] = v;
    }
    if (!rc && (!nin || !out)) {
        cli_error("train export: usage: mist train export CKPT_OR_DIR [CKPT...] -o OUT.msgpack");
        rc = 2;
    }
    mist_err err = {0};
    if (!rc && mist_train_export_average(in, nin, out, &err)) {
        cli_error("train export: %s", err.msg);
        rc = 1;
    }
    free(in);
    if (!rc) fprintf(stderr, "wrote %s%s\n", out, nin > 1 ? " (weights averaged)" : "");
    return rc;
}

static int apply_arch(mist_arch *a, char *arch_spec, size_t spec_sz, const char *v, mist_err *err)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    size_t l = strlen(arch_spec);
    snprintf(arch_spec + l, spec_sz - l, "%s%s", l ? "," : "", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int rc = strchr(tok, '=') ? mist_arch_override(a, tok, err) : mist_arch_preset(tok, a, err);
        if (rc) return rc;
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "export")) return train_export(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "calibrate")) return train_calibrate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "validate")) return train_validate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "route")) return train_route(argc - 1, argv + 1);
    mist_train_config c;
    mist_train_config_default(&c);
    c.arch_spec[0] = '\0';
    const char *out = NULL, *resume = NULL;
    int have_arch = 0, have_loss = 0, have_steps = 0, have_threads = 0, have_ckpt = 0,
        other_cfg = 0, quiet = 0, have_warmup = 0;
    mist_err err = {0};
    enum {
        O_ARCH = 1, O_LOSS, O_BATCH, O_STEPS, O_STOP, O_LR, O_LRF, O_WD, O_CLIP, O_CKPT, O_WARMUP,
        O_VALEVERY, O_METADIST, O_NRANGE, O_POOL, O_SEED, O_VALSEED, O_VALCOUNT, O_THREADS,
        O_DUMP, O_DUMPSTEPS, O_NOPREFETCH, O_QUIET, O_OUT, O_RESUME, O_INIT, O_COLS
    };
    static const cli_opt opts[] = {{O_ARCH, "--arch", NULL, 1},
                                   {O_LOSS, "--loss", NULL, 1},
                                   {O_BATCH, "--batch", NULL, 1},
                                   {O_STEPS, "--steps", NULL, 1},
                                   {O_STOP, "--stop-after", NULL, 1},
                                   {O_LR, "--lr", NULL, 1},
                                   {O_LRF, "--lr-floor", NULL, 1},
                                   {O_WD, "--wd", NULL, 1},
                                   {O_CLIP, "--clip", NULL, 1},
                                   {O_CKPT, "--ckpt-every", NULL, 1},
                                   {O_WARMUP, "--warmup", NULL, 1},
                                   {O_COLS, "--columns", NULL, 1},
                                   {O_VALEVERY, "--val-every", NULL, 1},
                                   {O_METADIST, "--metadist", NULL, 1},
                                   {O_INIT, "--init", NULL, 1},
                                   {O_NRANGE, "--n-range", NULL, 1},
                                   {O_POOL, "--pool", NULL, 1},
                                   {O_SEED, "--seed", NULL, 1},
                                   {O_VALSEED, "--val-seed", NULL, 1},
                                   {O_VALCOUNT, "--val-count", NULL, 1},
                                   {O_THREADS, "--threads", NULL, 1},
                                   {O_DUMP, "--dump-batches", NULL, 1},
                                   {O_DUMPSTEPS, "--dump-steps", NULL, 1},
                                   {O_NOPREFETCH, "--no-prefetch", NULL, 0},
                                   {O_QUIET, "--quiet", NULL, 0},
                                   {O_OUT, "--out", "-o", 1},
                                   {O_RESUME, "--resume", NULL, 1},
                                   {0, NULL, NULL, 0}};
    cli_parser p;
    cli_opts_init(&p, "train", opts, argc, argv);
    const char *v;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_OPT_END;) {
#define BAD(what) return cli_opts_bad(&p, v, what)
        double d;
        uint64_t u, u2;
        int iv;
        switch (id) {
        case CLI_OPT_ERROR: return 2;
        case CLI_OPT_HELP: train_usage(stdout); return 0;
        case CLI_OPT_ARG: return cli_opts_extra(&p, v);
        case O_ARCH:
            if (apply_arch(&c.arch, c.arch_spec, sizeof c.arch_spec, v, &err)) {
                cli_error("train: --arch: %s", err.msg);
                return 2;
            }
            have_arch = 1;
            other_cfg = 1;
            break;
        case O_LOSS:
            if (!strcmp(v, "mse")) c.loss = MIST_LOSS_MSE;
            else if (!strcmp(v, "pinball")) c.loss = MIST_LOSS_PINBALL;
            else BAD("mse or pinball");
            have_loss = 1;
            other_cfg = 1;
            break;
        case O_BATCH:
            if (mist_parse_int(v, 1, 65536, &c.batch)) BAD("1..65536");
            other_cfg = 1;
            break;
        case O_STEPS:
        case O_STOP:
            if (mist_parse_u64(v, &u) || u < 1 || u > (uint64_t)1 << 40) BAD("a positive integer");
            if (id == O_STEPS) c.steps = (int64_t)u, have_steps = 1;
            else c.stop_after = (int64_t)u;
            break;
        case O_LR:
        case O_LRF:
        case O_WD:
        case O_CLIP:
        case O_CKPT:
            if (mist_parse_double(v, &d) || d < 0) BAD("a non-negative number");
            if (id == O_LR) c.lr = d;
            else if (id == O_LRF) c.lr_floor = d;
            else if (id == O_WD) c.wd = d;
            else if (id == O_CLIP) c.clip = d;
            else c.ckpt_every_s = d, have_ckpt = 1;
            if (id != O_CKPT) other_cfg = 1;
            break;
        case O_WARMUP:
        case O_VALEVERY:
            if (mist_parse_u64(v, &u) || u > (uint64_t)1 << 40) BAD("a non-negative integer");
            if (id == O_WARMUP) c.warmup = (int64_t)u, have_warmup = 1;
            else c.val_every = (int64_t)u;
            other_cfg = 1;
            break;
        case O_COLS:
            if (strcmp(v, "canonical") && strcmp(v, "as_given")) BAD("canonical or as_given");
            c.col_canon = !strcmp(v, "canonical");
            other_cfg = 1;
            break;
        case O_METADIST:
            if (strlen(v) >= sizeof c.metadist) BAD("a meta-distribution name");
            snprintf(c.metadist, sizeof c.metadist, "%s", v);
            other_cfg = 1;
            break;
        case O_NRANGE:
            if (cli_parse_range(v, &u, &u2) || u < 2 || u2 > 1000000) BAD("A-B with 2 <= A <= B");
            c.n_min = (int64_t)u;
            c.n_max = (int64_t)u2;
            other_cfg = 1;
            break;
        case O_POOL:
            if (mist_parse_int(v, 1, 4096, &c.pool)) BAD("1..4096");
            other_cfg = 1;
            break;
        case O_SEED:
        case O_VALSEED:
            if (mist_parse_u64(v, &u)) BAD("a non-negative 64-bit integer");
            if (id == O_SEED) c.seed = u;
            else c.val_seed = u;
            other_cfg = 1;
            break;
        case O_VALCOUNT:
            if (mist_parse_int(v, 0, 100000, &c.val_count)) BAD("0..100000");
            other_cfg = 1;
            break;
        case O_THREADS:
            if (mist_parse_int(v, 1, 256, &c.threads)) BAD("1..256");
            have_threads = 1;
            break;
        case O_DUMP:
            if (strlen(v) >= sizeof c.dump_dir) BAD("a shorter path");
            snprintf(c.dump_dir, sizeof c.dump_dir, "%s", v);
            if (!c.dump_steps) c.dump_steps = 10;
            break;
        case O_DUMPSTEPS:
            if (mist_parse_int(v, 1, 1000, &iv)) BAD("1..1000");
            c.dump_steps = iv;
            break;
        case O_INIT:
            if (strlen(v) >= sizeof c.init_from) BAD("a shorter path");
            snprintf(c.init_from, sizeof c.init_from, "%s", v);
            other_cfg = 1;
            break;
        case O_NOPREFETCH: c.prefetch = 0; break;
        case O_QUIET: quiet = 1; break;
        case O_OUT: out = v; break;
        case O_RESUME: resume = v; break;
        }
#undef BAD
    }
    if (cli_mpi_rank() != 0) quiet = 1; /* rank 0 reports */
    prog g = {.quiet = quiet, .tty = isatty(STDERR_FILENO)};
    catch_stop_signals();
    if (resume && cli_mpi_rank() != 0) { /* rank 0 reads the checkpoint and hands it over */
        if (cli_mpi_agree(0, &err)) {
            cli_error("train: %s", err.msg);
            return 1;
        }
        return run(&c, out ? out : resume, resume, &g);
    }
    if (resume) {
        mist_checkpoint ck;
        int bad = mist_checkpoint_read(resume, &ck, &err);
        if (cli_mpi_agree(bad, &err)) {
            if (bad) cli_error("train: --resume %s: cannot read the checkpoint: %s", resume, err.msg);
            else {
                cli_error("train: %s", err.msg);
                mist_checkpoint_free(&ck);
            }
            return 1;
        }
        if (other_cfg)
            fprintf(stderr, "mist: train: resuming: the checkpoint's configuration is used; only "
                            "--steps, --threads, --ckpt-every and --stop-after apply\n");
        mist_train_config rc = ck.cfg;
        if (have_steps) rc.steps = c.steps;
        if (have_threads) rc.threads = c.threads;
        if (have_ckpt) rc.ckpt_every_s = c.ckpt_every_s;
        rc.stop_after = c.stop_after;
        rc.prefetch = c.prefetch;
        char why[400];
        if (mist_train_resume_changes(&ck.cfg, &rc, why, sizeof why))
            fprintf(stderr, "mist: train: warning: resuming with %s: the result will differ "
                            "from the uninterrupted run\n", why);
        if (!quiet)
            fprintf(stderr, "resuming %s at step %lld of %lld\n", resume, (long long)ck.step,
                    (long long)rc.steps);
        mist_checkpoint_free(&ck);
        return run(&rc, out ? out : resume, resume, &g);
    }
    if (!out) {
        cli_error("train: --out DIR is required (run `mist train --help`)");
        return 2;
    }
    if (!have_arch) {
        cli_error("train: --arch is required (tiny, small, medium, with key=value overrides)");
        return 2;
    }
    if (!have_loss) {
        cli_error("train: --loss mse|pinball is required");
        return 2;
    }
    c.arch.quantile_conditioned = c.loss == MIST_LOSS_PINBALL;
    if (!have_warmup && c.warmup >= c.steps) c.warmup = c.steps / 10;
    if (mist_train_config_validate(&c, &err)) {
        cli_error("train: %s", err.msg);
        return 2;
    }
    if (!quiet)
        fprintf(stderr, "training %s (%zu parameters), loss %s, batch %d, %lld steps, lr %g, "
                        "metadist %s -> %s\n",
                c.arch_spec, mist_arch_param_count(&c.arch),
                c.loss == MIST_LOSS_PINBALL ? "pinball" : "mse", c.batch, (long long)c.steps,
                c.lr, c.metadist, out);
    return run(&c, out, NULL, &g);
}
