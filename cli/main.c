/* mist: meta-learned and classical mutual-information estimation. */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mist_core.h"
#include "mpi_hook.h"

static void usage(FILE *f)
{
    fputs("mist " MIST_VERSION " - mutual information estimation with known-truth benchmarks\n"
          "\n"
          "usage: mist COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  gen       generate datasets with exactly known MI, one task or a whole suite\n"
          "            mist gen normal-dense-base --dims 2x2 --n 1000 --seed 1 -o data.npy\n"
          "            mist gen --suite bmi40 --n 10000 --seeds 0-0 -o bmi40/\n"
          "            mist gen --list\n"
          "  estimate  estimate the MI of a data file, with a bootstrap interval\n"
          "            mist estimate data.npy --method ksg1 --k 5 --ci 0.9 --bootstrap 200\n"
          "            mist estimate data.csv --x 1-3 --y 4-5 --method gaussian --copula --json\n"
          "            mist estimate data.npy --method mist --weights mist-qr.msgpack\n"
          "  bench     run estimators over a suite: results.csv, summary tables, plots\n"
          "            mist bench --suite mist-imd --estimators ksg1:k=5,gaussian,histogram \\\n"
          "                       --bootstrap 100 --threads 2 --out out/imd\n"
          "            mist bench merge out/shard0 out/shard1 -o out/all\n"
          "  convert   turn an official MIST / MIST-QR checkpoint into a mist weights file\n"
          "            mist convert model.safetensors --config config.json -o mist-qr.msgpack\n"
          "  info      show a weights file: architecture, parameters, metadata\n"
          "            mist info mist-qr.msgpack\n"
          "  train     train a model on a generated stream; export a checkpoint to weights\n"
          "            mist train --arch small --loss mse --batch 32 --steps 20000 --out runs/a\n"
          "            mist train --resume runs/a\n"
          "            mist train export runs/a -o weights/mine.msgpack\n"
          "\n"
          "Run `mist COMMAND --help` for the options of a command. MI is in nats.\n",
          f);
}

static int run_command(int argc, char **argv)
{
    /* The library checks its inputs itself; GSL's default handler would abort the process. */
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("mist %s\n", MIST_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "gen")) return cmd_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "estimate")) return cmd_estimate(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    cli_error("unknown command '%s' (run `mist --help`)", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    cli_blas_tune(argv); /* may re-execute the program: before joining an MPI job */
    if (cli_mpi_init(&argc, &argv)) return 1;
    int rc;
    if (cli_mpi_size() > 1 && argc >= 2 && strcmp(argv[1], "train") && strcmp(argv[1], "bench")) {
        if (cli_mpi_rank() == 0)
            cli_error("%s: only train and bench spread over MPI ranks; run it without mpirun",
                      argv[1]);
        rc = 2;
    } else rc = run_command(argc, argv);
    cli_mpi_finalize();
    return rc;
}
