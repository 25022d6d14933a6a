#!/usr/bin/env bash
# The fuzz command: builds the libFuzzer targets with clang (ASan+UBSan) and runs each loader's
# fuzzer for a bounded time (default 60 s each; FUZZ_SECONDS=N to change). Exits non-zero on a
# crash, leak or sanitizer report; the input is left as crash-* in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
if ! command -v clang >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends clang libclang-rt-14-dev
fi
CC=clang cmake -S . -B build-fuzz -DMIST_FUZZ=ON -DMIST_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_weights fuzz_safetensors fuzz_checkpoint fuzz_readers fuzz_seeds mist
cd build-fuzz
rm -rf corpus && ./fuzz_seeds corpus >/dev/null
./fuzz_weights -max_total_time="$secs" -max_len=32768 -print_final_stats=1 corpus/weights 2>&1 | tail -5
./fuzz_safetensors -max_total_time="$secs" -max_len=32768 -print_final_stats=1 corpus/safetensors 2>&1 | tail -5
# a seed checkpoint: one step of a very small model
rm -rf ckseed && mkdir -p corpus/checkpoint &&
  ./mist train --arch tiny,D=4,H=1,ff=4,n_inds=1,n_seeds=1,rho_hidden=2,max_d=2 --loss mse \
    --batch 1 --steps 1 --val-count 0 --out ckseed --quiet &&
  cp ckseed/checkpoint.msgpack corpus/checkpoint/seed.msgpack
./fuzz_checkpoint -max_total_time="$secs" -max_len=32768 -print_final_stats=1 corpus/checkpoint 2>&1 | tail -5
# the file readers: seeds of every format from `mist gen` (first byte: the reader)
rm -rf rdseed && mkdir -p rdseed corpus/readers &&
  ./mist gen --suite smoke --n 20 -o rdseed/suite --quiet &&
  ./mist gen normal-dense-base --dims 1x1 --n 5 -o rdseed/d.csv --quiet &&
  ./mist gen normal-dense-base --dims 1x1 --n 5 -o rdseed/d.msgpack --quiet &&
  { printf '\000'; cat rdseed/suite/$(ls rdseed/suite | grep -m1 '\.npy$'); } > corpus/readers/npy &&
  { printf '\001'; cat rdseed/d.csv; } > corpus/readers/csv &&
  { printf '\003'; cat rdseed/d.msgpack; } > corpus/readers/msgpack &&
  { printf '\004'; cat rdseed/suite/$(ls rdseed/suite | grep -m1 '\.npy\.json$'); } > corpus/readers/sidecar &&
  { printf '\005'; cat rdseed/suite/manifest.csv; } > corpus/readers/manifest
/usr/bin/python3 -c "import numpy as np; np.savez('rdseed/d.npz', x=np.zeros((3, 1)), y=np.ones((3, 2)))" \
  2>/dev/null && { printf '\002'; cat rdseed/d.npz; } > corpus/readers/npz || true
./fuzz_readers -max_total_time="$secs" -max_len=8192 -print_final_stats=1 corpus/readers 2>&1 | tail -5
echo "fuzz: all four targets ran ${secs} s without a finding"
