#!/usr/bin/env bash
# The honest benchmark of a candidate model, added to the runs of tools/bench_honest.sh (the
# harness computes only the estimators new to a run folder, so the shipped models' and the
# classical estimators' rows are reused, same datasets, same options):
#  1. official MIST test tasks, --score bootstrap:50 (skip with QUICK=1);
#  2. robustness: mist-imd, suite seeds 1-2, transforms none, perm, rotate, swap, flow;
#  3. sign flips: mist-imd, suite seed 1, none vs negate (tools/transform_residual.py);
#  4. with OOMD=1: mist-oomd, suite seeds 1-2, the same five transforms (robust-oomd; no
#     bootstrap: the bars compare MSE with the classical estimators, coverage of the candidate);
#  5. with NEWFAM=1: the held-out new-families suite, seeds 1-2;
#  6. with BMI=1: bmi40 at n = 100, 1,000, 10,000 (suite seed 1; candidate and ksg1);
# then tools/must_show.py prints the robust-models issue's bars for the candidate.
# With GUARD=1 the candidate is scored as `mist estimate` answers by default: the model, then
# the guard's fallback where it finds a reason (label mist:OUTDIR/candidates/NAME:guard). With
# CANON=1 its columns are canonicalised first (mist_model_set_col_canon; label ...:canon).
# usage: tools/eval_candidate.sh MODEL.msgpack [MIST] [OUTDIR] [THREADS]
# The candidate is copied to OUTDIR/candidates/ under its own name, so that its label never
# collides with a shipped model's cached rows.
set -euo pipefail
MODEL=$1
MIST=${2:-build/mist}
OUT=${3:-out/honest}
T=${4:-2}
mkdir -p "$OUT/candidates"
C="$OUT/candidates/$(basename "$MODEL")"
[ "$MODEL" -ef "$C" ] || cp "$MODEL" "$C"
S="mist:$C"
[ "${CANON:-0}" = 1 ] && S="$S:canon"
[ "${GUARD:-0}" = 1 ] && S="$S:guard"
E=mist:weights/mist-qr.msgpack,mist:weights/mist-point.msgpack,ksg1,gaussian,gaussian:copula
U=gaussian:copula:unbiased # for reference: not one of the bars' three
"$MIST" bench --suite mist-imd --seeds 1-2 --estimators "$E,$U" --estimators "$S" \
  --transform none,perm,rotate,swap,flow --bootstrap 100 --out "$OUT/robust" --threads "$T" \
  --quiet
"$MIST" bench --suite mist-imd --seeds 1-1 --estimators "mist:weights/mist-qr.msgpack,$S" \
  --transform none,negate --out "$OUT/negate" --threads "$T" --no-plots --quiet
python3 tools/transform_residual.py "$OUT/negate/results.csv" negate
if [ "${QUICK:-0}" != 1 ]; then
  for s in imd oomd; do
    "$MIST" bench --suite "mist-$s-official" --seeds 0-0 --estimators "$E" \
      --estimators "$S" --score bootstrap:50 --out "$OUT/official-$s" --threads "$T" \
      --no-plots --quiet
  done
fi
if [ "${OOMD:-0}" = 1 ]; then
  "$MIST" bench --suite mist-oomd --seeds 1-2 --estimators "$E,$U" --estimators "$S" \
    --transform none,perm,rotate,swap,flow --out "$OUT/robust-oomd" \
    --threads "$T" --no-plots --quiet
fi
if [ "${NEWFAM:-0}" = 1 ]; then
  "$MIST" bench --suite new-families --seeds 1-2 \
    --estimators mist:weights/mist-qr.msgpack,ksg1,gaussian,gaussian:copula,$U,discrete \
    --estimators "$S" --bootstrap 100 --out "$OUT/new-families" --threads "$T" \
    --no-plots --quiet
fi
if [ "${BMI:-0}" = 1 ]; then
  for n in 100 1000 10000; do
    "$MIST" bench --suite bmi40 --n "$n" --seeds 1-1 --estimators ksg1 --estimators "$S" \
      --out "$OUT/bmi40-n$n" --threads "$T" --no-plots --quiet
  done
fi
python3 tools/honest_tables.py "$OUT"
python3 tools/must_show.py "$S" "$OUT"
