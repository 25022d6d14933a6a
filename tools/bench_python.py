#!/usr/bin/env python3
"""Per-call time of mist from Python against the C library alone, the mist command and
scikit-learn's mutual_info_regression, on one dataset (default n = 500, 3x3).

usage: python3 tools/bench_python.py [--build DIR] [--n N] [--dims D] [--reps R]

DIR is a build tree with libmist.so, mist and bench_infer (default: build). Times are the best
and the median of R calls (default 50) after a warm-up call (the best is the steadier figure on
a shared machine); every figure is one thread. Prints a table and the ratios of the best times
to the C library's.
"""
import argparse
import ctypes
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def per_call(fn, reps):
    fn()  # warm-up: opens the model, allocates scratch memory
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--dims", type=int, default=3)
    ap.add_argument("--reps", type=int, default=50)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("MIST_LIB", os.path.join(build, "libmist.so"))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import mist
    from mist import _lib, _model

    d = a.dims
    x, y, mi = mist.gen("normal-2pair-base", a.n, d, d, seed=1)
    rows = []  # (label, seconds per call)

    # the C library alone: bench_infer on the same model (forward pass only, no guard)
    weights = mist.default_model_path()
    exe = os.path.join(build, "bench_infer")
    if os.path.exists(exe):
        out = subprocess.run([exe, "--weights", weights, "--dx", str(d), "--reps", "31",
                              str(a.n)], capture_output=True, text=True, check=True).stdout
        m = re.search(r"^\s*%d\s+([\d.]+)\s+([\d.]+)" % a.n, out, re.M)
        rows.append(("C library: mist_model_estimate (bench_infer)",
                     (float(m.group(1)) / 1e3, float(m.group(2)) / 1e3)))
    # the same call through ctypes, no Python-side work: the binding's floor
    data = np.ascontiguousarray(np.hstack([x, y]))
    mdl = _model.get(weights)
    L = _lib.lib()
    taus = np.array([0.05, 0.5, 0.95])
    o = np.zeros(3)
    err = _lib.Err()
    raw = lambda: L.mist_model_estimate(mdl.handle, _lib.doubles(data), a.n, d, d,
                                        _lib.doubles(taus), 3, _lib.doubles(o),
                                        ctypes.byref(err))
    rows.append(("ctypes: mist_model_estimate, 3 quantiles", per_call(raw, a.reps)))
    rows.append(("mist.estimate(x, y, guard='off')",
                 per_call(lambda: mist.estimate(x, y, guard="off"), a.reps)))
    rows.append(("mist.estimate(x, y)  (default: guard on)",
                 per_call(lambda: mist.estimate(x, y, warn=False), a.reps)))
    rows.append(("mist.estimate(x, y, method='ksg')",
                 per_call(lambda: mist.estimate(x, y, method="ksg"), a.reps)))
    rows.append(("mist.estimate(x, y, method='gaussian:copula')",
                 per_call(lambda: mist.estimate(x, y, method="gaussian:copula"), a.reps)))

    # the command: a file written, `mist estimate FILE --json` in a subprocess, JSON parsed
    cli = os.path.join(build, "mist")
    tmp = tempfile.mkdtemp(prefix="bench-python-")
    try:
        f = os.path.join(tmp, "d.npy")

        def via_cli():
            np.save(f, data)
            r = subprocess.run([cli, "estimate", f, "--dx", str(d), "--json"],
                               capture_output=True, text=True, check=True)
            return r.stdout
        rows.append(("CLI: np.save + `mist estimate --json` + parse",
                     per_call(via_cli, max(5, a.reps // 5))))
    finally:
        shutil.rmtree(tmp)

    # per-feature MI of the 3 X columns with y1: mist vs scikit-learn
    rows.append(("mist.mutual_info(x, y[:, 0])  (%d columns)" % d,
                 per_call(lambda: mist.mutual_info(x, y[:, 0]), a.reps)))
    rows.append(("mist.mutual_info(x, y[:, 0], method='ksg')",
                 per_call(lambda: mist.mutual_info(x, y[:, 0], method="ksg"), a.reps)))
    try:
        from sklearn.feature_selection import mutual_info_regression
        rows.append(("sklearn mutual_info_regression(x, y[:, 0])",
                     per_call(lambda: mutual_info_regression(x, y[:, 0], random_state=0),
                              a.reps)))
    except ImportError:
        print("(scikit-learn not installed: its row is left out)")

    base = rows[0][1][0]
    print("n = %d, dx = dy = %d, one thread, %d calls; OpenBLAS %s kernels"
          % (a.n, d, a.reps, L.mist_infer_blas_core().decode()))
    print("%-55s %9s %9s %8s" % ("", "best ms", "median ms", "x C lib"))
    for label, (best, med) in rows:
        print("%-55s %9.3f %9.3f %8.2f" % (label, 1e3 * best, 1e3 * med, best / base))


if __name__ == "__main__":
    main()
