#!/usr/bin/env bash
# The probes of the reliability issue, one table row each: input, arguments, expected exit,
# message pattern, time limit. Every bad input ends in an answer or a clear error, quickly: the
# limits are hang guards (generous), not timings. Scratch lives in a mkdtemp folder under the
# build tree and is removed at the end.
set -u
MIST=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
BUILD=$2
PY=/usr/bin/python3
WORK=$(mktemp -d "$(cd "$BUILD" && pwd)/tmp-probes-XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# probe NAME EXPECT PATTERN LIMIT cmd...: EXPECT is 0, nz (any non-zero) or an exit code; the
# output (stdout and stderr) must match the extended regex PATTERN; LIMIT in seconds.
# MIST_PROBE_TABLE=FILE also appends a Markdown row per probe to FILE: name, exit, seconds, the
# output's first line (the table of the reliability issue's closing note).
probe() {
  local name=$1 expect=$2 pat=$3 limit=$4; shift 4
  local out rc t0=$SECONDS
  out=$(timeout -k 5 "$limit" "$@" 2>&1 </dev/null); rc=$?
  if [ -n "${MIST_PROBE_TABLE:-}" ]; then
    printf '| %s | %s | %s | `%s` |\n' "$name" "$rc" "$((SECONDS - t0))" \
      "$(printf '%s' "$out" | head -1 | cut -c1-110 | tr '|`' "/'")" >> "$MIST_PROBE_TABLE"
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then bad "$name: still running after $limit s"; return; fi
  case $expect in
    nz) [ "$rc" -ne 0 ] || { bad "$name: exit 0, expected an error: $out"; return; } ;;
    *) [ "$rc" -eq "$expect" ] || { bad "$name: exit $rc, expected $expect: $out"; return; } ;;
  esac
  echo "$out" | grep -qE -- "$pat" && ok || bad "$name: output lacks /$pat/: $out"
}

# ---- inputs -------------------------------------------------------------------------------
"$PY" - <<'EOF'
import random
r = random.Random(4)
xs = [r.gauss(0, 1) for _ in range(400)]
ys = [x + 0.5 * r.gauss(0, 1) for x in xs]
def csv(name, rows):
    with open(name, "w") as f:
        f.writelines("%r,%r\n" % row for row in rows)
csv("g.csv", zip(xs, ys))
for tag, s in (("tiny", 1e-200), ("big", 1e154), ("huge", 1e300)):
    csv("g-%s.csv" % tag, [(x * s, y * s) for x, y in zip(xs, ys)])
csv("zero.csv", [(0.0, 0.0)] * 200)
csv("constx.csv", [(3.0, y) for y in ys])
with open("const1of2.csv", "w") as f:  # x1 constant, x2 and y informative
    f.writelines("1,%r,%r\n" % (x, y) for x, y in zip(xs, ys))
csv("tied.csv", [(0.0, 0.0)] * 100 + [(1.0, 1.0)] * 100)
csv("two.csv", [(1.0, 2.0), (3.0, 1.0)])
with open("na.csv", "w") as f:
    f.write("NA,1.5\n")
    f.writelines("%r,%r\n" % row for row in zip(xs[:30], ys[:30]))
EOF
[ -s g.csv ] || { echo "cannot write the probe inputs with $PY"; exit 1; }

# ---- A: degenerate data: an exact answer or a refusal, never a confident number -----------
probe "model on all-zero data" 0 "^mist: 0 nats \(exact: every column is constant\)" 60 \
  env -u MIST_WEIGHTS "$MIST" estimate zero.csv --dx 1
probe "model on all-zero data, JSON" 0 '"estimate": 0, .*"exact": true' 60 \
  env -u MIST_WEIGHTS "$MIST" estimate zero.csv --dx 1 --json
probe "model with a constant X" 0 "0 nats \(exact: X is constant\)" 60 \
  env -u MIST_WEIGHTS "$MIST" estimate constx.csv --dx 1
probe "ksg1 with a constant X" 0 "^ksg1: 0 nats \(exact: X is constant\)" 60 \
  "$MIST" estimate constx.csv --dx 1 --method ksg1
probe "model with one constant column of two" 1 "column x1 is constant.*--x/--y" 60 \
  env -u MIST_WEIGHTS "$MIST" estimate const1of2.csv --dx 2
probe "kde bandwidth 1e-300" nz "bandwidth 1e-300 is too small" 60 \
  "$MIST" estimate g.csv --dx 1 --method kde --bandwidth 1e-300
probe "model at n = 2" 1 "n = 2 rows is below the 10 the model needs" 60 \
  env -u MIST_WEIGHTS "$MIST" estimate two.csv --dx 1

# ---- B: inputs that never end, FIFOs, slow parses --------------------------------------------
probe "--weights /dev/zero" 1 "'/dev/zero' is not a regular file" 20 \
  "$MIST" estimate g.csv --dx 1 --weights /dev/zero
probe "MIST_WEIGHTS=/dev/zero" 1 "'/dev/zero' is not a regular file" 20 \
  env MIST_WEIGHTS=/dev/zero "$MIST" estimate g.csv --dx 1
probe "info /dev/zero" 1 "info: '/dev/zero' is not a regular file" 20 "$MIST" info /dev/zero
probe "convert /dev/zero" 1 "convert: '/dev/zero' is not a regular file" 20 \
  "$MIST" convert /dev/zero -o conv.msgpack
probe "train validate /dev/zero" 1 "'/dev/zero' is not a regular file" 20 \
  "$MIST" train validate /dev/zero
[ ! -e conv.msgpack ] && ok || bad "convert /dev/zero left a file"
probe "CSV from an endless stream of NUL bytes" 1 "line 1 contains a NUL byte" 20 \
  bash -c "cat /dev/zero | '$MIST' estimate - --dx 1 --method ksg1"
mkdir fifo && "$MIST" gen normal-dense-base --dims 1x1 --n 50 -o fifo/a.npy --quiet &&
  mkfifo fifo/b.npy &&
  printf 'id,task,dx,dy,n,seed,mi,file,params\na,normal-dense-base,1,1,50,0,0.1,a.npy,\nb,normal-dense-base,1,1,50,0,0.1,b.npy,\n' > fifo/manifest.csv &&
  ok || bad "fifo folder setup"
# the FIFO's dataset fails as a row (as any unreadable dataset does); the others run
probe "bench: a manifest naming a FIFO" 0 "2 rows \(1 with an error\)" 30 \
  "$MIST" bench --suite fifo --estimators gaussian --out bfifo --no-plots
grep -q "^.*,b,.*data file '.*b.npy' is not a regular file (a pipe)" bfifo/results.csv &&
  ok || bad "FIFO row: $(cat bfifo/results.csv)"
"$MIST" gen normal-dense-base --dims 1x1 --n 20 -o many.npy --quiet &&
  "$PY" -c '
import json
m = json.load(open("many.npy.json"))
m["params"] = {"p%d" % i: i / 7 for i in range(200000)}
json.dump(m, open("many.npy.json", "w"))' && ok || bad "200,000-parameter sidecar setup"
probe "a sidecar with 200,000 parameters (quadratic: minutes)" 0 "^gaussian: " 30 \
  "$MIST" estimate many.npy --method gaussian

# ---- C: wrong numbers with exit 0 --------------------------------------------------------------
probe "ksg1 --noise 0 on tied rows" 1 "k-th neighbour distance is 0" 30 \
  "$MIST" estimate tied.csv --dx 1 --method ksg1 --noise 0
probe "ksg2 --noise 0 on tied rows" 1 "k-th neighbour distance is 0" 30 \
  "$MIST" estimate tied.csv --dx 1 --method ksg2 --noise 0
probe "ksg1 --noise 0 on all-zero rows" 0 "^ksg1: 0 nats \(exact" 30 \
  "$MIST" estimate zero.csv --dx 1 --method ksg1 --noise 0
for m in ksg1 kde; do
  ref=$("$MIST" estimate g.csv --dx 1 --method $m --json) || bad "$m on g.csv"
  for tag in tiny big huge; do
    got=$("$MIST" estimate g-$tag.csv --dx 1 --method $m --json 2>&1) &&
      "$PY" -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert abs(a["estimate"] - b["estimate"]) < 1e-6 and a["estimate"] > 0.3, (a, b)' "$ref" "$got" &&
      ok || bad "$m on data scaled by $tag: $got vs $ref"
  done
done
mkdir mnan && cp fifo/a.npy fifo/a.npy.json mnan/ &&
  for v in nan inf -0.5; do
    printf 'id,task,dx,dy,n,seed,mi,file,params\na,normal-dense-base,1,1,50,0,%s,a.npy,\n' "$v" > mnan/manifest.csv
    probe "manifest mi $v" nz "line 2: invalid mi \(the true MI|line 2 \(a\): the true MI is nan" 30 \
      "$MIST" bench --suite mnan --estimators gaussian --out bnan --quiet --no-plots
  done
[ ! -e bnan/results.csv ] && ok || bad "a refused manifest left results"
for v in -0.5 1e999; do
  "$MIST" gen normal-dense-base --dims 1x1 --n 20 -o side.npy --quiet &&
    sed -i "s/\"mi\": [^,]*/\"mi\": $v/" side.npy.json
  probe "sidecar mi $v" 1 "invalid value for \"mi\" \(the true MI" 20 \
    "$MIST" estimate side.npy --method gaussian
done
# a sidecar that is a named pipe nobody writes to: refused, not waited on
"$MIST" gen normal-dense-base --dims 1x1 --n 20 -o pipe.npy --quiet && rm -f pipe.npy.json &&
  mkfifo pipe.npy.json && ok || bad "FIFO sidecar setup"
probe "a sidecar that is a FIFO" 1 "pipe.npy.json' is a named pipe \(FIFO\) with nothing written" 20 \
  "$MIST" estimate pipe.npy --method gaussian
probe "headerless CSV whose first row holds NA" 1 "line 1, column 1: 'NA' marks a missing value" 20 \
  "$MIST" estimate na.csv --dx 1 --method gaussian
probe "a quote that never closes, from stdin" 1 "line 2, column 1: a quote that does not close" 20 \
  bash -c "printf 'a,b\\n\"1,2\\n' | '$MIST' estimate - --dx 1 --method gaussian"
"$PY" -c '
import numpy as np
np.savez("xy.npz", x=np.arange(20.0), y=np.arange(20.0) ** 2)
b = open("xy.npz", "rb").read()
open("cut.npz", "wb").write(b[: len(b) // 2])
z = bytearray(b); z[len(b) - 6] ^= 0xff  # the central directory offset, far out of the file
open("lie.npz", "wb").write(bytes(z))' && ok || bad "npz probe setup"
probe "a cut .npz" 1 "not an .npz \\(zip\\) archive" 20 "$MIST" estimate cut.npz --method gaussian
probe "an .npz whose directory points outside it" 1 "damaged zip directory" 20 \
  "$MIST" estimate lie.npz --method gaussian
probe "a delimiter of two characters" 2 "bad value for --delimiter: 'ab'" 20 \
  "$MIST" estimate g.csv --dx 1 --delimiter ab

# ---- D: durability --------------------------------------------------------------------------
# a sidecar write that fails (file size limit standing in for a full disk) leaves the old pair
args=(); for k in $(seq 1 50); do args+=(--param "eps$k=0.$k"); done
"$MIST" gen additive-base --dims 50x50 --n 1 --dtype f32 "${args[@]}" --seed 1 -o pair.npy --quiet &&
  cp pair.npy old.npy && cp pair.npy.json old.json && [ "$(stat -c %s pair.npy)" -lt 1024 ] &&
  [ "$(stat -c %s pair.npy.json)" -gt 1024 ] && ok || bad "pair setup"
probe "gen: the sidecar cannot be written" 1 "pair.npy.json" 30 \
  bash -c "trap '' XFSZ; ulimit -f 1; exec '$MIST' gen additive-base --dims 50x50 --n 1 --dtype f32 ${args[*]} --seed 2 -o pair.npy --quiet"
cmp -s pair.npy old.npy && cmp -s pair.npy.json old.json && ok || bad "a failed sidecar write changed the old pair"
ls ./*.tmp.* >/dev/null 2>&1 && bad "a failed gen left temporaries" || ok
# temporaries of killed runs: gen removes its own outputs' old ones, nothing else
touch -d '2 hours ago' pair.npy.tmp.AbC123 pair.npy.json.tmp.xyZ789 other.npy.tmp.AbC123
probe "gen removes stale temporaries" 0 "removed 2 stale temporary files" 30 \
  "$MIST" gen normal-dense-base --dims 1x1 --n 10 -o pair.npy
[ ! -e pair.npy.tmp.AbC123 ] && [ ! -e pair.npy.json.tmp.xyZ789 ] && [ -e other.npy.tmp.AbC123 ] &&
  ok || bad "stale temporaries: $(ls ./*.tmp.* 2>&1)"
mkdir st && touch -d '2 hours ago' st/smoke-s0-0003.npy.tmp.QQQQQQ st/manifest.csv.tmp.RRRRRR
"$MIST" gen --suite smoke -o st --quiet && [ -z "$(ls st | grep tmp)" ] && ok || bad "suite stale temporaries: $(ls st)"
# train stopped by a signal: checkpoint written, exit 128 + signal, no model
for sig in INT TERM; do
  "$MIST" train --arch tiny --loss mse --batch 2 --steps 1000000 --val-count 2 --val-every 100000 \
    --out tsig$sig --quiet 2>/dev/null & pid=$!
  for _ in $(seq 600); do [ -s tsig$sig/train.csv ] && break; sleep 0.1; done
  kill -$sig $pid; wait $pid; rc=$?
  want=$((128 + $(kill -l $sig)))
  [ "$rc" -eq "$want" ] && [ -s tsig$sig/checkpoint.msgpack ] && [ ! -e tsig$sig/model.msgpack ] &&
    ok || bad "train after SIG$sig: exit $rc (want $want), $(ls tsig$sig)"
done
# merge with a shard missing
"$MIST" bench --suite smoke --estimators gaussian --out bsh --shard 0/2 --quiet >/dev/null 2>&1 || bad "shard 0/2"
probe "merge with shard 1 of 2 missing" nz "shard 1 of 2 \(results-shard-1-of-2.csv\) is missing" 30 \
  "$MIST" bench merge bsh -o bm --quiet
# results.csv never ends in a torn line when a write fails part-way; the rerun completes it
probe "bench: results.csv write fails part-way" nz "cannot append to" 60 \
  bash -c "trap '' XFSZ; ulimit -f 2; exec '$MIST' bench --suite smoke --estimators ksg1,gaussian,histogram --out btorn --quiet --no-plots"
[ -s btorn/results.csv ] && [ "$(tail -c 1 btorn/results.csv | od -An -c | tr -d ' ')" = '\n' ] &&
  ok || bad "results.csv ends in a torn line: $(tail -c 80 btorn/results.csv)"
"$MIST" bench --suite smoke --estimators ksg1,gaussian,histogram --out btorn --quiet --no-plots &&
  [ "$(($(wc -l < btorn/results.csv) - 1))" -eq 18 ] && ok || bad "bench resume after the failed write"

# ---- E: gen when no worker thread can start (2 GB stacks in a 1.5 GB address space) ----------
# (not under AddressSanitizer: its shadow memory needs terabytes of address space)
if [ -z "${MIST_SANITIZED:-}" ]; then
  "$MIST" gen --suite smoke --threads 1 -o nt1 --quiet || bad "gen nt1"
  probe "gen --threads 4 when pthread_create fails" 0 "^$" 60 \
    bash -c "ulimit -s 2000000; ulimit -v 1500000; OPENBLAS_NUM_THREADS=1 exec '$MIST' gen --suite smoke --threads 4 -o nt4 --quiet"
  diff -r nt1 nt4 >/dev/null && ok || bad "gen without threads differs from --threads 1"
fi

echo "cli_probes: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
