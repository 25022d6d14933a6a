#!/usr/bin/env bash
# The integrity checks from the command line: a resume with settings that change the result
# says so; a corrupted checkpoint does not resume; a weights file with a flipped bit is refused
# naming the file; calibration defaults to the model's own training distribution and n range.
# Scratch in a mkdtemp folder under the build tree, removed at the end; every command bounded.
set -u
MIST=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WORK=$(mktemp -d "$(cd "$2" && pwd)/tmp-integrity-XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
run() { timeout -k 5 120 "$MIST" "$@"; }
# flip BIT of byte OFFSET (from the end when negative) of FILE
flip() { /usr/bin/python3 -c '
import sys
p, off, bit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b = bytearray(open(p, "rb").read()); b[off] ^= 1 << bit; open(p, "wb").write(b)' "$@"; }

common=(--arch tiny --loss pinball --metadist normal1x1 --batch 4 --val-count 0 --quiet
        --ckpt-every 0)
# ---- resume with other settings -------------------------------------------------------------
run train "${common[@]}" --steps 6 --stop-after 2 --threads 1 --out r >/dev/null 2>&1 || bad "train r"
cp -r r r2 && cp -r r r3
run train --resume r --threads 1 --stop-after 4 --quiet 2>err1 >/dev/null || bad "same-settings resume: $(cat err1)"
grep -q "warning" err1 && bad "same-settings resume warns: $(cat err1)" || ok
run train --resume r2 --threads 2 --stop-after 4 --quiet 2>err2 >/dev/null || bad "resume --threads 2: $(cat err2)"
grep -q "^mist: train: warning: resuming with threads 2 (the run used 1): the result will differ" err2 \
  && ok || bad "resume with --threads 2 says nothing: $(cat err2)"
run train --resume r3 --steps 9 --stop-after 4 --quiet 2>err3 >/dev/null || bad "resume --steps 9: $(cat err3)"
grep -q "warning: resuming with steps 9 (the run planned 6" err3 && ok || bad "resume with --steps 9: $(cat err3)"

# ---- a corrupted checkpoint does not resume -------------------------------------------------
flip r/checkpoint.msgpack -100 0 # inside the last block (v)
run train --resume r --quiet >out 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "checksum mismatch: the checkpoint is corrupted" out && ok \
  || bad "corrupted checkpoint: exit $rc: $(cat out)"

# ---- a weights file with a flipped bit ------------------------------------------------------
run train --resume r2 --quiet >/dev/null 2>&1 || bad "finish r2"
[ -s r2/model.msgpack ] || bad "no r2/model.msgpack"
cp r2/model.msgpack good.msgpack
run info good.msgpack >/dev/null 2>&1 && ok || bad "info on the intact model"
cp good.msgpack flipped.msgpack
flip flipped.msgpack 2000 3
run info flipped.msgpack >out 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "flipped.msgpack" out && ok || bad "flipped weights: exit $rc: $(cat out)"

# ---- calibration on the model's own distribution and n range --------------------------------
trained=$(run info good.msgpack | sed -n 's/^trained on: n \([0-9]*\)\.\.\([0-9]*\),.*/\1-\2/p')
[ -n "$trained" ] || bad "no trained n range in mist info"
run train calibrate good.msgpack -o cal.msgpack --count 16 >out 2>&1 || bad "calibrate: $(cat out)"
grep -q "datasets of 'normal1x1', n $trained," out && ok || bad "calibrate defaults ($trained): $(head -2 out)"
run train calibrate good.msgpack -o cal2.msgpack --count 16 --metadist default --n-range 20-30 >out 2>&1 \
  || bad "calibrate with options: $(cat out)"
grep -q "datasets of 'default', n 20-30," out && ok || bad "calibrate options: $(head -2 out)"
run info cal.msgpack >/dev/null 2>&1 && ok || bad "info on the calibrated model"

echo "integrity cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
