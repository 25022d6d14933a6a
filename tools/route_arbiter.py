#!/usr/bin/python3
"""Prototype of the route's arbiter (infer/route.c, ARBITER) on suites the bars do not score.

usage: tools/route_arbiter.py LIBMIST GENDIR RUNDIR FIRST SECOND [RATIO...]

GENDIR holds `mist gen --suite S --seeds 3-3 --transform T -o GENDIR/S_T` folders (S = imd,
oomd; T = none, rotate, flow) and nf_none (new-families); RUNDIR holds the `mist bench` runs
over the same data (RUNDIR/s3-imd, s3-oomd, nf3) with FIRST and SECOND unguarded (labels such
as mist:mist-qr.msgpack:route=0 and mist:mist-pairs.msgpack) and ksg1. For the datasets kappa
routes (kappa < 0.6, n <= 500, no tied values) it prints, per suite, transform and n-bucket,
the summed squared error of the unguarded answers when each RATIO (default 0.5 0.7 1.0) decides:
the first model's when its median is less than RATIO times as far from the bias-corrected
copula (mist_guard_gaussian_copula) as the second's, unless KSG's estimate lies above the
copula's 90% upper end. kappa and the copula come from the library itself."""
import collections
import csv
import ctypes
import math
import os
import sys

import numpy as np

Z = 1.6448536269514722


def cross_checks(lib, gendir):
    dbl = ctypes.POINTER(ctypes.c_double)
    kap = lib.mist_route_kappa
    kap.restype = ctypes.c_int
    kap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, dbl,
                    ctypes.c_void_p]
    cop = lib.mist_guard_gaussian_copula
    cop.restype = ctypes.c_int
    cop.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, dbl, dbl, dbl,
                    ctypes.c_void_p]
    out = {}
    for sub in sorted(os.listdir(gendir)):
        man = os.path.join(gendir, sub, "manifest.csv")
        if not os.path.isfile(man):
            continue
        for r in csv.DictReader(open(man)):
            x = np.ascontiguousarray(np.load(os.path.join(gendir, sub, r["file"])), np.float64)
            n, d = x.shape
            dx = int(r["dx"])
            err = ctypes.create_string_buffer(1024)
            k, v, b, se = (ctypes.c_double() for _ in range(4))
            if kap(x.ctypes.data, n, dx, d - dx, ctypes.byref(k), err):
                continue
            ties = any(len(np.unique(x[:, j])) < n for j in range(d))
            ok = cop(x.ctypes.data, n, dx, d - dx, ctypes.byref(v), ctypes.byref(b),
                     ctypes.byref(se), err) == 0
            out[(sub, r["id"])] = (k.value, ties, v.value - b.value if ok else math.nan,
                                   se.value if ok else math.nan)
    return out


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    lib, gendir, rundir, first, second = sys.argv[1:6]
    ratios = [float(a) for a in sys.argv[6:]] or [0.5, 0.7, 1.0]
    xc = cross_checks(ctypes.CDLL(lib), gendir)
    rows = collections.defaultdict(dict)
    for suite, folder in (("imd", "s3-imd"), ("oomd", "s3-oomd"), ("nf", "nf3")):
        for r in csv.DictReader(open(os.path.join(rundir, folder, "results.csv"))):
            if r["estimator"] in (first, second, "ksg1:k=5"):
                rows[(f"{suite}_{r['transform']}", r["id"])][r["estimator"]] = r
    sse = collections.defaultdict(lambda: collections.defaultdict(float))
    count = collections.Counter()
    for key, e in rows.items():
        if key not in xc or first not in e or second not in e or "ksg1:k=5" not in e:
            continue
        kappa, ties, cu, cse = xc[key]
        q, p = float(e[first]["estimate"]), float(e[second]["estimate"])
        mi, n = float(e[first]["mi"]), int(e[first]["n"])
        if not (kappa < 0.6 and n <= 500 and not ties):
            continue
        ksg = float(e["ksg1:k=5"]["estimate"] or "nan")
        cell = (key[0], 0 if n < 100 else 1 if n < 300 else 2)
        count[cell] += 1
        sse[cell]["second"] += (p - mi) ** 2
        sse[cell]["first"] += (q - mi) ** 2
        for a in ratios:
            keep = (not math.isnan(cu) and not ksg > cu + Z * cse
                    and abs(q - cu) < a * abs(p - cu))
            sse[cell][a] += ((q if keep else p) - mi) ** 2
    cols = ["second", "first"] + ratios
    print("| suite_transform | n-bucket | sets | " + " | ".join(map(str, cols)) + " |")
    print("|---|--:|--:|" + "--:|" * len(cols))
    for cell in sorted(sse):
        print(f"| {cell[0]} | {cell[1]} | {count[cell]} | "
              + " | ".join("%.1f" % sse[cell][c] for c in cols) + " |")


if __name__ == "__main__":
    main()
