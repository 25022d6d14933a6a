#!/bin/bash
# mpirun -np P mist train|bench (only built and run when CMake finds MPI):
# 1. training: 1 rank vs 2 ranks over the same global batch of 8 give the same loss curve, the
#    same validation and the same weights (the same estimates, printed to 17 digits) bit for
#    bit; the one-process trainer (batched gradient, another summation order) agrees within
#    1e-5 relative over the curve (observed ~1e-8).
# 2. bench: the rows of -np 2 equal the single-process rows (as a set, timing column aside).
# 3. a killed rank stops the job with a message, leaves a checkpoint that reads back, and the run
#    resumes on another rank count.
# usage: test_mpi.sh MIST MPIEXEC WORKDIR
set -u
MIST=${1:?usage: test_mpi.sh MIST MPIEXEC WORKDIR}
MPIEXEC=${2:?}
BASE=${3:?}
mkdir -p "$BASE" || exit 1
W=$(mktemp -d "$BASE/mpi.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
MPI=("$MPIEXEC" --oversubscribe --allow-run-as-root)
fail=0
bad() { echo "FAIL: $*"; fail=1; }

A=(train --arch tiny --loss mse --batch 8 --steps 8 --warmup 2 --seed 3 --val-count 4
   --val-every 4 --quiet)
timeout 300 "${MPI[@]}" -np 1 "$MIST" "${A[@]}" --out "$W/np1" || bad "train -np 1"
timeout 300 "${MPI[@]}" -np 2 "$MIST" "${A[@]}" --out "$W/np2" || bad "train -np 2"
timeout 300 "${MPI[@]}" -np 2 "$MIST" "${A[@]}" --threads 2 --out "$W/np2t" || bad "train -np 2 --threads 2"
timeout 300 "$MIST" "${A[@]}" --out "$W/plain" || bad "train without mpirun"
curve() { cut -d, -f1,3,4,5,6,7 "$1/train.csv"; }
if ! cmp -s <(curve "$W/np1") <(curve "$W/np2"); then
    bad "loss curves of 1 and 2 ranks differ"; diff <(curve "$W/np1") <(curve "$W/np2")
fi
# --threads changes the BLAS threads of rank 0's validation, not the training columns
train_cols() { cut -d, -f1,3,4,5 "$1/train.csv"; }
cmp -s <(train_cols "$W/np1") <(train_cols "$W/np2t") || bad "--threads 2 changed the loss curve"

# the GFLOP/s column counts the ranks' work (it read 0 under mpirun before)
for r in np1 np2 np2t plain; do
    awk -F, 'NR > 2 && !($NF > 0) { bad = 1 } END { exit bad || NR < 3 }' "$W/$r/train.csv" ||
        bad "$r: a step logged no GFLOP/s: $(cut -d, -f1,9 "$W/$r/train.csv" | tr '\n' ' ')"
done
"$MIST" gen normal-dense-base --dims 2x2 --n 300 --seed 9 -o "$W/d.npy" 2>/dev/null || bad gen
"$MIST" gen student-dense-asinh --dims 1x3 --n 150 --seed 4 -o "$W/e.npy" 2>/dev/null || bad gen
est() { for f in d e; do "$MIST" estimate "$W/$f.npy" --method mist --weights "$1/model.msgpack" \
        --guard warn --json 2>/dev/null | grep -o '"estimate": *[^,}]*' | head -1; done; }
e1=$(est "$W/np1"); e2=$(est "$W/np2"); e3=$(est "$W/np2t"); e0=$(est "$W/plain")
[ "$(echo "$e1" | wc -l)" -eq 2 ] && [ "$e1" = "$e2" ] && [ "$e1" = "$e3" ] ||
    bad "weights of 1 and 2 ranks differ: '$e1' vs '$e2' vs '$e3'"
echo "estimates, 1 rank: $(echo $e1); 2 ranks: $(echo $e2); one process: $(echo $e0)"
# the one-process trainer sums the batch in one pass: equal to float rounding only
paste -d, <(cut -d, -f4 "$W/plain/train.csv") <(cut -d, -f4 "$W/np2/train.csv") | tail -n +3 |
    awk -F, '{ d = $1 - $2; if (d < 0) d = -d; r = d / ($1 < 0 ? -$1 : $1);
               if (r > m) m = r } END { printf "plain vs 2 ranks: max relative loss difference %.3g\n", m;
               exit !(m < 1e-5) }' || bad "the one-process loss curve is off by more than 1e-5"

B=(bench --suite smoke --estimators ksg1,gaussian --no-plots --quiet)
timeout 300 "$MIST" "${B[@]}" --out "$W/b1" || bad "bench"
timeout 300 "${MPI[@]}" -np 2 "$MIST" "${B[@]}" --out "$W/b2" || bad "bench -np 2"
rows() { cut -d, -f1-18,20- "$1/results.csv" | sort; }
[ "$(rows "$W/b1" | wc -l)" -gt 10 ] || bad "bench wrote too few rows"
cmp -s <(rows "$W/b1") <(rows "$W/b2") || bad "bench rows of -np 2 differ from one process"
[ -f "$W/b2/summary.md" ] || bad "bench -np 2 wrote no summary"
# resuming: nothing left to do, the same rows
timeout 300 "${MPI[@]}" -np 2 "$MIST" "${B[@]}" --out "$W/b2" || bad "bench -np 2 again"
cmp -s <(rows "$W/b1") <(rows "$W/b2") || bad "bench rows changed on resume"

# kill rank 1 of a running job
K=(train --arch tiny --loss mse --batch 8 --steps 300 --seed 5 --val-count 0 --ckpt-every 0.05
   --quiet --out "$W/k")
MIST_MPI_TIMEOUT=60 timeout 300 "${MPI[@]}" -np 2 "$MIST" "${K[@]}" 2>"$W/k.err" &
job=$!
for _ in $(seq 600); do [ -f "$W/k/checkpoint.msgpack" ] && break; sleep 0.05; done
victim=""
for p in $(pgrep -P "$(pgrep -P $job | head -1)") $(pgrep -P $job); do
    grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$p/environ" 2>/dev/null && victim=$p
done
[ -n "$victim" ] && kill -9 "$victim" || bad "no rank 1 to kill"
wait $job
rc=$?
[ "$rc" -ne 0 ] || bad "the job with a killed rank exited 0"
[ "$rc" -ne 124 ] || bad "the job with a killed rank hung"
grep -qiE "rank 1|killed|signal 9" "$W/k.err" || { bad "no message about the dead rank"; cat "$W/k.err"; }
timeout 120 "$MIST" train export "$W/k" -o "$W/k.msgpack" 2>/dev/null ||
    bad "the checkpoint left by the killed job does not read back"
timeout 300 "${MPI[@]}" -np 1 "$MIST" train --resume "$W/k" --quiet ||
    bad "resuming the killed job on 1 rank"
[ -f "$W/k/model.msgpack" ] || bad "the resumed run wrote no model"

[ "$fail" -eq 0 ] && echo "mpi: OK" || echo "mpi: FAILED"
exit "$fail"
