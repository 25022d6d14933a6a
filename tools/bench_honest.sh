#!/usr/bin/env bash
# The honest benchmark of the shipped models (issue: official tasks, the paper's score,
# MI-preserving transforms). Two runs:
#  1. the official MIST test tasks (mist-imd-official, mist-oomd-official), every dataset scored
#     the paper's way (--score bootstrap:50: the mean squared error over 50 bootstrap
#     resamples; quantile models score their median), for mist-qr, mist-point, ksg1, gaussian
#     and gaussian:copula;
#  2. robustness: mist-imd, suite seeds 1-2, under each MI-preserving transform (none, perm,
#     rotate, swap, flow), one estimate per dataset, classical intervals from a 100-resample
#     percentile bootstrap (so that every estimator has a 90% interval to cover the truth).
# usage: tools/bench_honest.sh [MIST] [OUTDIR] [THREADS]
# then:  python3 tools/honest_tables.py OUTDIR     (the tables of README.md and the cards)
set -euo pipefail
MIST=${1:-build/mist}
OUT=${2:-out/honest}
T=${3:-2}
mkdir -p "$OUT"
E=mist:weights/mist-qr.msgpack,mist:weights/mist-point.msgpack,ksg1,gaussian,gaussian:copula
for s in imd oomd; do
  "$MIST" bench --suite "mist-$s-official" --seeds 0-0 --estimators "$E" --score bootstrap:50 \
    --out "$OUT/official-$s" --threads "$T" --no-plots
done
"$MIST" bench --suite mist-imd --seeds 1-2 --estimators "$E" \
  --transform none,perm,rotate,swap,flow --bootstrap 100 --out "$OUT/robust" --threads "$T"
