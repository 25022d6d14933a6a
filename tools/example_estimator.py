#!/usr/bin/python3
"""An example of a user's estimator for `mist bench --estimators 'cmd:NAME=COMMAND'`.

usage: tools/example_estimator.py FILE DX DY
  e.g. mist bench --suite smoke --out out/cmd \\
         --estimators 'ksg1,cmd:gauss-py=python3 tools/example_estimator.py {file} {dx} {dy}'

Reads the .npy bench writes (n rows, X's DX columns then Y's DY), and prints on stdout one JSON
object: the Gaussian MI in nats, 0.5 (log det Sxx + log det Syy - log det S) of the sample
covariance S, and a 90% percentile-bootstrap interval (200 resamples, fixed seed, so reruns
print the same bytes). Errors go to stderr with a non-zero exit; bench records the last line of
stderr in the row's status. numpy only (Debian: python3-numpy).
"""
import json
import sys

import numpy as np

RESAMPLES = 200
LEVEL = 0.9
SEED = 12345


def gaussian_mi(d, dx):
    """None when a covariance is singular (e.g. a resample of repeated rows)."""
    s = np.atleast_2d(np.cov(d, rowvar=False))
    parts = []
    for m in (s[:dx, :dx], s[dx:, dx:], s):
        sign, logdet = np.linalg.slogdet(m)
        if sign <= 0 or not np.isfinite(logdet):
            return None
        parts.append(logdet)
    return 0.5 * (parts[0] + parts[1] - parts[2])


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: example_estimator.py FILE DX DY")
    d = np.load(argv[1])
    dx, dy = int(argv[2]), int(argv[3])
    if d.ndim != 2 or d.shape[1] != dx + dy:
        sys.exit(f"expected {dx + dy} columns, the file has shape {d.shape}")
    if d.shape[0] <= dx + dy:
        sys.exit(f"{d.shape[0]} rows: too few for a {dx + dy}-column covariance")
    est = gaussian_mi(d, dx)
    if est is None:
        sys.exit("the sample covariance is singular")
    rng = np.random.default_rng(SEED)
    boot = []
    for _ in range(RESAMPLES):
        mi = gaussian_mi(d[rng.integers(0, d.shape[0], d.shape[0])], dx)
        if mi is not None:
            boot.append(mi)
    out = {"estimate": float(est)}
    # Too few usable resamples make a meaningless interval: report the estimate alone.
    if len(boot) >= RESAMPLES // 2:
        lo, hi = np.quantile(boot, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
        out["lower"], out["upper"] = float(lo), float(hi)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
