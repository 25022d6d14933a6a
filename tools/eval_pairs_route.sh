#!/usr/bin/env bash
# A new second model for the shipped mist-qr's route (a pairs model, e.g. the export of
# weights/checkpoints/pairs-d96-1), judged as the route's threshold and arbiter were chosen:
#  1. the route: weights/mist-qr.msgpack routed to PAIRS (kappa K, arbiter R), written with a
#     copy of PAIRS into OUT/candidates as NAME.msgpack and NAME-pairs.msgpack, so that the
#     labels never collide with cached rows of other files;
#  2. suite seed 3, the seed the rules are fitted on (the bars use seeds 1-2): mist-imd and
#     mist-oomd under none / rotate / flow and new-families, into out/s3-imd, out/s3-oomd and
#     out/nf3 (the harness reuses the classical rows already there): the routed model guarded
#     (as `mist estimate` answers) and both networks unguarded (route=0 for mist-qr);
#  3. tables: tools/bars_compare.py against BASE (default: the route shipped in session 17,
#     mist:OUT/candidates/mist-qr-s17a.msgpack:guard, computed with the rest of step 2) and
#     tools/route_arbiter.py's summed squared errors for arbiter ratios 0.5 / 0.7 / 1.0
#     (the datasets it needs are written to out/s3data by `mist gen` when missing);
#  4. with BARS=1: the bars on suite seeds 1-2 (tools/eval_candidate.sh with GUARD=1 OOMD=1
#     NEWFAM=1 BMI=1: about an hour on 2 cores beside a training run).
# usage: tools/eval_pairs_route.sh PAIRS.msgpack NAME [MIST] [LIBMIST]
#   env: K (kappa threshold, default 0.6), R (arbiter ratio, default 0.7), T (threads, 2),
#        OUT (default out/honest), BASE (label to compare with), SHARD (i/N: a smoke run on
#        every N-th dataset of step 2, into out/smoke-* instead)
set -euo pipefail
PAIRS=$1
NAME=$2
MIST=${3:-build/mist}
LIB=${4:-$(dirname "$MIST")/libmist.so}
K=${K:-0.6}
R=${R:-0.7}
T=${T:-2}
OUT=${OUT:-out/honest}
C="$OUT/candidates"
mkdir -p "$C"
cp "$PAIRS" "$C/$NAME-pairs.msgpack"
"$MIST" train route weights/mist-qr.msgpack --to "$C/$NAME-pairs.msgpack" --kappa "$K" \
  --arbiter "$R" -o "$C/$NAME.msgpack" --quiet
# the shipped route of session 17 (mist-qr with mist-pairs, arbiter 0.7), under its own label
[ -f "$C/mist-qr-s17a.msgpack" ] || cp weights/mist-qr.msgpack "$C/mist-qr-s17a.msgpack"
[ -f "$C/mist-pairs.msgpack" ] || cp weights/mist-pairs.msgpack "$C/mist-pairs.msgpack"
BASE=${BASE:-mist:$C/mist-qr-s17a.msgpack:guard}
ROUTED="mist:$C/$NAME.msgpack"
SECOND="mist:$C/$NAME-pairs.msgpack"
CL=ksg1,gaussian,gaussian:copula
PRE=out/
SH=()
if [ -n "${SHARD:-}" ]; then
  PRE=out/smoke-
  SH=(--shard "$SHARD")
fi
for s in imd oomd; do
  "$MIST" bench --suite "mist-$s" --seeds 3-3 --estimators "$CL" \
    --estimators "$BASE,$ROUTED:guard,$ROUTED:route=0,$SECOND" --transform none,rotate,flow \
    --out "${PRE}s3-$s" --threads "$T" --no-plots --quiet "${SH[@]}"
done
"$MIST" bench --suite new-families --seeds 3-3 --estimators "$CL" \
  --estimators "$BASE,$ROUTED:guard,$ROUTED:route=0,$SECOND" --out "${PRE}nf3" --threads "$T" \
  --no-plots --quiet "${SH[@]}"
RES=results.csv
[ -n "${SHARD:-}" ] && RES="results-shard-${SHARD/\//-of-}.csv"
for f in s3-imd s3-oomd nf3; do
  python3 tools/bars_compare.py "$PRE$f/$RES" "$BASE" "$ROUTED:guard"
done
if [ -z "${SHARD:-}" ]; then
  # the arbiter's prototype reads the generated datasets themselves (kappa, the copula)
  for s in imd oomd; do
    for tr in none rotate flow; do
      [ -f "out/s3data/${s}_$tr/manifest.csv" ] ||
        "$MIST" gen --suite "mist-$s" --seeds 3-3 --transform "$tr" --threads "$T" \
          -o "out/s3data/${s}_$tr"
    done
  done
  [ -f out/s3data/nf_none/manifest.csv ] ||
    "$MIST" gen --suite new-families --seeds 3-3 --threads "$T" -o out/s3data/nf_none
  python3 tools/route_arbiter.py "$LIB" out/s3data out "$ROUTED:route=0" "$SECOND" 0.5 0.7 1.0
fi
if [ "${BARS:-0}" = 1 ]; then
  GUARD=1 OOMD=1 NEWFAM=1 BMI=1 tools/eval_candidate.sh "$C/$NAME.msgpack" "$MIST" "$OUT" "$T"
fi
