"""mist.mutual_info: one MI per column of X with y, in the spirit of scikit-learn's
mutual_info_regression, with intervals."""
import numpy as np

from . import _estimate, _lib


class FeatureMI:
    """Per-feature MI in nats: estimate, lower, upper (arrays, one entry per column of X), ci,
    method, warnings (a list per column) and results (the Estimate of each column).
    np.asarray(r) is the estimates (what mutual_info_regression returns)."""

    def __init__(self, results, method, ci):
        self.results = results
        self.method = method
        self.estimate = np.array([r.estimate for r in results])
        self.lower = np.array([r.lower for r in results])
        self.upper = np.array([r.upper for r in results])
        self.ci = ci
        self.warnings = [r.warnings for r in results]

    def __array__(self, dtype=None, copy=None):
        return self.estimate if dtype is None else self.estimate.astype(dtype)

    def __len__(self):
        return len(self.results)

    def __repr__(self):
        return "FeatureMI(%s, %d features: %s)" % (
            self.method, len(self), np.array2string(self.estimate, precision=3))


def mutual_info(X, y, method="mist", ci=0.9, **options):
    """I(X_j; y) for every column j of X (n, p), y (n,) or (n, dy); options as mist.estimate.
    With a classical method the intervals need bootstrap=B. Warnings are collected per column
    in FeatureMI.warnings rather than raised."""
    X = _estimate.as_block(X, "X")
    options.setdefault("warn", False)
    results = [_estimate.estimate(X[:, j], y, method=method, ci=ci, **options)
               for j in range(X.shape[1])]
    if not results:
        raise _lib.MistError("X has no columns")
    return FeatureMI(results, results[0].method, ci)
