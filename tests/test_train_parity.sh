#!/bin/sh
# PyTorch parity of the C trainer: the tiny preset, the same initial weights and batches, 10 steps
# of AdamW (weight decay on matrices, clipping, warm-up + cosine) in C (`mist train
# --dump-batches`) and in PyTorch autograd + torch.optim.AdamW (tests/reference/train_torch.py).
# Every step's loss (computed before that step's update, so it carries every earlier update) and
# every prediction must agree within 1e-4 relative (float32 both sides; observed ~1e-6).
#
# usage: test_train_parity.sh MIST WORKDIR     Exits 77 (skipped) when python3 has no torch.
set -u
MIST=${1:?usage: test_train_parity.sh MIST WORKDIR}
WORK=${2:?usage: test_train_parity.sh MIST WORKDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    echo "train parity: SKIP: $PY cannot import torch and numpy"
    exit 77
fi
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
fail=0
for loss in mse pinball; do
    echo "== $loss"
    "$MIST" train --arch tiny --loss "$loss" --batch 4 --steps 10 --warmup 3 --lr 3e-3 --wd 0.1 \
        --clip 0.5 --metadist default --seed 5 --val-count 0 --quiet \
        --dump-batches "$WORK/$loss/dump" --dump-steps 10 --out "$WORK/$loss/run" || { fail=1; continue; }
    "$PY" "$HERE/reference/train_torch.py" "$WORK/$loss/dump" --tol 1e-4 || fail=1
done
[ "$fail" -eq 0 ] && echo "train parity: OK" || echo "train parity: FAILED"
exit "$fail"
