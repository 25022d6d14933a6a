#!/usr/bin/env bash
# The benchmark behind the shipped models' cards (weights/mist-point.md, weights/mist-qr.md):
# mist-point, mist-qr, ksg1 (k = 5), gaussian and gaussian:copula on mist-imd and mist-oomd
# (suite seed 1: training, validation and calibration draw from other seeds and streams) and
# on bmi40 at n = 100 and 1,000; then the time per estimate at n = 500 (bmi40, one thread),
# with ksg1 also timed with its 200-resample bootstrap interval.
# usage: tools/bench_shipped.sh [MIST] [OUTDIR] [THREADS]   (about a minute on 2 cores)
# THREADS (default 2) runs datasets in parallel for the accuracy runs; the timing runs at
# n = 500 always use one thread and nothing else should run meanwhile.
set -euo pipefail
MIST=${1:-build/mist}
OUT=${2:-out/shipped}
T=${3:-2}
mkdir -p "$OUT"
E=mist:weights/mist-point.msgpack,mist:weights/mist-qr.msgpack,ksg1:k=5,gaussian,gaussian:copula
"$MIST" bench --suite mist-imd --seeds 1-1 --estimators "$E" --out "$OUT/imd" --threads "$T" --quiet
"$MIST" bench --suite mist-oomd --seeds 1-1 --estimators "$E" --out "$OUT/oomd" --threads "$T" --quiet
for n in 100 1000; do
  "$MIST" bench --suite bmi40 --n "$n" --seeds 1-1 --estimators "$E" --out "$OUT/bmi40-n$n" \
    --threads "$T" --quiet
done
"$MIST" bench --suite bmi40 --n 500 --seeds 1-1 --estimators "$E" --out "$OUT/bmi40-n500" --quiet
"$MIST" bench --suite bmi40 --n 500 --seeds 1-1 --estimators ksg1:k=5 --bootstrap 200 \
  --out "$OUT/bmi40-n500-boot" --quiet
for d in imd oomd bmi40-n100 bmi40-n1000 bmi40-n500 bmi40-n500-boot; do
  echo "$OUT/$d/summary.md"
done
