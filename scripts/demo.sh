#!/usr/bin/env bash
# The main job on the shipped defaults: install, build, generate a dataset with known MI and
# estimate it. (Estimators arrive with the classical/inference milestones; until then the demo
# generates and reports the ground truth.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target mist
mkdir -p out
./build/mist gen normal-sparse-wiggly --dims 3x3 --n 1000 --seed 1 --param K=2 --param strength=1.5 \
  -o out/demo.npy
echo "metadata (out/demo.json):"
cat out/demo.json
