#!/usr/bin/python3
"""Reference KSG (algorithms 1 and 2) with scipy.spatial.cKDTree, computed exactly as mist's
classical/ksg.c defines it, to check values and compare speed on the same file.

usage: ksg_scipy.py FILE.npy --dx DX [--k 5] [--alg 1|2|both] [--reps 3]
prints: "ksgA DXxDY n=N k=K scipy mi=%.17g best_of_R=T s"

No z-scoring and no noise: compare with `bench_ksg FILE.npy --raw` (same data, same value to
~1e-12: only the summation order of the digamma terms and scipy's vs GSL's digamma differ).
E.g.  ./build/mist gen normal-dense-base --dims 5x5 --n 10000 --seed 1 -o x.npy
      ./build/bench_ksg x.npy --raw --alg 1 ;  tools/reference/ksg_scipy.py x.npy --dx 5 --alg 1

Definitions (shared/spec/estimators.md): max-norm in X, in Y, joint = max of the two;
eps_i = joint distance to the k-th nearest other row.
  ksg1: n_x(i) = #{j != i : |x_j - x_i| < eps_i} (strict);
        I = psi(k) + psi(n) - mean(psi(n_x + 1) + psi(n_y + 1)).
  ksg2: eps_x(i), eps_y(i) = largest X / Y distance among the k joint neighbours;
        n_x(i) = #{j != i : |x_j - x_i| <= eps_x(i)};
        I = psi(k) - 1/k + psi(n) - mean(psi(n_x) + psi(n_y)).

How the counts are made exact with cKDTree:
  * query(k+1, p=inf): the row itself (distance 0) is among the k+1 nearest, so the (k+1)-th
    distance including it is the k-th distance to another row. Distances are max |u - v|, the same
    floating values mist computes.
  * query_ball_point(..., return_length=True) counts points with distance <= r, the row itself
    included. Non-strict (ksg2): r = eps_x, minus 1 for the row itself. Strict (ksg1): for doubles,
    d < eps  <=>  d <= nextafter(eps, 0), so r = nextafter(eps, 0), minus 1 for the row itself
    (counted when eps > 0); when eps == 0 the strict count is 0 (set directly). No r*(1 - 1e-15)
    fudge: that would be inexact.
  * ksg2 neighbour set: the k nearest other rows from query(k+1). mist breaks ties at the k-th
    joint distance by the smaller row index; cKDTree's order among equal distances is unspecified,
    so on data with exact ties the ksg2 values can differ (ksg1 cannot: only eps matters). With
    continuous data (or mist's default noise) there are no ties.
"""
import argparse
import sys
import time

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def ksg_counts(data, dx, k, alg):
    n = data.shape[0]
    x, y = data[:, :dx], data[:, dx:]
    dist, idx = cKDTree(data).query(data, k=k + 1, p=np.inf)
    tx, ty = cKDTree(x), cKDTree(y)
    if alg == 1:
        eps = dist[:, k]
        r = np.nextafter(eps, 0)
        pos = eps > 0
        nx = np.zeros(n, dtype=np.int64)
        ny = np.zeros(n, dtype=np.int64)
        nx[pos] = tx.query_ball_point(x[pos], r[pos], p=np.inf, return_length=True) - 1
        ny[pos] = ty.query_ball_point(y[pos], r[pos], p=np.inf, return_length=True) - 1
        return nx, ny
    # the k neighbours other than the row itself (drop the last one when a duplicate pushed the
    # row out of the first k + 1)
    self_mask = idx == np.arange(n)[:, None]
    self_mask[~self_mask.any(axis=1), k] = True
    nb = idx[~self_mask].reshape(n, k)
    ex = np.abs(x[:, None, :] - x[nb]).max(axis=(1, 2))
    ey = np.abs(y[:, None, :] - y[nb]).max(axis=(1, 2))
    nx = tx.query_ball_point(x, ex, p=np.inf, return_length=True) - 1
    ny = ty.query_ball_point(y, ey, p=np.inf, return_length=True) - 1
    return nx, ny


def ksg(data, dx, k, alg):
    n = data.shape[0]
    nx, ny = ksg_counts(data, dx, k, alg)
    if alg == 1:
        return digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return digamma(k) - 1.0 / k + digamma(n) - np.mean(digamma(nx) + digamma(ny))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--dx", type=int, required=True)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--alg", default="both", choices=["1", "2", "both"])
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    data = np.ascontiguousarray(np.load(a.file), dtype=np.float64)
    if data.ndim != 2 or not 1 <= a.dx < data.shape[1]:
        sys.exit("ksg_scipy: need a 2-D array with more than dx columns")
    if data.shape[0] <= a.k:
        sys.exit("ksg_scipy: n <= k")
    dy = data.shape[1] - a.dx
    for alg in ([1, 2] if a.alg == "both" else [int(a.alg)]):
        best = float("inf")
        for _ in range(max(1, a.reps)):
            t0 = time.perf_counter()
            mi = ksg(data, a.dx, a.k, alg)
            best = min(best, time.perf_counter() - t0)
        print("ksg%d %dx%d n=%d k=%d scipy mi=%.17g best_of_%d=%.4f s"
              % (alg, a.dx, dy, data.shape[0], a.k, mi, max(1, a.reps), best))


if __name__ == "__main__":
    main()
