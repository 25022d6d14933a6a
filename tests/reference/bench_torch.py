#!/usr/bin/python3
"""Single-thread PyTorch latency of one MIST estimate with the official-size network (random
weights), the figure the C engine is compared with (issue 4: n = 100, 500, 2000; dx = dy = 5).

usage: bench_torch.py [--reps R] [--n 100,500,2000] [--d 5] [--ckpt DIR]

--ckpt DIR loads DIR/{mist,mist-qr}/model.safetensors (e.g. a make_parity.py OUTDIR) so both
engines run the same weights; otherwise the models are built from the same seeds as
make_parity.py (identical weights).  Point model: one full forward.  QR model: one encoder
pass + rho for 3 taus (0.05, 0.5, 0.95).  float32, torch.set_num_threads(1) and
OPENBLAS_NUM_THREADS=1 (see below),
torch.inference_mode, eval; best of R timed runs after 2 warm-up runs.  Both attention
implementations are timed: "explicit" (this project's) and "torch" (nn.MultiheadAttention
called as the official code calls it, which uses PyTorch's fused fast path for
self-attention); the faster is the PyTorch figure.
"""

import argparse
import os
import sys
import time

# Debian's python3-torch does its matrix products in OpenBLAS (openblas-pthread), whose own
# thread pool ignores torch.set_num_threads(1) (a 1024x1024 matmul leaves 2 threads in the
# process on a 2-core machine); pin it before torch loads so the figure is truly single-thread.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mist_torch as mt  # noqa: E402

TAUS3 = [0.05, 0.5, 0.95]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", default="100,500,2000")
    ap.add_argument("--d", type=int, default=5)
    ap.add_argument("--ckpt", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)

    models = {}
    for name, qc, seed in (("mist", False, 1), ("mist-qr", True, 2)):
        if a.ckpt:
            models[name] = mt.load_checkpoint(os.path.join(a.ckpt, name))
        else:
            models[name] = mt.build(quantile_conditioned=qc, seed=seed)
        models[name].float().eval()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}, float32, "
          f"{mt.n_params(models['mist'])} parameters, best of {a.reps} after 2 warm-up runs")

    rng = np.random.default_rng(7)
    print(f"{'n':>6s} {'dx=dy':>5s} {'model':8s} {'explicit ms':>12s} {'nn.MHA ms':>10s} "
          f"{'best ms':>9s}")
    for n in [int(s) for s in a.n.split(",")]:
        x = rng.standard_normal((n, a.d))
        y = 0.5 * x + rng.standard_normal((n, a.d))
        for name, m in models.items():
            taus = TAUS3 if m.core.quantile_conditioned else None
            times = {}
            for impl in ("explicit", "torch"):
                mt.Attention.impl = impl
                best = float("inf")
                with torch.inference_mode():
                    for r in range(a.reps + 2):
                        t0 = time.perf_counter()
                        m.estimate(x, y, taus)   # packing is inside the timed region
                        dt = time.perf_counter() - t0
                        if r >= 2:
                            best = min(best, dt)
                times[impl] = best * 1e3
            mt.Attention.impl = "explicit"
            print(f"{n:6d} {a.d:5d} {name:8s} {times['explicit']:12.2f} {times['torch']:10.2f} "
                  f"{min(times.values()):9.2f}", flush=True)


if __name__ == "__main__":
    main()
