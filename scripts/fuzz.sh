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
cmake --build build-fuzz -j"$(nproc)" --target fuzz_weights fuzz_safetensors fuzz_checkpoint fuzz_seeds mist
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
echo "fuzz: all three targets ran ${secs} s without a finding"
