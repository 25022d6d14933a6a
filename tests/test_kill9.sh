#!/usr/bin/env bash
# kill -9 at random moments of `mist gen --suite`, `mist bench --suite` and `mist train`, then
# the same command again (gen, bench) or --resume (train): the result must equal that of an
# uninterrupted run - gen: the same files byte for byte and no temporaries left; bench: the same
# rows as a set (time_us aside); train (--threads 1): the same weights, seen through estimates
# printed with 17 digits. Kill moments are drawn uniformly over the uninterrupted run's length
# (measured here, so a slow sanitizer build is killed at proportionate moments); the seed is
# printed to replay a failure: MIST_KILL9_SEED=S. Usage: test_kill9.sh MIST SCRATCH_PARENT
set -u
MIST=$(realpath "$1") || exit 1
WORK=$(mktemp -d "$2/kill9-XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
KILLS=${MIST_KILL9_KILLS:-4}
seed=${MIST_KILL9_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$seed
echo "kill9: seed $seed, $KILLS kills per command"
pass=0 fail=0 kills=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

now_ms() { date +%s%3N; }
# timed CMD...: runs CMD to completion; $elapsed_ms receives its wall time.
timed() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1; local rc=$?; elapsed_ms=$(( $(now_ms) - t0 )); return $rc; }
# killed MAX_MS CMD...: starts CMD and kill -9s it after a uniform random delay in [0, MAX_MS)
# (a no-op when it has finished by then).
killed() {
  local max=$1; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  local d=$(( (RANDOM * 32768 + RANDOM) % (max > 1 ? max : 1) ))
  sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
  kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
}

# ---- gen -------------------------------------------------------------------------------------
GEN=(gen --suite smoke --n 20000 --seeds 0-3 --threads 2 --quiet)
timed "$MIST" "${GEN[@]}" -o gref || bad "gen reference run"
for _ in $(seq "$KILLS"); do killed "$elapsed_ms" "$MIST" "${GEN[@]}" -o gk; done
# temporaries are stale when older than the run that finds them (whole seconds)
sleep 1
"$MIST" "${GEN[@]}" -o gk >/dev/null 2>&1 || bad "gen rerun"
out=$(diff -r gref gk 2>&1) && ok || bad "gen after kills differs: $out"

# ---- bench -----------------------------------------------------------------------------------
BENCH=(bench --suite smoke --n 1500 --seeds 0-1 --estimators ksg1,gaussian,histogram --no-plots --quiet)
# rows as a sorted set without time_us (the one timing column, found by name)
rows() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "time_us") t = i; next }
           { $t = ""; print }' OFS=, "$1/results.csv" | sort
}
timed "$MIST" "${BENCH[@]}" -o bref || bad "bench reference run"
for _ in $(seq "$KILLS"); do killed "$elapsed_ms" "$MIST" "${BENCH[@]}" -o bk; done
"$MIST" "${BENCH[@]}" -o bk >/dev/null 2>&1 || bad "bench rerun"
[ "$(rows bref | wc -l)" -eq 36 ] && ok || bad "bench reference: $(rows bref | wc -l) rows, want 36"
out=$(diff <(rows bref) <(rows bk) 2>&1) && ok || bad "bench rows after kills differ: $out"
[ "$(head -1 bref/results.csv)" = "$(head -1 bk/results.csv)" ] && ok || bad "bench header"

# ---- train -----------------------------------------------------------------------------------
TRAIN=(train --arch tiny --loss mse --steps 30 --batch 4 --threads 1 --val-count 0 --quiet)
# checkpoints every 0.05 s, so that most kills leave one to resume from
timed "$MIST" "${TRAIN[@]}" --ckpt-every 0.05 --out tref || bad "train reference run"
resumed=0
for _ in $(seq "$KILLS"); do
  if [ -s tk/checkpoint.msgpack ]; then
    killed "$elapsed_ms" "$MIST" train --resume tk --threads 1 --quiet
    resumed=$((resumed + 1))
  else
    rm -rf tk
    killed "$elapsed_ms" "$MIST" "${TRAIN[@]}" --ckpt-every 0.05 --out tk
  fi
done
if [ -s tk/model.msgpack ]; then :
elif [ -s tk/checkpoint.msgpack ]; then "$MIST" train --resume tk --threads 1 --quiet >/dev/null 2>&1 || bad "train resume"
else rm -rf tk; "$MIST" "${TRAIN[@]}" --ckpt-every 0.05 --out tk >/dev/null 2>&1 || bad "train restart"
fi
for i in 0 2 4; do
  a=$("$MIST" estimate gref/smoke-s0-000$i.npy --method mist --weights tref/model.msgpack --json --guard off 2>&1)
  b=$("$MIST" estimate gref/smoke-s0-000$i.npy --method mist --weights tk/model.msgpack --json --guard off 2>&1)
  a=$(echo "$a" | grep -o '"estimate": [^,]*') || bad "estimate with the reference model: $a"
  b=$(echo "$b" | grep -o '"estimate": [^,]*') || bad "estimate with the resumed model: $b"
  [ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "train after kills: $b, uninterrupted $a (dataset $i)"
done
# the training log: step, lr, loss and gradient norm of every step (a step logged before a kill
# and again after the resume must repeat the same values)
log() { cut -d, -f1,3,4,5 "$1/train.csv" | sort -u | sort -s -t, -k1,1n; }
[ "$(log tref | wc -l)" -eq 31 ] && ok || bad "train reference log: $(log tref | wc -l) lines"
out=$(diff <(log tref) <(log tk) 2>&1) && ok || bad "train log after kills differs: $out"

echo "kill9: $kills kills ($resumed train resumes), $pass passed, $fail failed"
[ "$fail" -eq 0 ]
