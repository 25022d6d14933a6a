#!/usr/bin/python3
"""Choose the route's kappa threshold (infer/route.c) on suites the bars do not score.

usage: tools/route_threshold.py LIBMIST GENDIR RUNDIR [FIRST SECOND]

GENDIR holds `mist gen --suite S --seeds 3-3 --transform T -o GENDIR/S_T` folders (S = imd or
oomd; T = none, rotate, flow: kappa is unchanged by perm and swap); RUNDIR holds
`mist bench ... --out RUNDIR/S` runs over the same suites and transforms with the two models
(labels FIRST, SECOND; default the shipped mist-qr and the pairs candidate, both :guard) and
ksg1, gaussian, gaussian:copula. For each threshold theta, every dataset with kappa < theta
takes SECOND's row, the rest FIRST's; printed: the bars of the robust-models issue this mix
meets on those suites (per transform and n-bucket MSE at most half the best classical one's,
90% coverage in 0.85-0.95). kappa comes from the library itself (mist_route_kappa)."""
import collections
import csv
import ctypes
import os
import sys

import numpy as np

FIRST = "mist:weights/mist-qr.msgpack:guard"
SECOND = "mist:out/cand/pairs-sum-2-s2000.msgpack:guard"
CLASSICAL = ["ksg1:k=5", "gaussian", "gaussian:copula"]
TRANSFORMS = ["none", "perm", "rotate", "swap", "flow"]


def kappas(lib, gendir):
    f = lib.mist_route_kappa
    f.restype = ctypes.c_int
    f.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                  ctypes.POINTER(ctypes.c_double), ctypes.c_void_p]
    out = {}
    for sub in sorted(os.listdir(gendir)):
        if not os.path.isfile(os.path.join(gendir, sub, "manifest.csv")):
            continue
        tr = sub.rsplit("_", 1)[-1]
        for r in csv.DictReader(open(os.path.join(gendir, sub, "manifest.csv"))):
            x = np.ascontiguousarray(np.load(os.path.join(gendir, sub, r["file"])), np.float64)
            dx = int(r["dx"])
            k, err = ctypes.c_double(), ctypes.create_string_buffer(1024)
            if f(x.ctypes.data, x.shape[0], dx, x.shape[1] - dx, ctypes.byref(k), err) == 0:
                out[(r["id"], tr)] = k.value
    for (i, tr), v in list(out.items()):  # perm and swap keep kappa
        if tr == "none":
            out[(i, "perm")] = out[(i, "swap")] = v
    return out


def bars(rows, kap, theta, first, second):
    cells = collections.defaultdict(lambda: collections.defaultdict(list))
    for (i, tr), e in rows.items():
        if first not in e or second not in e or (i, tr) not in kap:
            continue
        use = e[second] if kap[(i, tr)] < theta else e[first]
        mi, n = float(use["mi"]), int(use["n"])
        c = cells[(tr, 0 if n < 100 else 1 if n < 300 else 2)]
        c["cand"].append((float(use["estimate"]) - mi) ** 2)
        c["cov"].append(float(use["lower"]) <= mi <= float(use["upper"]))
        for est in CLASSICAL:
            if est in e:
                c[est].append((float(e[est]["estimate"]) - mi) ** 2)
    met = 0
    for tr in TRANSFORMS:
        cov = []
        for b in range(3):
            c = cells[(tr, b)]
            if not c["cand"]:
                continue
            best = min(sum(c[e]) / len(c[e]) for e in CLASSICAL if c[e])
            met += sum(c["cand"]) / len(c["cand"]) <= best / 2
            cov += c["cov"]
        if cov:
            met += 0.85 <= sum(cov) / len(cov) <= 0.95
    return met


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    lib = ctypes.CDLL(sys.argv[1])
    first, second = (sys.argv[4], sys.argv[5]) if len(sys.argv) == 6 else (FIRST, SECOND)
    kap = kappas(lib, sys.argv[2])
    runs = {}
    for suite in ("imd", "oomd"):
        rows = collections.defaultdict(dict)
        for r in csv.DictReader(open(os.path.join(sys.argv[3], suite, "results.csv"))):
            if r["status"] == "ok":
                rows[(r["id"], r["transform"])][r["estimator"]] = r
        runs[suite] = rows
    print("theta  imd  oomd  total (of 40)")
    for theta in [0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.01]:
        b = [bars(runs[s], kap, theta, first, second) for s in ("imd", "oomd")]
        print("%5.2f  %3d  %4d  %5d" % (theta, b[0], b[1], sum(b)))


if __name__ == "__main__":
    main()
