#!/usr/bin/env bash
# The main job on the shipped defaults: install, build, generate a dataset with known MI,
# estimate it and print the estimates beside the truth. The learned model joins once trained
# weights ship in weights/ (until then: KSG and the Gaussian-copula estimator).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target mist
mkdir -p out
./build/mist gen normal-sparse-wiggly --dims 3x3 --n 1000 --seed 1 --param K=2 --param strength=1.5 \
  -o out/demo.npy
./build/mist estimate out/demo.npy --method ksg1 --k 5 --bootstrap 100 --ci 0.9
./build/mist estimate out/demo.npy --method gaussian --copula --bootstrap 100 --ci 0.9
for w in weights/mist-qr.msgpack weights/mist-point.msgpack; do
  [ -f "$w" ] && ./build/mist estimate out/demo.npy --method mist --weights "$w"
done
true
