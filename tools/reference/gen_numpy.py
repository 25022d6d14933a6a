#!/usr/bin/python3
"""Reference generator in numpy, the same model as mist's gen/ for two tasks, to measure
rows per second in the same session: normal-dense 5x5 (c) and student-sparse 25x25 (K, strength,
nu; one chi-square per row). usage: gen_numpy.py N  (prints rows/s, best of 5)."""
import sys
import time

import numpy as np


def sparse_corr(dx, dy, K, s):
    d = dx + dy
    S = np.eye(d)
    r = s * s / (1 + s * s)
    for i in range(K):
        S[i, dx + i] = S[dx + i, i] = r
    return S


def dense_corr(d, c):
    return (1 - c) * np.eye(d) + c * np.ones((d, d))


def normal_rows(rng, L, n):
    return rng.standard_normal((n, L.shape[0])) @ L.T


def student_rows(rng, L, n, nu):
    z = normal_rows(rng, L, n)
    w = rng.chisquare(nu, size=n)
    return z / np.sqrt(w / nu)[:, None]


def best_of(f, reps=5):
    best = 1e30
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = np.random.default_rng(1)
    L1 = np.linalg.cholesky(dense_corr(10, 0.5))
    t1 = best_of(lambda: normal_rows(rng, L1, n))
    print(f"numpy normal-dense-base 5x5 n={n} rows/s={n / t1:.4g} best_of_5={t1:.4f} s")
    L2 = np.linalg.cholesky(sparse_corr(25, 25, 3, 1.5))
    t2 = best_of(lambda: student_rows(rng, L2, n, 3.0))
    print(f"numpy student-sparse-base 25x25 n={n} rows/s={n / t2:.4g} best_of_5={t2:.4f} s")


if __name__ == "__main__":
    main()
