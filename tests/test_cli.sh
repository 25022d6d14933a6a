#!/usr/bin/env bash
# End-to-end checks of the mist command: exit codes, messages, files written or not written,
# suite determinism across thread counts, the bmi40 manifest against the spec's table.
set -u
MIST=$1
WORK=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect_fail DESCRIPTION PATTERN cmd...: non-zero exit and the message matches PATTERN
expect_fail() {
  local what=$1 pat=$2; shift 2
  local out; out=$("$@" 2>&1) && { bad "$what: exit 0"; return; }
  echo "$out" | grep -qiE -- "$pat" && ok || bad "$what: message '$out' lacks /$pat/"
}

"$MIST" --help | grep -q "mist gen" && ok || bad "--help"
"$MIST" gen --help | grep -q -- "--dims" && ok || bad "gen --help"
"$MIST" gen --list | grep -q "swissroll" && ok || bad "gen --list"
# the newer families: listed, generated with their MI (and Monte-Carlo error) in the sidecar
"$MIST" gen --list | grep -q "categorical-softmax" && "$MIST" gen --list | grep -q "broad" && ok || bad "gen --list families"
"$MIST" gen mixture-xshape-base --dims 2x2 --n 50 --seed 1 --transform negate -o mx.npy --quiet &&
  grep -q '"mi_se"' mx.npy.json && grep -q '"transform": "negate"' mx.npy.json && ok || bad "gen mixture-xshape"
expect_fail "family parameter out of range" "sigma1=-1 is out of range" "$MIST" gen channel-sine-base --dims 1x1 --n 5 --param sigma=-1 -o bad.npy

# one task, three formats
"$MIST" gen normal-dense-base --dims 2x3 --n 500 --seed 7 --param c=0.3 -o a.npy --quiet && ok || bad "gen npy"
[ -s a.npy ] && [ -s a.npy.json ] && ok || bad "npy + sidecar written"
grep -q '"task": *"normal-dense-base"' a.npy.json && grep -q '"c"' a.npy.json && ok || bad "sidecar content"
"$MIST" gen normal-dense-base --dims 2x3 --n 500 --seed 7 --param c=0.3 -o a.csv --quiet && ok || bad "gen csv"
head -1 a.csv | grep -qx "x1,x2,y1,y2,y3" && ok || bad "csv header"
[ "$(wc -l < a.csv)" -eq 501 ] && ok || bad "csv rows"
"$MIST" gen normal-dense-base --dims 2x3 --n 500 --seed 7 --param c=0.3 -o a.msgpack --quiet && ok || bad "gen msgpack"
"$MIST" gen normal-dense-base --dims 2x3 --n 500 --seed 7 --param c=0.3 -o b.npy --quiet
cmp -s a.npy b.npy && ok || bad "same seed, same bytes"
"$MIST" gen normal-dense-base --dims 2x3 --n 500 --seed 8 --param c=0.3 -o c.npy --quiet
cmp -s a.npy c.npy && bad "different seeds gave the same bytes" || ok

# --transform: recorded in the metadata, mi unchanged; perm permutes the columns within X and
# within Y, swap exchanges the blocks; suites get it per dataset, bytes independent of threads
"$MIST" gen normal-dense-base --dims 3x4 --n 300 --seed 5 -o tp0.npy --quiet &&
  "$MIST" gen normal-dense-base --dims 3x4 --n 300 --seed 5 --transform perm -o tp.npy --quiet &&
  "$MIST" gen normal-dense-base --dims 3x4 --n 300 --seed 5 --transform swap -o ts.csv --quiet &&
  ok || bad "gen --transform"
grep -q '"transform": "perm"' tp.npy.json && grep -q '"transform_seed": [0-9]' tp.npy.json &&
  ! grep -q transform tp0.npy.json && ok || bad "sidecar records the transform"
head -1 ts.csv | grep -qx "x1,x2,x3,x4,y1,y2,y3" && grep -q '"dx": 4' ts.csv.json && ok || bad "swap dims"
/usr/bin/python3 -c '
import json, numpy as np
a, b = np.load("tp0.npy"), np.load("tp.npy")
ma, mb = json.load(open("tp0.npy.json")), json.load(open("tp.npy.json"))
assert mb["mi"] == ma["mi"] and (mb["dx"], mb["dy"]) == (3, 4), (ma, mb)
src = []
for j in range(7):
    hits = [k for k in range(7) if np.array_equal(b[:, j], a[:, k])]
    assert len(hits) == 1, (j, hits)
    src.append(hits[0])
assert sorted(src[:3]) == [0, 1, 2] and sorted(src[3:]) == [3, 4, 5, 6], src
assert src != list(range(7)), src
s = np.loadtxt("ts.csv", delimiter=",", skiprows=1)
assert np.array_equal(s[:, :4], a[:, 3:]) and np.array_equal(s[:, 4:], a[:, :3])
' && ok || bad "perm and swap columns against the untransformed file"
"$MIST" gen --suite smoke --transform rotate+flow --threads 1 -o tr1 --quiet &&
  "$MIST" gen --suite smoke --transform rotate+flow --threads 2 -o tr2 --quiet &&
  "$MIST" gen --suite smoke -o tr0 --quiet && ok || bad "suite --transform"
diff -r tr1 tr2 >/dev/null && ok || bad "suite --transform bytes depend on thread count"
[ "$(grep -l '"transform": "rotate+flow"' tr1/*.json | wc -l)" -eq 6 ] && ok || bad "suite sidecars record the transform"
cut -d, -f1-9 tr1/manifest.csv | cmp -s tr0/manifest.csv - && ! cmp -s tr0/smoke-s0-0000.npy tr1/smoke-s0-0000.npy &&
  ok || bad "suite --transform: same manifest (mi), other data"
head -1 tr1/manifest.csv | grep -qx 'id,task,dx,dy,n,seed,mi,file,params,transform' &&
  [ "$(tail -n +2 tr1/manifest.csv | grep -c ',rotate+flow$')" -eq 6 ] && ok || bad "manifest transform column"
# the bench reports what was applied to a transformed folder: the manifest's, then its own
"$MIST" bench --suite tr1 --estimators gaussian --transform none,swap --out trb --quiet --no-plots &&
  [ "$(grep -c ',rotate+flow,gaussian,' trb/results.csv)" -eq 6 ] &&
  [ "$(grep -c ',rotate+flow+swap,gaussian,' trb/results.csv)" -eq 6 ] && ok || bad "bench transform labels on a transformed folder: $(cut -d, -f10 trb/results.csv | sort | uniq -c)"
expect_fail "unknown --transform" "unknown transform 'spin'" "$MIST" gen normal-dense-base --dims 2x2 --n 10 --transform perm+spin -o e12.npy

# errors: clear message, non-zero exit, nothing written
expect_fail "unknown task" "unknown task" "$MIST" gen gaussian-dense --dims 1x1 --n 10 -o e1.npy
expect_fail "unknown transform" "unknown transform" "$MIST" gen normal-dense-cube --dims 1x1 --n 10 -o e2.npy
expect_fail "swissroll dx" "swissroll needs dx = 1" "$MIST" gen normal-dense-normal_cdf+swissroll --dims 2x1 --n 10 -o e3.npy
expect_fail "additive dims" "dx = dy" "$MIST" gen additive-base --dims 2x3 --n 10 -o e4.npy
expect_fail "dense pd" "positive definite" "$MIST" gen normal-dense-base --dims 3x3 --n 10 --param c=-0.5 -o e5.npy
expect_fail "out of range" "out of range" "$MIST" gen student-dense-base --dims 2x2 --n 10 --param nu=-1 -o e6.npy
expect_fail "unknown param" "does not apply" "$MIST" gen normal-dense-base --dims 2x2 --n 10 --param K=1 -o e7.npy
expect_fail "bad dims" "dims" "$MIST" gen normal-dense-base --dims 2by2 --n 10 -o e8.npy
expect_fail "bad n" "--n" "$MIST" gen normal-dense-base --dims 2x2 --n -5 -o e9.npy
expect_fail "unwritable" "e10|directory|No such" "$MIST" gen normal-dense-base --dims 2x2 --n 10 -o nodir/e10.npy
expect_fail "unknown suite" "unknown suite" "$MIST" gen --suite nosuch -o s0
expect_fail "unknown ext" "format" "$MIST" gen normal-dense-base --dims 2x2 --n 10 -o e11.txt
ls e*.npy e*.json e11.txt nodir 2>/dev/null && bad "an error left a file" || ok
ls *.tmp.* 2>/dev/null && bad "temporary files left behind" || ok

# suites: bytes independent of the thread count
"$MIST" gen --suite bmi40 --n 300 --seeds 0-2 --threads 1 -o t1 --quiet && ok || bad "suite t1"
"$MIST" gen --suite bmi40 --n 300 --seeds 0-2 --threads 2 -o t2 --quiet && ok || bad "suite t2"
diff -r t1 t2 >/dev/null && ok || bad "suite bytes depend on thread count"
"$MIST" gen --suite mist-imd --seeds 3-3 --threads 2 --dtype f32 -o imd --quiet && ok || bad "mist-imd"
[ "$(ls imd | wc -l)" -eq $((1080 * 2 + 1)) ] && ok || bad "mist-imd file count"
[ "$(($(wc -l < imd/manifest.csv) - 1))" -eq 1080 ] && ok || bad "mist-imd manifest rows"
expect_fail "n for mist-imd" "fixed n grid" "$MIST" gen --suite mist-imd --n 100 -o imdn

# the official MIST test tasks: built in (no file read at run time), MI as listed, the d = 32
# additive tasks' 32 eps values in full in the manifest
"$MIST" gen --suite mist-oomd-official --seeds 0-0 --threads 2 -o oomdoff --quiet && ok || bad "mist-oomd-official"
[ "$(($(wc -l < oomdoff/manifest.csv) - 1))" -eq 1260 ] && [ "$(ls oomdoff | wc -l)" -eq $((1260 * 2 + 1)) ] && ok || bad "mist-oomd-official rows"
paste -d, <(tail -n +2 "$SRC/gen/data/mist_oomd_official.csv" | cut -d, -f2,3,5) \
  <(tail -n +2 oomdoff/manifest.csv | cut -d, -f3,5,7) | tr -d '\r' |
  awk -F, '{d=$3-$6; if (d<0) d=-d; if ($1!=$4 || $2!=$5 || d>1e-9*$3+1e-12) {print "oomd row " NR ": " $0; bad=1}} END {exit bad}' &&
  ok || bad "mist-oomd-official d, n and MI against the list"
awk -F, '$2 ~ /^additive/ && $3 == 32 {n = split($9, p, ";"); if (n != 32 || p[32] !~ /^eps32=/) bad = 1; seen++}
  END {exit bad || !seen}' oomdoff/manifest.csv && ok || bad "d = 32 additive params in the manifest"
"$MIST" gen --suite mist-imd-official --seeds 2-2 -o imdoff --quiet && ok || bad "mist-imd-official"
[ "$(($(wc -l < imdoff/manifest.csv) - 1))" -eq 1080 ] && head -2 imdoff/manifest.csv | grep -q "^mist-imd-official-s2-0000,normal-dense-base,8,8,10," && ok || bad "mist-imd-official manifest"
expect_fail "n for official" "fixed n grid" "$MIST" gen --suite mist-imd-official --n 100 -o offn
"$MIST" gen --list | grep -q "mist-oomd-official" && ok || bad "official suites listed"

# --param takes any number of values: 40 eps for a 40x40 additive task, all in the sidecar
args=(); for k in $(seq 1 40); do args+=(--param "eps$k=$(awk -v k=$k 'BEGIN {print k / 64}')"); done
"$MIST" gen additive-base --dims 40x40 --n 100 "${args[@]}" -o add40.npy --quiet && ok || bad "gen 40 --param"
miss=0; for k in $(seq 1 40); do grep -q "\"eps$k\": $(awk -v k=$k 'BEGIN {print k / 64}')[,}]" add40.npy.json || miss=$((miss + 1)); done
[ "$miss" -eq 0 ] && [ "$(grep -o '"eps[0-9]*"' add40.npy.json | wc -l)" -eq 40 ] && ok || bad "sidecar lacks $miss of 40 eps values"
expect_fail "41st eps" "eps41.*does not apply" "$MIST" gen additive-base --dims 40x40 --n 10 "${args[@]}" --param eps41=1 -o add41.npy

# bmi40: manifest MI against the spec's table (in suite order)
"$MIST" gen --suite bmi40 --n 200 --seeds 0-1 -o bmi --quiet && ok || bad "bmi40"
expected="0.41334 0.41334 1.70944 0.33333 0.41334 0.41334 0.41334 0.22417 0.22417 0.41334
0.29389 0.41334 0.59281 1.29218 1.62427 1.02165 1.02165 1.02165 1.02165 0.43195 0.19315
0.29092 0.17871 0.44815 0.29854 1.02165 1.02165 1.02165 1.02165 1.02165 1.02165 1.02165
1.02165 1.02165 1.02165 1.02165 1.02165 0.43195 0.29092 0.44815"
got=$(awk -F, 'NR>1 && NR<=41 {print $7}' bmi/manifest.csv)
paste <(echo $expected | tr ' ' '\n') <(echo "$got") | awk '{d=$1-$2; if (d<0) d=-d; if (d>1e-4) {print "bmi40 row " NR ": " $1 " vs " $2; bad=1}} END {exit bad}' && ok || bad "bmi40 MI table"
[ "$(($(wc -l < bmi/manifest.csv) - 1))" -eq 80 ] && ok || bad "bmi40 two seeds = 80 rows"

# estimate: files, stdin, column selection, errors
out=$("$MIST" estimate a.npy --method ksg1 2>&1) && echo "$out" | grep -q "true MI" && ok || bad "estimate npy: $out"
"$MIST" estimate a.npy --method gaussian --json | grep -q '"estimate": ' && ok || bad "estimate --json"
tail -n +2 a.csv | "$MIST" estimate - --dx 2 --method gaussian >/dev/null && ok || bad "estimate stdin"
"$MIST" estimate a.csv --x 1-2 --y 3-5 --method gaussian | grep -q "true MI" && ok || bad "estimate --x/--y keeps truth"
"$MIST" estimate a.csv --x 1 --y 3-5 --method gaussian | grep -q "true MI" && bad "truth shown for a partial split" || ok
b1=$("$MIST" estimate a.npy --method ksg1 --bootstrap 20 --seed 3 --json)
b2=$("$MIST" estimate a.npy --method ksg1 --bootstrap 20 --seed 3 --json --threads 2)
[ "$b1" = "$b2" ] && ok || bad "bootstrap depends on threads: $b1 vs $b2"
printf 'x1,y1\n1,2\nnan,3\n4,5\n' > nan.csv
expect_fail "estimate NaN" "non-finite|nan" "$MIST" estimate nan.csv --dx 1
printf 'x1,y1\n1,2\n3\n4,5\n' > ragged.csv
expect_fail "estimate ragged" "line 3" "$MIST" estimate ragged.csv --dx 1
printf 'x1,y1\n1,2\n2,3\n3,5\n' > few.csv
expect_fail "estimate few rows" "too few|n > k|needs" "$MIST" estimate few.csv --dx 1 --method ksg1 --k 5
expect_fail "classical option for the model" "--k applies to the classical" "$MIST" estimate a.npy --k 5
expect_fail "estimate dx range" "dx|column" "$MIST" estimate a.npy --dx 5
expect_fail "estimate no dx" "--dx" "$MIST" estimate few.csv
expect_fail "estimate unknown method" "unknown method" "$MIST" estimate a.npy --method nope
expect_fail "estimate missing file" "nofile" "$MIST" estimate nofile.npy --dx 1

# ---- the rough edges of issue 14, one row each: NAME EXPECT PATTERN cmd... (EXPECT: 0 or nz; the
# pattern must match stdout + stderr). Inputs first.
"$MIST" gen normal-dense-base --dims 3x3 --n 400 --seed 3 -o data.npy --quiet &&
  "$MIST" gen normal-dense-base --dims 2x2 --n 300 --seed 4 -o data.csv --quiet && ok || bad "rough-edge inputs"
/usr/bin/python3 -c '
import numpy as np
r = np.random.default_rng(5)
x = r.normal(size=(300, 2)); y = x @ [[1.0], [0.5]] + r.normal(size=(300, 1))
xy = np.hstack([x, y])
np.save("fort.npy", np.asfortranarray(xy))
np.save("ints.npy", np.round(xy * 1000).astype("<i4"))
np.savez("xy.npz", y=y, x=x)
np.savez_compressed("comp.npz", x=x, y=y)
with open("pandas.csv", "w") as f:  # DataFrame.to_csv with its index
    f.write(",a,b,c\n" + "".join("%d,%r,%r,%r\n" % (i, *row) for i, row in enumerate(xy)))
with open("quoted.csv", "w") as f:
    f.write("\"a\",\"b\",\"c\"\n" + "".join("\"%r\",\"%r\",\"%r\"\n" % tuple(row) for row in xy))
with open("t.tsv", "w") as f:
    f.write("a\tb\tc\n" + "".join("%r\t%r\t%r\n" % tuple(row) for row in xy))
with open("semi.csv", "w") as f:
    f.write("a;b;c\n" + "".join("%r;%r;%r\n" % tuple(row) for row in xy))
' && ok || bad "rough-edge files"
# the reference: KSG on the columns of x and y, read from the quoted CSV
ref=$("$MIST" estimate quoted.csv --x 1-2 --y 3 --method ksg1 2>&1 | head -1 | cut -d' ' -f1-2)
row() {
  local name=$1 expect=$2 pat=$3; shift 3
  local out rc; out=$("$@" 2>&1); rc=$?
  if [ "$expect" = 0 ] && [ "$rc" -ne 0 ]; then bad "$name: exit $rc: $out"; return; fi
  if [ "$expect" = nz ] && [ "$rc" -eq 0 ]; then bad "$name: exit 0: $out"; return; fi
  echo "$out" | grep -qE -- "$pat" && ok || bad "$name: output lacks /$pat/: $out"
}
# one option parser: --opt=value, named unknown options, missing values, -o/--out everywhere
row "--opt=value" 0 "^ksg1: .* \(n = 400, dx = 2, dy = 4\)" "$MIST" estimate data.npy --method=ksg1 --dx=2
row "unknown option named" nz "estimate: unknown option '--frobnicate'" "$MIST" estimate data.npy --frobnicate
row "near miss suggested" nz "unknown option '--thread' \(did you mean --threads\?\)" "$MIST" estimate data.npy --thread 2
row "missing value at the end" nz "estimate: --dx needs a value" "$MIST" estimate data.npy --dx
row "missing value before an option" nz "gen: --out needs a value" "$MIST" gen normal-dense-base --dims 1x1 --n 10 --out --quiet
row "value given to a flag" nz "estimate: --json takes no value" "$MIST" estimate data.npy --json=yes
row "bad value named" nz "estimate: bad value for --unit: 'furlongs' \(want bits or nats\)" "$MIST" estimate data.npy --unit furlongs
row "convert --out" nz "convert: '/dev/zero' is not a regular file" "$MIST" convert /dev/zero --out=c.msgpack
row "convert --output kept" nz "convert: '/dev/zero' is not a regular file" "$MIST" convert /dev/zero --output c.msgpack
row "train export --out=" nz "train export: .*nothere" "$MIST" train export nothere --out=x.msgpack
row "bench merge --out=" nz "bench merge: " "$MIST" bench merge nothere --out=m
row "calibrate unknown option" nz "train calibrate: unknown option '--bogus'" "$MIST" train calibrate x.msgpack -o y --bogus
row "validate missing value" nz "train validate: --count needs a value" "$MIST" train validate x.msgpack --count
# sidecars that cannot collide: data.npy (3x3) and data.csv (2x2) in one folder
row "npy keeps its sidecar" 0 "dx = 3, dy = 3" "$MIST" estimate data.npy --method gaussian
row "csv keeps its own" 0 "dx = 2, dy = 2" "$MIST" estimate data.csv --method gaussian
[ -s data.npy.json ] && [ -s data.csv.json ] && [ ! -e data.json ] && ok || bad "sidecar names"
cp data.npy.json legacy.json && cp data.npy legacy.npy &&
  sed -i 's/"file": "data.npy"/"file": "legacy.npy"/' legacy.json && ok || bad "legacy copy"
row "legacy NAME.json read" 0 "true MI" "$MIST" estimate legacy.npy --method gaussian
cp data.csv legacy.csv
row "legacy NAME.json of another file ignored" nz "no metadata giving dx" "$MIST" estimate legacy.csv --method gaussian
# the truth only for the file's own split
"$MIST" estimate data.npy --dx 2 --method gaussian | grep -q "true MI" && bad "truth shown for --dx 2 on a 3x3 file" || ok
row "truth for the file's own split" 0 "true MI" "$MIST" estimate data.npy --dx 3 --method gaussian
"$MIST" estimate data.npy --dx 2 --method gaussian --json | grep -q '"true_mi": null' && ok || bad "JSON truth for --dx 2"
# shipped models by short name, from a folder that is not the source tree; labels without paths
row "--weights mist:qr" 0 '"weights": "[^"]*/mist-qr.msgpack"' env -u MIST_WEIGHTS "$MIST" estimate data.npy --weights mist:qr --guard off --json
row "--weights point" 0 "^mist: [0-9.-]+ nats  \(n = 400" env -u MIST_WEIGHTS "$MIST" estimate data.npy --weights point --guard off
row "--weights mist:nosuch" nz "mist-nosuch.msgpack was not found" "$MIST" estimate data.npy --weights mist:nosuch
"$MIST" bench --suite smoke --n 60 --estimators "mist:qr,mist:$SRC/weights/mist-point.msgpack" --out bqr --quiet --no-plots 2>/dev/null &&
  [ "$(cut -d, -f11 bqr/results.csv | sort -u | tr '\n' ' ')" = "estimator mist:mist-point.msgpack mist:qr " ] && ok ||
  bad "bench short names and labels: $(cut -d, -f11 bqr/results.csv 2>&1 | sort -u | tr '\n' ' ')"
! grep -q "$SRC" bqr/results.csv && ok || bad "an absolute path in results.csv"
# --columns canonical: reordering, negating and swapping columns change no digit of the answer
"$MIST" gen normal-sparse-base --dims 3x4 --n 300 --seed 5 -o cc0.npy --quiet &&
  "$MIST" gen normal-sparse-base --dims 3x4 --n 300 --seed 5 --transform perm+negate+swap -o cc1.npy --quiet && ok || bad "gen for --columns"
c0=$(env -u MIST_WEIGHTS "$MIST" estimate cc0.npy --columns canonical --guard off | head -1 | sed 's/(n = .*//')
c1=$(env -u MIST_WEIGHTS "$MIST" estimate cc1.npy --columns canonical --guard off | head -1 | sed 's/(n = .*//')
a1=$(env -u MIST_WEIGHTS "$MIST" estimate cc1.npy --columns as_given --guard off | head -1 | sed 's/(n = .*//')
[ -n "$c0" ] && [ "$c0" = "$c1" ] && [ "$a1" != "$c1" ] && ok || bad "--columns canonical: '$c0' vs '$c1' (as given '$a1')"
row "--columns in the JSON" 0 '"columns": "canonical"' env -u MIST_WEIGHTS "$MIST" estimate cc1.npy --columns canonical --guard off --json
row "--columns bad value" nz "bad value for --columns: 'sideways'" "$MIST" estimate cc1.npy --columns sideways
row "--columns for a classical method" nz "apply to --method mist" "$MIST" estimate cc1.npy --columns canonical --method ksg1
# bench mist:...:guard gives what mist estimate gives (rotated columns read as given: the guard
# acts on some)
"$MIST" bench --suite smoke --n 200 --transform rotate --estimators "mist:qr:canon=0,mist:qr:canon=0:guard" --out bg --quiet --no-plots 2>/dev/null &&
  "$MIST" gen --suite smoke --n 200 --transform rotate -o sg >/dev/null 2>&1 && ok || bad "bench guard run"
gm=0 gd=0
for f in sg/*.npy; do
  id=$(basename "$f" .npy)
  js=$("$MIST" estimate "$f" --weights mist:qr --columns as_given --json)
  want=$(for k in estimate lower upper; do echo "$js" | grep -o "\"$k\": [^,}]*" | head -1 | cut -d' ' -f2; done | tr '\n' ' ')
  got=$(awk -F, -v id="$id" '$3 == id && $11 == "mist:qr:canon=0:guard" { print $12, $13, $14 }' bg/results.csv)
  raw=$(awk -F, -v id="$id" '$3 == id && $11 == "mist:qr:canon=0" { print $12, $13, $14 }' bg/results.csv)
  # to float32 rounding: OpenBLAS's AVX-512 (SkylakeX) sgemm gave the pairs model 6e-8 apart on
  # the two paths (equal bits with its Haswell kernels); a wrong fallback is off by far more
  awk -v a="$want" -v b="$got" 'BEGIN { split(a, x, " "); split(b, y, " "); for (i = 1; i <= 3; i++) if (x[i] - y[i] > 1e-6 || y[i] - x[i] > 1e-6) exit 1 }' && gm=$((gm + 1))
  [ "$got" != "$raw" ] && gd=$((gd + 1))
done
[ "$gm" -eq 6 ] && [ "$gd" -ge 1 ] && ok || bad "bench guard = mist estimate ($gm of 6 equal, $gd moved by the guard)"
# CSV from elsewhere: pandas' index, TSV, a delimiter, quoted numbers, column names
row "pandas index warned" 0 "warning: column 1 of pandas.csv holds 0, 1, 2, ... in order" "$MIST" estimate pandas.csv --dx 2 --method ksg1
row "pandas index left out by name" 0 "^$ref" "$MIST" estimate pandas.csv --x a,b --y c --method ksg1
row "quoted numbers" 0 "^$ref" "$MIST" estimate quoted.csv --dx 2 --method ksg1
row "TSV" 0 "^$ref" "$MIST" estimate t.tsv --dx 2 --method ksg1
row "--delimiter ;" 0 "^$ref" "$MIST" estimate semi.csv --dx 2 --method ksg1 --delimiter ';'
row "--x with an unknown name" nz "--x: 'd' is no column.*header names: a,b,c" "$MIST" estimate quoted.csv --x a,d --y c
# .npy in Fortran order and of integers; .npz
row "Fortran-order npy" 0 "^$ref" "$MIST" estimate fort.npy --dx 2 --method ksg1
row "integer npy" 0 "^ksg1: [0-9.]+ nats  \(n = 300, dx = 2, dy = 1\)" "$MIST" estimate ints.npy --dx 2 --method ksg1
row ".npz x and y" 0 "^$ref" "$MIST" estimate xy.npz --method ksg1
row "compressed .npz" nz "savez_compressed" "$MIST" estimate comp.npz --method ksg1
# --unit bits: the same estimate divided by ln 2, the truth too
nats=$("$MIST" estimate data.npy --method gaussian --json) && bits=$("$MIST" estimate data.npy --method gaussian --json --unit bits) &&
  /usr/bin/python3 -c '
import json, math, sys
n, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert b["unit"] == "bits" and n["unit"] == "nats"
for k in ("estimate", "true_mi"):
    assert abs(b[k] * math.log(2) - n[k]) < 1e-12, (k, n[k], b[k])
' "$nats" "$bits" && ok || bad "--unit bits: $nats / $bits"
row "--unit bits text" 0 "^gaussian: [0-9.-]+ bits .*true MI \(from the file's metadata\): [0-9.]+ bits" sh -c "\"$MIST\" estimate data.npy --method gaussian --unit bits | tr '\n' ' '"
# progress: shown on stderr (here from the start), a count of resamples; --quiet: nothing
row "bootstrap progress" 0 "estimate: ksg1 bootstrap: .*done in" env MIST_PROGRESS_AFTER=0 "$MIST" estimate data.npy --method ksg1 --bootstrap 30
"$MIST" estimate data.npy --method ksg1 --bootstrap 30 --quiet 2>q.err >/dev/null && [ ! -s q.err ] && ok || bad "--quiet still printed: $(cat q.err)"
MIST_PROGRESS_AFTER=0 "$MIST" estimate data.npy --method ksg1 --bootstrap 30 --json 2>/dev/null | /usr/bin/python3 -c 'import json, sys; json.load(sys.stdin)' && ok || bad "progress leaked into stdout"
row "validate progress" 0 "train validate, drawing 4 datasets: .*train validate: done in" sh -c "MIST_PROGRESS_AFTER=0 \"$MIST\" train validate \"$SRC/weights/mist-point.msgpack\" --count 4 2>&1 >/dev/null | tr '\r\n' '  '"
# a short mist info by default; --tensors and --meta for the rest
info=$("$MIST" info "$SRC/weights/mist-qr.msgpack") && [ "$(echo "$info" | wc -l)" -le 40 ] &&
  echo "$info" | grep -q "parameters in" && echo "$info" | grep -q "^trained on: n 10..500" &&
  echo "$info" | grep -q "^arch: .*D=" && ok || bad "short info: $(echo "$info" | head -5)"
[ "$("$MIST" info "$SRC/weights/mist-qr.msgpack" --tensors | wc -l)" -gt 60 ] && ok || bad "info --tensors"
"$MIST" info "$SRC/weights/mist-qr.msgpack" --meta | grep -q '^meta (JSON): {' && ok || bad "info --meta"

# bench: help, a smoke run, resume, errors, shards + merge, no gnuplot
B="ksg1:k=5,gaussian,histogram"
"$MIST" bench --help | grep -q -- "--estimators LIST" && ok || bad "bench --help"
"$MIST" --help | grep -q "mist bench" && ok || bad "bench in --help"
"$MIST" bench --suite smoke --estimators "$B" --bootstrap 20 --threads 2 --out bsm --quiet && ok || bad "bench smoke"
[ -s bsm/results.csv ] && [ -s bsm/summary.md ] && [ -s bsm/summary.json ] && [ -s bsm/run.json ] && ok || bad "bench files"
[ "$(($(wc -l < bsm/results.csv) - 1))" -eq 18 ] && ok || bad "bench rows = datasets x estimators"
grep -q "^| ksg1:k=5 | n=200 | 6 | 0 |" bsm/summary.md && ok || bad "bench summary table"
out=$("$MIST" bench --suite smoke --estimators "$B" --bootstrap 20 --out bsm 2>&1) && echo "$out" | grep -q "6 datasets already done" && ok || bad "bench resume: $out"
expect_fail "bench unknown estimator" "unknown estimator 'ksg3'" "$MIST" bench --suite smoke --estimators ksg1,ksg3 --out bx
expect_fail "bench option of another estimator" "does not apply to gaussian" "$MIST" bench --suite smoke --estimators gaussian:k=3 --out bx
expect_fail "bench bad option value" "bad value for 'k'" "$MIST" bench --suite smoke --estimators ksg1:k=zero --out bx
expect_fail "bench mist with two paths" "unknown mist option" "$MIST" bench --suite smoke --estimators mist:a.msgpack:b.msgpack --out bx
expect_fail "bench unknown suite" "unknown suite 'nosuch'" "$MIST" bench --suite nosuch --estimators ksg1 --out bx
expect_fail "bench no --out" "required" "$MIST" bench --suite smoke --estimators ksg1
expect_fail "bench bad shard" "--shard" "$MIST" bench --suite smoke --estimators ksg1 --out bx --shard 2/2
expect_fail "bench other settings" "other settings" "$MIST" bench --suite smoke --estimators "$B" --bootstrap 50 --out bsm
[ ! -e bx ] && ok || bad "bench errors left a folder"
"$MIST" bench --suite smoke --estimators gaussian --out nested/deeper/b --quiet --no-plots &&
  [ -s nested/deeper/b/results.csv ] && ok || bad "bench --out with missing parents"
"$MIST" bench --suite smoke --estimators "$B" --bootstrap 20 --out bsh --shard 1/2 --quiet &&
  "$MIST" bench --suite smoke --estimators "$B" --bootstrap 20 --out bsh --shard 0/2 --quiet &&
  "$MIST" bench merge bsh -o bm --quiet && ok || bad "bench shards + merge"
diff <(cut -d, -f1-18,20 bsm/results.csv) <(cut -d, -f1-18,20 bm/results.csv) >/dev/null && ok || bad "merged shards differ from one run"
out=$(PATH=/nonexistent "$MIST" bench merge bsm -o bnp 2>&1) && [ "$(echo "$out" | grep -c gnuplot)" -eq 1 ] &&
  [ -s bnp/summary.md ] && [ -s bnp/plots/plots.gp ] && [ ! -e bnp/plots/mse_vs_n.png ] && ok || bad "bench without gnuplot: $out"

# bench: transforms, the paper's score, and a user's Python estimator end to end (Debian's
# python3 with numpy; the test needs it rather than passing without it)
"$MIST" bench --suite smoke --estimators gaussian --transform none,perm,swap --score bootstrap:5 \
  --out btr --quiet --no-plots && ok || bad "bench --transform --score"
[ "$(($(wc -l < btr/results.csv) - 1))" -eq 18 ] && ok || bad "bench rows = datasets x transforms"
grep -q "under MI-preserving transforms" btr/summary.md && grep -q "over 5 bootstrap resamples" btr/summary.md &&
  ok || bad "bench transform table and score line"
expect_fail "bench unknown transform" "unknown transform 'twist'" "$MIST" bench --suite smoke --estimators gaussian --transform none,twist --out bx2
expect_fail "bench bad score" "--score" "$MIST" bench --suite smoke --estimators gaussian --score bootstrap:0 --out bx2
[ ! -e bx2 ] && ok || bad "bench option errors left a folder"
PY=/usr/bin/python3
if "$PY" -c 'import numpy' 2>/dev/null; then
  "$MIST" bench --suite smoke --estimators gaussian \
    --estimators "cmd:gauss-py=$PY $SRC/tools/example_estimator.py {file} {dx} {dy}" \
    --out bpy --quiet --no-plots && ok || bad "bench cmd: python estimator"
  # the script computes the same Gaussian MI as the library: equal estimates per dataset
  awk -F, 'NR > 1 { e[$3 "," $11] = $12; s[$3 "," $11] = $20 }
    END { n = 0; for (k in e) if (k ~ /,gaussian$/) { id = substr(k, 1, length(k) - 9);
          p = id ",cmd:gauss-py"; d = e[k] - e[p]; if (d < 0) d = -d;
          if (s[p] != "ok" || d > 1e-9) exit 1; n++ } exit n == 6 ? 0 : 1 }' bpy/results.csv &&
    ok || bad "cmd: python estimator rows: $(cut -d, -f11,12,20 bpy/results.csv | head -3)"
else
  bad "bench cmd: needs $PY with numpy (Debian's python3-numpy; scripts/deps.sh installs it)"
fi

# a stopped bench takes its cmd: commands with it (they run in process groups of their own,
# out of the terminal's Ctrl-C): SIGTERM here (a background job ignores SIGINT), same handler
MARK="4$$.5"
sleepers() { for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f" 2>/dev/null; echo; done | grep -c "^sleep $MARK "; }
"$MIST" bench --suite smoke --estimators "cmd:slow=sleep $MARK; echo 0.1" --out bkill --quiet \
  --no-plots --threads 2 & bpid=$!
for _ in $(seq 100); do [ "$(sleepers)" -ge 2 ] && break; sleep 0.1; done
started=$(sleepers)
kill -TERM "$bpid"; wait "$bpid"; brc=$?
for _ in $(seq 20); do [ "$(sleepers)" -eq 0 ] && break; sleep 0.1; done
[ "$started" -ge 2 ] && [ "$(sleepers)" -eq 0 ] && [ "$brc" -eq 143 ] && ok ||
  bad "bench stopped: $started commands, $(sleepers) left running, exit $brc"

# learned model commands: errors are clear (positive paths: test_parity, test_weights)
expect_fail "MIST_WEIGHTS missing" "cannot open '/nonexistent/m.msgpack'" env MIST_WEIGHTS=/nonexistent/m.msgpack "$MIST" estimate a.npy
expect_fail "info on data" "not a mist weights file" "$MIST" info a.npy
expect_fail "info missing" "nofile" "$MIST" info nofile.msgpack
expect_fail "convert garbage" "safetensors" "$MIST" convert a.npy -o conv.msgpack
[ -e conv.msgpack ] && bad "failed convert left a file" || ok
head -c 100 a.msgpack > trunc.msgpack
expect_fail "info truncated" "truncat|malformed|weights" "$MIST" info trunc.msgpack

# train: a tiny run stopped half-way, resumed, exported, used; errors
"$MIST" train --arch tiny --loss mse --batch 2 --steps 4 --val-count 2 --val-every 2 --out tr --stop-after 2 --quiet &&
  [ -s tr/checkpoint.msgpack ] && [ -s tr/train.csv ] && [ ! -e tr/model.msgpack ] && ok || bad "train --stop-after"
expect_fail "train over a checkpoint" "holds a checkpoint already" "$MIST" train --arch tiny --loss mse --steps 4 --out tr
"$MIST" train --resume tr --quiet && [ -s tr/model.msgpack ] && ok || bad "train --resume"
[ "$(tail -1 tr/train.csv | cut -d, -f1)" = 4 ] && ok || bad "train csv log"
"$MIST" train export tr -o tr-export.msgpack 2>/dev/null && "$MIST" info tr-export.msgpack | grep -q '^  metadist: ' && ok || bad "train export"
"$MIST" estimate a.npy --method mist --weights tr/model.msgpack >/dev/null && ok || bad "estimate with a trained model"
# the default model comes from $MIST_WEIGHTS when set; a point model gives no interval (of its
# own: the guard's fallback may give one)
out=$(MIST_WEIGHTS=tr/model.msgpack "$MIST" estimate a.npy --json --guard off) &&
  echo "$out" | grep -q '"weights": "tr/model.msgpack"' && echo "$out" | grep -q '"lower": null' && ok || bad "MIST_WEIGHTS: $out"
"$MIST" train --help | grep -q -- "--resume" && ok || bad "train --help"
# calibrate: a tiny quantile model; the output opens and carries its recalibration
"$MIST" train --arch tiny --loss pinball --batch 2 --steps 2 --val-count 2 --out trq --quiet &&
  out=$("$MIST" train calibrate trq/model.msgpack -o trq-cal.msgpack --count 16 --n-range 20-40 2>&1) &&
  echo "$out" | grep -q "^kept: " && "$MIST" info trq-cal.msgpack | grep -q '^  quantile_calibration: ' &&
  MIST_WEIGHTS=trq-cal.msgpack "$MIST" estimate a.npy --json | grep -q '"ci": 0.9' && ok || bad "train calibrate: $out"
"$MIST" train validate tr/model.msgpack --count 4 | grep -q "4 datasets of 'default'.*mse [0-9]" && ok || bad "train validate"
expect_fail "validate missing" "nofile" "$MIST" train validate nofile.msgpack
expect_fail "calibrate a point model" "point model" "$MIST" train calibrate tr/model.msgpack -o tx.msgpack
expect_fail "calibrate bad method" "bad value for --method" "$MIST" train calibrate trq/model.msgpack -o tx.msgpack --method nope
expect_fail "train unknown preset" "unknown arch preset 'huge'" "$MIST" train --arch huge --loss mse --out tx
expect_fail "train unknown arch key" "unknown arch key 'bogus'" "$MIST" train --arch tiny,bogus=3 --loss mse --out tx
expect_fail "train no loss" "--loss" "$MIST" train --arch tiny --out tx
expect_fail "train unknown metadist" "unknown meta-distribution 'nope'" "$MIST" train --arch tiny --loss mse --metadist nope --out tx
expect_fail "train bad arch" "D = 30 is not a multiple of H = 4" "$MIST" train --arch small,D=30 --loss mse --out tx
expect_fail "train resume nothing" "checkpoint" "$MIST" train --resume nodir
expect_fail "train export garbage" "not a valid checkpoint" "$MIST" train export a.msgpack -o tx.msgpack
[ ! -e tx ] && [ ! -e tx.msgpack ] && ok || bad "train errors left files"

# the shipped models: the default of `mist estimate`, each with a card, better than KSG
out=$(env -u MIST_WEIGHTS "$MIST" estimate a.npy --json) &&
  echo "$out" | grep -q '"weights": "[^"]*weights/mist-qr.msgpack"' &&
  echo "$out" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["quantile_conditioned"] and r["ci"] == 0.9, r
assert r["lower"] < r["estimate"] < r["upper"], r
assert [q["tau"] for q in r["quantiles"]] == [0.05, 0.5, 0.95], r' && ok || bad "shipped default model: $out"
out=$(env -u MIST_WEIGHTS "$MIST" estimate a.npy --dx 2) && echo "$out" | grep -q "90% interval" && ok || bad "estimate --dx: $out"
for w in "$SRC"/weights/*.msgpack; do
  [ -s "${w%.msgpack}.md" ] && "$MIST" info "$w" >/dev/null && ok || bad "no card or unreadable: $w"
done
# on bmi40 at n = 100 (suite seed 0) both shipped models beat ksg1 by MSE, and the QR model's
# 90% intervals cover at least 28 of the 39 tasks it takes (its 50x50 task is beyond 32 dims)
"$MIST" bench --suite bmi40 --n 100 --seeds 0-0 --quiet --no-plots --out shipped \
  --estimators "mist:point,mist:qr,ksg1" &&
  /usr/bin/python3 -c '
import json
s = json.load(open("shipped/summary.json"))["suites"][0]
e = {x["label"]: x["overall"] for x in s["estimators"]}
ksg = e["ksg1:k=5"]["mse"]
assert e["mist:point"]["mse"] < ksg and e["mist:qr"]["mse"] < ksg, e
assert e["mist:qr"]["n_ok"] == 39 and e["mist:qr"]["coverage"] >= 28 / 39, e' &&
  ok || bad "shipped models vs ksg1 on bmi40"

# the guard: y = x^2 - 1 + 0.1 N (MI 1.99, correlation 0), which the shipped model reads as ~0
# and KSG does not. Warnings on stderr, exit 0, the KSG answer with the model's still shown;
# --guard warn keeps the model's answer, --guard off prints it unchecked and untouched
/usr/bin/python3 -c '
import random
r = random.Random(5)
with open("square.csv", "w") as f:
    for _ in range(500):
        x = r.gauss(0, 1)
        f.write("%r,%r\n" % (x, x * x - 1 + 0.1 * r.gauss(0, 1)))'
out=$(env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --route off 2>guard.err) && ok || bad "guard: exit code"
grep -q "^mist: warning: the model's 90% interval \[[-0-9.]*, [-0-9.]*\] lies below KSG's 90% interval \[[0-9.]*, [0-9.]*\]: the data may be unlike the model's training data" guard.err &&
  grep -q "^mist: warning: KSG's estimate [0-9.]* \[[0-9.]*, [0-9.]*\] lies above the Gaussian copula's 90% interval \[[-0-9.]*, [-0-9.]*\]: a dependence that ranks miss" guard.err &&
  grep -q "^mist: warning: answering with KSG's estimate [0-9.]* and the 90% interval" guard.err &&
  [ "$(wc -l < guard.err)" -eq 3 ] && ok || bad "guard warnings: $(cat guard.err)"
echo "$out" | head -1 | grep -q "^mist: [0-9.]* nats (guard fallback: ksg1)  \[.*\] 90% interval" &&
  echo "$out" | sed -n 2p | grep -q "^model: .* nats (median)" && ok || bad "guard answer: $out"
env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --route off --json > g-fb.json 2>/dev/null &&
  env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --route off --json --guard warn > g-warn.json 2>/dev/null &&
  env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --route off --json --guard off > g-off.json 2>g-off.err &&
  "$MIST" estimate square.csv --dx 1 --method ksg1 --json > g-ksg.json && ok || bad "guard json runs"
/usr/bin/python3 -c '
import json
fb, warn, off, ksg = (json.load(open("g-%s.json" % k)) for k in ("fb", "warn", "off", "ksg"))
g = fb["guard"]
assert g["mode"] == "fallback" and g["status"] == "warn" and g["reasons"] == ["below_classical", "nonmonotone"], g
k, c = g["cross_check"]["ksg1"], g["cross_check"]["gaussian_copula"]
assert k["ok"] and k["estimate"] == ksg["estimate"] and k["lower"] < k["estimate"] < k["upper"], k
assert c["ok"] and c["bias_corrected"] and abs(c["estimate"]) < 0.05, c
assert k["lower"] > g["model"]["upper"] > g["model"]["lower"], g
f = g["fallback"]
assert f["answer"] == "ksg1" and f["applied"] and f["estimate"] == k["estimate"] > 1.2, f
assert (fb["estimate"], fb["lower"], fb["upper"], fb["ci"]) == (f["estimate"], f["lower"], f["upper"], 0.9), fb
# KSG above the copula (nonmonotone): the upper end KSG (1 + 7.9 n^-0.28 2^0.5), above the truth 1.99
assert f["lower"] == g["model"]["lower"] and f["upper"] == k["estimate"] * (1 + 7.9 * 500 ** -0.28 * 2 ** 0.5) > 1.99, f
assert g["trained"]["n"] == [10, 500] and g["trained"]["metadist"] == "default" and g["discrete"] is None, g
# warn: the model answer at the top, the same guard report, fallback not applied
assert warn["guard"]["fallback"]["applied"] is False and warn["estimate"] == g["model"]["estimate"], warn
# off: no guard, the model answer exactly
assert "guard" not in off and off["quantiles"] == fb["quantiles"], off
assert (off["estimate"], off["lower"], off["upper"]) == (g["model"]["estimate"], g["model"]["lower"], g["model"]["upper"]), off
' && [ ! -s g-off.err ] && ok || bad "guard json fields"
w=$(env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --route off --guard warn 2>g-warn.err) &&
  o=$(env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --route off --guard off 2>/dev/null) &&
  [ "$w" = "$o" ] && echo "$o" | grep -q "^mist: .* (median)  \[.*\] 90% interval (quantiles 0.05, 0.95)  (n = 500, dx = 1, dy = 1)$" &&
  grep -q "keeping the model's answer (--guard warn)" g-warn.err && ok || bad "guard warn / off text: $w / $o"
# jointly Gaussian rows (a.npy): a note, and the Gaussian MI of the rows answers, its interval
# covering the model's
out=$(env -u MIST_WEIGHTS "$MIST" estimate a.npy --json 2>g-a.err) &&
  grep -q "^mist: note: the rows look jointly Gaussian (Mardia's tests" g-a.err &&
  echo "$out" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
g = r["guard"]
G = g["cross_check"]["gaussian"]
assert g["reasons"] == ["gaussian_fit"] and g["fallback"]["answer"] == "gaussian", g
assert min(g["cross_check"]["normality_p"].values()) > 0.01, g
assert r["estimate"] == G["estimate"] and G["estimate"] >= g["cross_check"]["ksg1"]["estimate"], r
assert r["lower"] == min(G["lower"], g["model"]["lower"]) and r["upper"] == max(G["upper"], g["model"]["upper"]), r' &&
  ok || bad "guard on Gaussian data: $out $(cat g-a.err)"
# in-distribution data, not Gaussian: no warning, the model's answer untouched
"$MIST" gen student-dense-base --dims 2x3 --n 500 --seed 7 -o st.npy --quiet &&
out=$(env -u MIST_WEIGHTS "$MIST" estimate st.npy --json 2>g-a.err) && [ ! -s g-a.err ] &&
  echo "$out" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
g = r["guard"]
assert g["status"] == "ok" and g["reasons"] == [] and g["fallback"] is None, g
assert r["estimate"] == g["model"]["estimate"] and r["lower"] == g["model"]["lower"], r' &&
  ok || bad "guard on in-distribution data: $out $(cat g-a.err)"
# discrete columns and n outside the trained range are reasons too
/usr/bin/python3 -c '
import random
r = random.Random(2)
with open("binary.csv", "w") as f:
    for _ in range(300):
        x = r.randint(0, 1)
        f.write("%d,%r\n" % (x, x + 0.3 * r.gauss(0, 1)))'
env -u MIST_WEIGHTS "$MIST" estimate binary.csv --dx 1 >/dev/null 2>g-bin.err &&
  grep -q "^mist: warning: column x1 takes only 2 distinct values" g-bin.err && ok || bad "guard discrete: $(cat g-bin.err)"
# every column discrete: the guard answers with the table's plug-in, the same number as
# --method discrete; that method refuses continuous data with a message
/usr/bin/python3 -c '
import random
r = random.Random(4)
with open("bsc.csv", "w") as f:
    for _ in range(400):
        x = r.randint(0, 2)
        f.write("%d,%d\n" % (x, x if r.random() < 0.8 else r.randint(0, 2)))'
gd=$(env -u MIST_WEIGHTS "$MIST" estimate bsc.csv --dx 1 --json 2>g-bsc.err)
pd=$("$MIST" estimate bsc.csv --dx 1 --method discrete --json 2>/dev/null)
printf '%s\n%s\n' "$gd" "$pd" | /usr/bin/python3 -c '
import json, sys
g, p = (json.loads(l) for l in sys.stdin.read().splitlines())
f = g["guard"]["fallback"]
assert f["answer"] == "discrete" and f["applied"] and g["estimate"] == p["estimate"], (f, p)
assert f["lower"] < p["estimate"] < f["upper"] and g["lower"] == f["lower"], f' &&
  grep -q "every column is discrete: answering with the plug-in MI of the discrete table" g-bsc.err &&
  ok || bad "guard all-discrete: $gd / $pd $(cat g-bsc.err)"
row "--method discrete on continuous data" nz "distinct rows" "$MIST" estimate a.npy --method discrete
"$MIST" gen normal-dense-base --dims 2x2 --n 600 --seed 3 -o n600.npy --quiet &&
  env -u MIST_WEIGHTS "$MIST" estimate n600.npy --route off >/dev/null 2>g-n.err &&
  grep -q "^mist: warning: n = 600 is outside the range the model was trained on (10..500)" g-n.err &&
  ok || bad "guard n range: $(cat g-n.err)"
# row chunks: n = 600 is above the shipped model's 500, so the default chunks act; 0 turns them
# off (another answer), 600 or more rows per chunk is one attention (the same answer as 0)
c500=$(env -u MIST_WEIGHTS "$MIST" estimate n600.npy --guard off --json 2>/dev/null)
c0=$(env -u MIST_WEIGHTS "$MIST" estimate n600.npy --guard off --json --row-chunk 0 2>/dev/null)
c600=$(env -u MIST_WEIGHTS "$MIST" estimate n600.npy --guard off --json --row-chunk 600 2>/dev/null)
chunk_q() { echo "$1" | grep -o '"quantiles": \[[^]]*\]'; }
echo "$c500" | grep -q '"row_chunk": 500' && echo "$c0" | grep -q '"row_chunk": 0' &&
  [ -n "$(chunk_q "$c0")" ] && [ "$(chunk_q "$c0")" = "$(chunk_q "$c600")" ] && [ "$(chunk_q "$c0")" != "$(chunk_q "$c500")" ] &&
  ok || bad "--row-chunk: '$(chunk_q "$c500")' / '$(chunk_q "$c0")' / '$(chunk_q "$c600")'"
row "--row-chunk bad value" nz "row-chunk" "$MIST" estimate n600.npy --row-chunk -3
row "--row-chunk for a classical method" nz "apply to --method mist" "$MIST" estimate n600.npy --method ksg1 --row-chunk 100
# the route: the shipped mist-qr hands square.csv (KSG reads more MI than it was trained on at
# 1 x 1) and rotated columns (the dependence spread over all column pairs: kappa small) to
# mist-pairs, says so on stderr and in the JSON, and answers nearer the truth than alone
env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 --json > r-sq.json 2>/dev/null &&
  env -u MIST_WEIGHTS "$MIST" estimate square.csv --dx 1 > /dev/null 2>r-sq.err &&
  grep -q "^mist: note: answered by the second model mist-pairs.msgpack: the classical cross-checks read more MI" r-sq.err &&
  "$MIST" gen normal-2pair-base --dims 5x5 --n 400 --seed 4 --transform rotate -o rot.npy --quiet &&
  env -u MIST_WEIGHTS "$MIST" estimate rot.npy --json > r-rot.json 2>/dev/null &&
  env -u MIST_WEIGHTS "$MIST" estimate rot.npy --json --route off > r-rot-off.json 2>/dev/null &&
  /usr/bin/python3 -c '
import json
sq, rot, off, alone = (json.load(open(f)) for f in ("r-sq.json", "r-rot.json", "r-rot-off.json", "g-fb.json"))
r = sq["route"]
assert r["answered_by"] == "second" and r["second_model"] == "mist-pairs.msgpack" and r["reason"] == "mi_range", r
assert r["kappa"] == 1.0 and r["kappa_min"] == 0.6, r
assert sq["guard"]["trained"]["metadist"] == "broad2", sq["guard"]
assert abs(sq["estimate"] - 1.99) < abs(alone["guard"]["model"]["estimate"] - 1.99), (sq, alone)
r = rot["route"]
assert r["answered_by"] == "second" and r["reason"] == "kappa" and r["kappa"] < 0.6, r
assert "route" not in off, off
truth = rot["true_mi"]
assert abs(rot["estimate"] - truth) < abs(off["guard"]["model"]["estimate"] - truth), (rot, off)
' && ok || bad "route: $(cat r-sq.err)"
# the route's arbiter: a Gaussian mixture (3 x 2, n = 500, MI 0.98) whose dependence kappa finds
# spread over many column pairs, read by mist-qr (and the copula) far closer than by mist-pairs
# (1.77): mist-qr keeps it, says so, and its median sits inside mist-pairs' interval moved to it
"$MIST" gen mixture-random-base --dims 3x2 --n 500 --seed 5750257382041349160 -o arb.npy --quiet &&
  env -u MIST_WEIGHTS "$MIST" estimate arb.npy --json > r-arb.json 2> r-arb.err &&
  env -u MIST_WEIGHTS "$MIST" estimate arb.npy > /dev/null 2> r-arb-text.err &&
  grep -q "^mist: note: kappa would hand these data to the second model mist-pairs.msgpack" r-arb-text.err &&
  "$MIST" estimate arb.npy --weights "$SRC/weights/mist-pairs.msgpack" --json > r-arb-pairs.json 2>/dev/null &&
  "$MIST" estimate arb.npy --weights "$SRC/weights/mist-pairs.msgpack" --guard off --json > r-arb-pq.json 2>/dev/null &&
  env -u MIST_WEIGHTS "$MIST" estimate arb.npy --route off --guard off --json > r-arb-qr.json 2>/dev/null &&
  /usr/bin/python3 -c '
import json
a, p, pq, q = (json.load(open(f)) for f in ("r-arb.json", "r-arb-pairs.json", "r-arb-pq.json", "r-arb-qr.json"))
r = a["route"]
assert r["answered_by"] == "first" and r["reason"] == "arbiter" and r["kappa"] < r["kappa_min"], r
assert r["arbiter"] > 0, r
t = a["true_mi"]
assert abs(a["estimate"] - t) < abs(p["estimate"] - t), (a, p)
assert a["estimate"] == q["estimate"], (a, q)
assert a["lower"] == min(pq["lower"], q["estimate"]) and a["upper"] == max(pq["upper"], q["estimate"]), (a, pq, q)
' && ok || bad "route arbiter: $(cat r-arb.err)"
# mist train route: the second model found among the shipped ones; kinds must match
"$MIST" train route "$SRC/weights/mist-qr.msgpack" --to "$SRC/weights/mist-pairs.msgpack" --kappa 0.3 -o rq.msgpack --quiet &&
  "$MIST" info rq.msgpack | grep -q 'route_kappa: "0.3"' && ok || bad "train route"
expect_fail "train route kinds" "both models must give quantiles" "$MIST" train route "$SRC/weights/mist-point.msgpack" --to "$SRC/weights/mist-pairs.msgpack" --kappa 0.5 -o rp.msgpack
expect_fail "train route kappa" "want a number in \\[0, 1\\]" "$MIST" train route "$SRC/weights/mist-qr.msgpack" --to "$SRC/weights/mist-pairs.msgpack" --kappa 2 -o rp.msgpack
expect_fail "train route arbiter" "want a number in \\(0, 1\\]" "$MIST" train route "$SRC/weights/mist-qr.msgpack" --to "$SRC/weights/mist-pairs.msgpack" --kappa 0.5 --arbiter 0 -o rp.msgpack
"$MIST" train route "$SRC/weights/mist-qr.msgpack" --to "$SRC/weights/mist-pairs.msgpack" --kappa 0.5 --arbiter 0.25 -o ra.msgpack --quiet &&
  "$MIST" info ra.msgpack | grep -q 'route_arbiter: "0.25"' &&
  "$MIST" train route ra.msgpack --to "$SRC/weights/mist-pairs.msgpack" --kappa 0.5 -o rb.msgpack --quiet &&
  "$MIST" info rb.msgpack | grep -q 'route_arbiter: "0"' && ok || bad "train route --arbiter"
[ ! -e rp.msgpack ] && ok || bad "train route wrote a refused file"
expect_fail "route bad value" "bad value for --route: 'maybe' \\(want on or off\\)" "$MIST" estimate a.npy --route maybe
expect_fail "guard bad mode" "bad value for --guard: 'maybe' \\(want fallback, warn or off\\)" "$MIST" estimate a.npy --guard maybe
expect_fail "guard with a classical method" "--guard apply to --method mist" "$MIST" estimate a.npy --method ksg1 --guard warn

echo "cli: $pass passed, $fail failed"
# the scratch folder stays for a look when something failed
[ "$fail" -eq 0 ] && cd / && rm -rf "$WORK"
[ "$fail" -eq 0 ]
