"""mist.estimate: one MI estimate of (x, y) by the learned model or a classical estimator."""
import ctypes
import math
import warnings as _warnings

import numpy as np

from . import _guard, _lib, _model

CLASSICAL = ("ksg1", "ksg2", "gaussian", "histogram", "kde", "discrete", "mixed")
METHODS = ("mist",) + CLASSICAL + ("ksg",)


class Estimate:
    """An MI estimate in nats.

    estimate     the answer (the model's median; the guard's fallback when it fired)
    lower, upper the interval at level ci (NaN when there is none)
    quantiles    {tau: value} of a quantile model ({} for the others)
    method       the method as run ("mist", "ksg1", "gaussian:copula", ...)
    warnings     the guard's warnings (the learned model only)
    guard        {"reasons": [...], "answer": ..., "model": {...}, "ksg1": {...},
                 "gaussian_copula": {...}, "gaussian": {...}, "normality_p": {...}} when the
                 guard ran, else None
    weights      the model file (method "mist")
    n, dx, dy    the data's size
    exact        True when the data settle the estimate (every X or every Y column constant:
                 I(X;Y) = 0 exactly in these rows, no estimator ran; note says which), as
                 `mist estimate`; the interval [0, upper] then covers what one value of the
                 constant side that the rows never show could hold
    note         that reason, else None
    float(e) is the estimate."""

    __slots__ = ("estimate", "lower", "upper", "ci", "quantiles", "method", "warnings", "guard",
                 "weights", "n", "dx", "dy", "exact", "note")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))
        self.exact = bool(self.exact)

    def __float__(self):
        return float(self.estimate)

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        if self.exact:
            return "Estimate(%s: 0 nats exactly; n=%d, dx=%d, dy=%d)" % (self.method, self.n,
                                                                      self.dx, self.dy)
        iv = ""
        if not math.isnan(self.lower):
            iv = ", [%.4f, %.4f] at %g" % (self.lower, self.upper, self.ci)
        w = ", %d warning%s" % (len(self.warnings), "" if len(self.warnings) == 1 else "s") \
            if self.warnings else ""
        return "Estimate(%s: %.4f nats%s; n=%d, dx=%d, dy=%d%s)" % (
            self.method, self.estimate, iv, self.n, self.dx, self.dy, w)


def as_block(a, name):
    """A 1-D or 2-D numeric array as an (n, d) float64 block."""
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise _lib.MistError("%s must be a numeric array (%s)" % (name, e)) from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise _lib.MistError("%s must be 1-D (n,) or 2-D (n, d); got shape %s" % (name, a.shape))
    if a.shape[1] < 1:
        raise _lib.MistError("%s has no columns (shape %s)" % (name, a.shape))
    return a


def joint(x, y):
    """The library's layout: n rows of [x, y], row-major float64."""
    x, y = as_block(x, "x"), as_block(y, "y")
    if x.shape[0] != y.shape[0]:
        raise _lib.MistError("x and y must have the same number of rows; got %d and %d"
                             % (x.shape[0], y.shape[0]))
    return np.ascontiguousarray(np.hstack([x, y])), x.shape[1], y.shape[1]


def _parse_method(method):
    name, *opts = str(method).split(":")
    name = "ksg1" if name == "ksg" else name
    allowed = ("copula", "unbiased") if name == "gaussian" else ("copula",)
    if (name not in METHODS or len(set(opts)) != len(opts) or any(o not in allowed for o in opts)
            or (name == "mist" and opts)):
        raise _lib.MistError("unknown method %r (known: mist, ksg (= ksg1), ksg1, ksg2, gaussian, "
                             "histogram, kde, discrete; a classical one may end in ':copula', e.g. "
                             "'gaussian:copula', and gaussian in ':unbiased' too)" % (method,))
    return name, "copula" in opts, "unbiased" in opts


def _level(t):
    # rounded so that ci 0.9 asks for exactly 0.05 and 0.95, as the CLI does
    return round(t * 1e12) / 1e12


def _taus(ci, quantiles):
    if quantiles is None:
        if not 0 < ci < 1:
            raise _lib.MistError("ci must be in (0, 1); got %r" % (ci,))
        return [_level((1 - ci) / 2), 0.5, _level((1 + ci) / 2)], True
    q = [float(t) for t in np.atleast_1d(quantiles)]
    if not q or not all(0 < t < 1 for t in q):
        raise _lib.MistError("quantiles must be levels in (0, 1); got %r" % (quantiles,))
    return q, False


def _estimate_mist(data, n, dx, dy, ci, quantiles, weights, raw_quantiles, guard, seed, threads,
                   columns, row_chunk):
    L = _lib.lib()
    path = weights if weights is not None else _model.default_path()
    _model.set_blas_threads(threads)
    m = _model.get(str(path))
    user, default_taus = _taus(ci, quantiles)
    if not m.quantile_conditioned and not default_taus:
        raise _lib.MistError("%s is a point-estimate model: it gives no quantiles; drop "
                             "quantiles= or use a quantile model" % path)
    taus = list(user) if m.quantile_conditioned else []
    if m.quantile_conditioned and 0.5 not in taus:
        taus.append(0.5)
    t = np.array(taus, dtype=np.float64)
    out = np.zeros(max(len(taus), 1))
    err = _lib.Err()
    L.mist_model_set_raw_quantiles(m.handle, 1 if raw_quantiles else 0)
    canon = m.columns_canonical if columns is None else columns == "canonical"
    L.mist_model_set_col_canon(m.handle, 1 if canon else 0)
    L.mist_model_set_row_chunk(m.handle, m.row_chunk if row_chunk is None else row_chunk)
    # too few rows or a constant column: refused, as mist estimate refuses them
    _lib.check(L.mist_model_check_rows(m.handle, _lib.doubles(data), n, dx, dy,
                                       ctypes.byref(err)), err)
    # the estimate and the model that gave it (a routed model hands some datasets to its
    # second model), in one call: the route's passes serve the answer
    kappa, kmin, why = ctypes.c_double(), ctypes.c_double(math.nan), ctypes.c_int()
    pick = ctypes.c_void_p()
    _lib.check(L.mist_model_estimate_routed(m.handle, _lib.doubles(data), n, dx, dy,
                                            _lib.doubles(t) if taus else None, len(taus),
                                            _lib.doubles(out), ctypes.byref(pick),
                                            ctypes.byref(kappa), ctypes.byref(why),
                                            ctypes.byref(err)), err)
    pm = pick.value
    est = float(out[taus.index(0.5)]) if taus else float(out[0])
    qs = {taus[i]: float(out[i]) for i in range(len(user))} if m.quantile_conditioned else {}
    lower = upper = lvl = math.nan
    if qs and min(qs) < 0.5 < max(qs):
        lower, upper = qs[min(qs)], qs[max(qs)]
        lvl = _level(max(qs) - min(qs))
    res = Estimate(estimate=est, lower=lower, upper=upper, ci=lvl, quantiles=qs, method="mist",
                   warnings=[], guard=None, weights=str(path), n=n, dx=dx, dy=dy)
    if guard == "off":
        return res
    q3 = [est, est, est]
    if m.quantile_conditioned:
        if 0.05 in qs and 0.95 in qs:
            q3 = [qs[0.05], est, qs[0.95]]
        else:
            t3, o3 = np.array([0.05, 0.5, 0.95]), np.zeros(3)
            _lib.check(L.mist_model_estimate_picked(m.handle, pm, why, _lib.doubles(data), n, dx,
                                                    dy, _lib.doubles(t3), 3, _lib.doubles(o3),
                                                    ctypes.byref(err)), err)
            q3 = list(o3)
    routed = bool(L.mist_model_route_alt(m.handle, ctypes.byref(kmin)))
    gm, go, gr = _lib.GuardModel(), _lib.GuardOpts(), _lib.GuardResult()
    L.mist_guard_model_init(ctypes.byref(gm), pm, q3[0], q3[1], q3[2])
    L.mist_guard_opts_default(ctypes.byref(go))
    go.seed, go.threads = seed, threads
    _lib.check(L.mist_guard_run(_lib.doubles(data), n, dx, dy, ctypes.byref(gm),
                                ctypes.byref(go), ctypes.byref(gr), ctypes.byref(err)), err)
    ans = [ctypes.c_double(v) for v in (res.estimate, res.lower, res.upper)]
    fallback = guard == "fallback" and L.mist_guard_apply(ctypes.byref(gr), *map(ctypes.byref,
                                                                                  ans)) == 1
    xc = lambda x: {"ok": bool(x.ok), "estimate": x.estimate, "lower": x.lower,
                    "upper": x.upper, "note": x.note.decode()}
    res.guard = {"reasons": _guard.reasons(gr.reasons),
                 "answer": _guard.ANSWER_NAMES.get(gr.answer, "model") if fallback else "model",
                 "model": {"estimate": est, "lower": q3[0], "upper": q3[2], "ci": 0.9},
                 "ksg1": xc(gr.ksg1), "gaussian_copula": xc(gr.gaussian_copula),
                 "gaussian": xc(gr.gaussian), "mixed": xc(gr.mixed),
                 "normality_p": {"skewness": gr.normal_p_skew, "kurtosis": gr.normal_p_kurt},
                 "cross_check_rows": gr.distinct_rows,
                 "mi_max": gr.mi_max,
                 "discrete": {"column": gr.discrete_col, "levels": gr.discrete_levels}
                 if gr.discrete_col >= 0 else None,
                 "route": {"answered_by": "first" if pm == m.handle else "second",
                           "kappa": kappa.value, "kappa_min": kmin.value,
                           "reason": ("none", "kappa", "mi_range", "arbiter")[why.value]}
                 if routed else None}
    res.warnings = _guard.warnings(gr, gm, n, dx, dy, fallback)
    if fallback:
        res.estimate, res.lower, res.upper, res.ci = ans[0].value, ans[1].value, ans[2].value, 0.9
    return res


def _estimate_classical(data, n, dx, dy, name, copula, unbiased, ci, k, bootstrap, seed, threads,
                        noise, zscore, bins, miller_madow, bandwidth):
    L = _lib.lib()
    o = _lib.EstOpts()
    L.mist_est_opts_default(ctypes.byref(o))
    o.k, o.copula, o.seed, o.threads, o.bootstrap, o.ci = k, copula, seed, threads, bootstrap, ci
    o.unbiased = unbiased
    o.zscore, o.bins, o.miller_madow, o.bandwidth = zscore, bins, miller_madow, bandwidth
    if noise is not None:
        o.noise = noise
    r, err = _lib.EstResult(), _lib.Err()
    _lib.check(L.mist_estimate_classical(name.encode(), _lib.doubles(data), n, dx, dy,
                                         ctypes.byref(o), ctypes.byref(r), ctypes.byref(err)),
               err)
    return Estimate(estimate=r.estimate, lower=r.lower, upper=r.upper,
                    ci=ci if bootstrap else math.nan, quantiles={},
                    method=name + (":copula" if copula else "") + (":unbiased" if unbiased else ""),
                    warnings=[], guard=None,
                    weights=None, n=n, dx=dx, dy=dy)


def _constant_side(data, n, dx, dy):
    """Which side is constant, in the words of `mist estimate` (None: neither). Non-finite
    values are refused first, as the CLI refuses them when it reads the file."""
    bad = ~np.isfinite(data)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise _lib.MistError("non-finite value (%g) at row %d, column %d" % (data[i, j], i + 1,
                                                                            j + 1), code=5)
    sides = _lib.lib().mist_constant_sides(_lib.doubles(data), n, dx, dy, None)
    if not sides:
        return None
    if sides == 3:
        return "every column is constant"
    d = dx if sides == 1 else dy
    side = "X" if sides == 1 else "Y"
    return "every %s column is constant" % side if d > 1 else "%s is constant" % side


def estimate(x, y, method="mist", ci=0.9, weights=None, *, quantiles=None, guard="fallback",
             raw_quantiles=False, columns=None, row_chunk=None, k=5, bootstrap=0, seed=0, threads=1,
             noise=None, zscore=True, bins=0, miller_madow=False, bandwidth=0.0, warn=True):
    """I(X;Y) in nats from samples: x (n,) or (n, dx), y (n,) or (n, dy), rows paired.

    method   "mist" (default): the learned model; "ksg" / "ksg1", "ksg2" (Kraskov et al.),
             "gaussian", "histogram", "kde", "discrete", "mixed"; ":copula" after a classical one
             ("gaussian:copula") replaces every column by its normal scores first;
             ":unbiased" after gaussian subtracts its finite-sample bias for Gaussian data.
    ci       interval level: the model's (1-ci)/2 and (1+ci)/2 quantiles, or with
             bootstrap=B a classical method's percentile bootstrap interval.
    weights  the model file for "mist" (default: the shipped mist-qr.msgpack, found like
             `mist estimate` finds it; $MIST_WEIGHTS overrides).
    quantiles  levels of a quantile model to report (default (1-ci)/2, 0.5, (1+ci)/2).
    guard    "fallback" (default), "warn" or "off", as `mist estimate --guard`: checks the
             model's answer against its training range and two classical cross-checks; its
             warnings go to Estimate.warnings and, when warn is true, to warnings.warn.
             With the guard on, Estimate.guard["route"] says which model answered when the
             model routes datasets to a second one (the shipped mist-qr: mist-pairs).
    columns  "canonical" or "as_given", as `mist estimate --columns` (default None: the
             model's own choice): canonical puts the columns in an order and with signs
             chosen from the data, X/Y symmetrised, so that reordering or negating columns or
             swapping X and Y changes nothing.
    row_chunk  as `mist estimate --row-chunk` (default None: the model's own, the largest n
             it was trained on for our models): above that many rows the model's one
             attention over all pairs of rows runs within chunks of at most that many, so
             time grows linearly in n; 0: one attention over all rows (n x n).
    k, noise, zscore  KSG options (k = 5, tie-breaking noise 1e-10, z-scored columns);
             bins, miller_madow (histogram), bandwidth (KDE); seed: KSG noise and bootstrap;
             threads: worker (and OpenBLAS) threads; results do not depend on it.
    Raises MistError with the library's message on bad input (NaN/Inf, mismatched rows, too
    few rows, dims the model cannot take, ...)."""
    name, copula, unbiased = _parse_method(method)
    if columns not in (None, "canonical", "as_given"):
        raise _lib.MistError("columns must be 'canonical', 'as_given' or None; got %r" % (columns,))
    if columns is not None and name != "mist":
        raise _lib.MistError("columns applies to method 'mist'")
    if row_chunk is not None:
        if isinstance(row_chunk, bool) or not isinstance(row_chunk, int) or row_chunk < 0:
            raise _lib.MistError("row_chunk must be a non-negative integer or None; got %r"
                                 % (row_chunk,))
        if name != "mist":
            raise _lib.MistError("row_chunk applies to method 'mist'")
    if guard not in ("fallback", "warn", "off"):
        raise _lib.MistError("guard must be 'fallback', 'warn' or 'off'; got %r" % (guard,))
    if not isinstance(threads, int) or threads < 1:
        raise _lib.MistError("threads must be a positive integer; got %r" % (threads,))
    data, dx, dy = joint(x, y)
    n = data.shape[0]
    exact = _constant_side(data, n, dx, dy)
    if exact:
        label = "mist" if name == "mist" else \
            name + (":copula" if copula else "") + (":unbiased" if unbiased else "")
        if not 0 < ci < 1:
            raise _lib.MistError("ci must be in (0, 1); got %r" % (ci,))
        return Estimate(estimate=0.0, lower=0.0,
                        upper=_lib.lib().mist_constant_side_upper(n, ci), ci=ci,
                        quantiles={}, method=label,
                        warnings=[], guard=None,
                        weights=str(weights if weights is not None else _model.default_path())
                        if name == "mist" else None,
                        n=n, dx=dx, dy=dy, exact=True,
                        note="%s: a constant carries no information, so I(X;Y) = 0 exactly in "
                             "these rows; no estimator was run (the upper end: what one value the "
                             "rows never show could hold)" % exact)
    if name == "mist":
        res = _estimate_mist(data, n, dx, dy, ci, quantiles, weights, raw_quantiles, guard,
                             seed, threads, columns, row_chunk)
        if warn:
            for w in res.warnings:
                _warnings.warn(w, _lib.MistWarning, stacklevel=2)
        return res
    if not 0 < ci < 1:
        raise _lib.MistError("ci must be in (0, 1); got %r" % (ci,))
    return _estimate_classical(data, n, dx, dy, name, copula, unbiased, ci, k, bootstrap, seed,
                               threads, noise, 1 if zscore else 0, bins,
                               1 if miller_madow else 0, bandwidth)
