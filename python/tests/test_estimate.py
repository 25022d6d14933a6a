"""mist.estimate against independent references: the Gaussian estimator against numpy's
log-determinants and the closed-form MI, KSG against a brute-force numpy KSG, invariances, the
learned model against the mist command on the same data, and errors with the library's message."""
import math
import os
import statistics
import unittest
import warnings

import numpy as np

import mist
from _util import Scratch, cli_json


def gaussian_mi_numpy(x, y):
    """1/2 (log det Sxx + log det Syy - log det S) of the sample covariance."""
    z = np.hstack([x, y])
    S = np.cov(z, rowvar=False)
    dx = x.shape[1]
    ld = lambda M: np.linalg.slogdet(np.atleast_2d(M))[1]
    return 0.5 * (ld(S[:dx, :dx]) + ld(S[dx:, dx:]) - ld(S))


def digamma_int(m):
    """psi(m) for a positive integer m: -gamma + H(m-1)."""
    return -0.5772156649015329 + sum(1.0 / i for i in range(1, m))


def ksg1_brute(x, y, k):
    """KSG algorithm 1 (max-norm, strict counts) on z-scored columns (population sd), O(n^2)."""
    z = np.hstack([x, y])
    z = (z - z.mean(0)) / z.std(0)
    dx = x.shape[1]
    n = len(z)
    total = 0.0
    for i in range(n):
        d = np.abs(z - z[i])
        dxi, dyi = d[:, :dx].max(1), d[:, dx:].max(1)
        dj = np.maximum(dxi, dyi)
        dj[i] = np.inf
        eps = np.sort(dj)[k - 1]
        nx = int((dxi < eps).sum()) - 1  # minus the row itself
        ny = int((dyi < eps).sum()) - 1
        total += digamma_int(nx + 1) + digamma_int(ny + 1)
    return digamma_int(k) + digamma_int(n) - total / n


class GaussianTest(unittest.TestCase):
    def test_equals_numpy_logdets(self):
        x, y, _ = mist.gen("normal-dense-base", 300, 3, 2, seed=4)
        e = mist.estimate(x, y, method="gaussian")
        self.assertAlmostEqual(e.estimate, gaussian_mi_numpy(x, y), delta=1e-10)
        self.assertEqual((e.n, e.dx, e.dy, e.method), (300, 3, 2, "gaussian"))
        self.assertTrue(math.isnan(e.lower) and math.isnan(e.ci))

    def test_closed_form_within_se(self):
        # 30 independent samples of a Gaussian task: their mean estimate is the closed-form MI
        # plus the estimator's first-order bias dx dy / (2n), within 4 standard errors
        n, dx, dy = 4000, 2, 2
        ests, truth = [], None
        for s in range(30):
            x, y, mi = mist.gen("normal-dense-base", n, dx, dy, seed=100 + s, params={"c": 0.4})
            self.assertTrue(truth is None or mi == truth)  # c fixes the task's MI
            truth = mi
            ests.append(mist.estimate(x, y, method="gaussian").estimate)
        se = statistics.stdev(ests) / math.sqrt(len(ests))
        bias = dx * dy / (2 * n)
        self.assertGreater(truth, 0.1)
        self.assertLess(abs(statistics.mean(ests) - bias - truth), 4 * se + 1e-4,
                        (statistics.mean(ests), truth, se))

    def test_unbiased_subtracts_wishart_bias(self):
        # the bias 1/2 (s(dx) + s(dy) - s(dx + dy)), s(p) = sum_{i<=p} digamma((n - i) / 2),
        # with a digamma of our own (recurrence up to 10, then the asymptotic series)
        def digamma(v):
            acc = 0.0
            while v < 10:
                acc -= 1 / v
                v += 1
            w = 1 / (v * v)
            return acc + math.log(v) - 0.5 / v - w * (1 / 12 - w * (1 / 120 - w / 252))
        n, dx, dy = 30, 3, 2
        s = lambda p: sum(digamma((n - i) / 2) for i in range(1, p + 1))
        bias = 0.5 * (s(dx) + s(dy) - s(dx + dy))
        x, y, _ = mist.gen("normal-dense-base", n, dx, dy, seed=5)
        for m in ("gaussian", "gaussian:copula"):
            e = mist.estimate(x, y, method=m + ":unbiased")
            self.assertAlmostEqual(e.estimate, mist.estimate(x, y, method=m).estimate - bias,
                                   delta=1e-9)
            self.assertEqual(e.method, m + ":unbiased")
        self.assertGreater(bias, 0.1)
        for bad in ("ksg:unbiased", "gaussian:unbiased:unbiased", "mist:unbiased"):
            with self.assertRaisesRegex(mist.MistError, "unknown method"):
                mist.estimate(x, y, method=bad)

    def test_copula_is_gaussian_of_normal_scores(self):
        x, y, _ = mist.gen("student-dense-base", 200, 2, 2, seed=3)
        nd = statistics.NormalDist()
        def scores(a):
            r = np.argsort(np.argsort(a, axis=0), axis=0) + 1.0  # no ties in continuous data
            return np.vectorize(lambda v: nd.inv_cdf(v))(r / (len(a) + 1))
        e = mist.estimate(x, y, method="gaussian:copula")
        self.assertAlmostEqual(e.estimate, gaussian_mi_numpy(scores(x), scores(y)), delta=1e-9)
        self.assertEqual(e.method, "gaussian:copula")


class KsgTest(unittest.TestCase):
    def setUp(self):
        self.x, self.y, self.mi = mist.gen("normal-dense-base", 240, 2, 1, seed=9)

    def test_brute_force(self):
        for k in (3, 5):
            e = mist.estimate(self.x, self.y, method="ksg", k=k, noise=0)
            self.assertAlmostEqual(e.estimate, ksg1_brute(self.x, self.y, k), delta=1e-10)
            self.assertEqual(e.method, "ksg1")

    def test_row_order_and_swap(self):
        perm = np.random.default_rng(0).permutation(len(self.x))
        for m in ("ksg1", "ksg2", "gaussian", "kde", "histogram"):
            a = mist.estimate(self.x, self.y, method=m, noise=0)
            b = mist.estimate(self.x[perm], self.y[perm], method=m, noise=0)
            self.assertAlmostEqual(a.estimate, b.estimate, delta=1e-12, msg=m)
        for m in ("ksg1", "ksg2"):
            a = mist.estimate(self.x, self.y, method=m, noise=0)
            c = mist.estimate(self.y, self.x, method=m, noise=0)
            self.assertAlmostEqual(a.estimate, c.estimate, delta=1e-12, msg=m)

    def test_bootstrap_interval_matches_cli(self):
        e = mist.estimate(self.x, self.y, method="ksg2", bootstrap=40, ci=0.8, seed=3)
        with Scratch() as d:
            f = os.path.join(d, "a.npy")
            np.save(f, np.hstack([self.x, self.y]))
            ref = cli_json("estimate", f, "--dx", 2, "--method", "ksg2", "--bootstrap", 40,
                           "--ci", 0.8, "--seed", 3, "--json")
        self.assertEqual((e.estimate, e.lower, e.upper), (ref["estimate"], ref["lower"],
                                                           ref["upper"]))
        self.assertEqual(e.ci, 0.8)
        self.assertLessEqual(e.lower, e.upper)


class LearnedModelTest(unittest.TestCase):
    """Same data through the package and through `mist estimate --json`: the same numbers,
    so every struct the package mirrors reads what the C side wrote."""

    def compare(self, x, y, weights, guard, ci=0.9):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            e = mist.estimate(x, y, weights=weights, guard=guard, ci=ci)
        with Scratch() as d:
            f = os.path.join(d, "a.npy")
            np.save(f, np.hstack([x, y]))
            args = ["estimate", f, "--dx", x.shape[1], "--guard", guard, "--ci", ci, "--json"]
            if weights:
                args += ["--weights", weights]
            ref = cli_json(*args)
        # The network computes in float32 through OpenBLAS, which picks its kernels when it
        # loads: the CLI (static) and this process (libmist.so) can get different ones on one
        # machine (seen: SkylakeX and Prescott on a Xeon with AVX-512), so the learned model's
        # numbers agree to float32 rounding; a struct read wrongly is off by far more.
        tol = lambda b: 1e-6 * max(1.0, abs(b))
        for key in ("estimate", "lower", "upper", "ci"):
            a, b = getattr(e, key), ref[key]
            if b is None:
                self.assertTrue(math.isnan(a), key)
            else:
                self.assertAlmostEqual(a, b, delta=tol(b), msg=key)
        self.assertEqual(sorted(e.quantiles), sorted(q["tau"] for q in ref["quantiles"]))
        for q in ref["quantiles"]:
            self.assertAlmostEqual(e.quantiles[q["tau"]], q["value"], delta=tol(q["value"]))
        if guard == "off":
            self.assertIsNone(e.guard)
            self.assertEqual(e.warnings, [])
        else:
            g = ref["guard"]
            self.assertEqual(e.guard["reasons"], g["reasons"])
            for c in ("ksg1", "gaussian_copula", "gaussian"):
                self.assertEqual(e.guard[c]["ok"], g["cross_check"][c]["ok"])
                for key in ("estimate", "lower", "upper"):
                    if g["cross_check"][c]["ok"]:
                        self.assertAlmostEqual(e.guard[c][key], g["cross_check"][c][key],
                                               delta=1e-12)
            for key in ("skewness", "kurtosis"):
                a, b = e.guard["normality_p"][key], g["cross_check"]["normality_p"][key]
                if b is None:
                    self.assertTrue(math.isnan(a), key)
                else:
                    self.assertAlmostEqual(a, b, delta=1e-12)
            self.assertEqual(e.guard["answer"],
                             g["fallback"]["answer"] if (g["fallback"] or {}).get("applied") else "model")
            self.assertEqual(len(e.warnings) > 0, len(g["reasons"]) > 0)
        return e

    def test_quantile_model(self):
        x, y, mi = mist.gen("normal-2pair-base", 400, 3, 3, seed=2, params={"strength": 1.0})
        for guard in ("fallback", "warn", "off"):
            e = self.compare(x, y, None, guard)
            self.assertTrue(e.lower <= e.estimate <= e.upper)
        self.compare(x, y, None, "off", ci=0.5)

    def test_gaussian_fit(self):
        # jointly Gaussian rows, MI 3.1: answered by their Gaussian MI, as the CLI does
        x, y, mi = mist.gen("normal-dense-base", 400, 1, 1, seed=9, params={"c": 0.999})
        e = self.compare(x, y, None, "fallback")
        self.assertEqual(e.guard["answer"], "gaussian")
        self.assertIn("gaussian_fit", e.guard["reasons"])
        self.assertEqual(e.estimate, e.guard["gaussian"]["estimate"])
        self.assertTrue(e.lower <= e.guard["gaussian"]["lower"] and
                        e.upper >= e.guard["gaussian"]["upper"])
        self.assertLess(abs(e.estimate - mi), 0.3)

    def test_point_model_and_guard_fallback(self):
        # n above the trained range and a non-monotone dependence: the guard has reasons
        x, y, _ = mist.gen("channel-sine-base", 700, 1, 1, seed=1,
                           params={"a": 0, "b": 1, "c": 0, "sigma": 0.1})
        point = mist.default_model_path("mist-point.msgpack")
        e = self.compare(x, y, point, "fallback")
        self.assertEqual(e.quantiles, {})
        self.assertIn("n_range", e.guard["reasons"])
        self.assertTrue(any("outside the range the model was trained on" in w
                            for w in e.warnings))
        with self.assertWarns(mist.MistWarning):
            mist.estimate(x, y, weights=point)
        # the default model hands this dataset to its second model (KSG reads more MI than
        # mist-qr was trained on at 1 x 1), trained on n up to 5,000: no n_range reason there
        e = self.compare(x, y, None, "fallback")
        self.assertEqual(e.guard["route"]["answered_by"], "second")
        self.assertEqual(e.guard["route"]["kappa"], 1.0)
        self.assertEqual(e.guard["route"]["reason"], "mi_range")
        self.assertNotIn("n_range", e.guard["reasons"])

    def test_all_discrete_answered_by_the_table(self):
        # three-level X through a noisy channel to three-level Y: every column discrete, the
        # guard answers with the jackknifed plug-in, the number method="discrete" gives
        rng = np.random.default_rng(4)
        x = rng.integers(0, 3, (400, 1)).astype(float)
        y = np.where(rng.random((400, 1)) < 0.8, x, rng.integers(0, 3, (400, 1)))
        e = self.compare(x, y, None, "fallback")
        self.assertEqual(e.guard["answer"], "discrete")
        self.assertIn("discrete", e.guard["reasons"])
        d = mist.estimate(x, y, method="discrete")
        self.assertEqual(e.estimate, d.estimate)
        self.assertTrue(e.lower < d.estimate < e.upper)
        self.assertTrue(any("every column is discrete" in w for w in e.warnings))
        with self.assertRaises(mist.MistError):
            mist.estimate(rng.normal(size=(100, 1)), rng.normal(size=(100, 1)), method="discrete")

    def test_mixed_answered_by_ross(self):
        # a categorical X with a continuous Y: the guard answers with the discrete-continuous
        # estimate, the number method="mixed" gives, as mist estimate does (compare)
        rng = np.random.default_rng(6)
        x = rng.integers(0, 3, (400, 1)).astype(float)
        y = 1.2 * x + rng.normal(size=(400, 1))
        e = self.compare(x, y, None, "fallback")
        self.assertEqual(e.guard["answer"], "mixed")
        self.assertTrue(e.guard["mixed"]["ok"])
        d = mist.estimate(x, y, method="mixed")
        self.assertEqual(e.estimate, d.estimate)
        self.assertTrue(e.lower < d.estimate < e.upper)
        self.assertTrue(any("one block is discrete" in w for w in e.warnings))
        # y = x^2 - 1 + noise: KSG above the copula, the interval's upper end raised
        x = rng.normal(size=(500, 1))
        y = x * x - 1 + 0.1 * rng.normal(size=(500, 1))
        e = self.compare(x, y, None, "fallback")
        self.assertIn("nonmonotone", e.guard["reasons"])
        self.assertTrue(e.upper > 1.99 and any("ranks miss" in w for w in e.warnings))

    def test_degenerate_data_as_the_cli(self):
        # a constant side: 0 exactly for every method, no estimator run, as mist estimate
        rng = np.random.default_rng(5)
        x, y = np.full((60, 2), 3.0), rng.normal(size=(60, 1))
        with Scratch() as d:
            f = os.path.join(d, "c.npy")
            np.save(f, np.hstack([x, y]))
            for method in ("mist", "ksg1", "gaussian"):
                e = mist.estimate(x, y, method=method)
                ref = cli_json("estimate", f, "--dx", 2, "--method", method, "--json")
                self.assertTrue(e.exact and ref["exact"], method)
                self.assertEqual((e.estimate, e.lower, e.upper),
                                 (ref["estimate"], ref["lower"], ref["upper"]))
                self.assertEqual(e.note.split(":")[0], ref["note"].split(":")[0])
                self.assertEqual(e.warnings, [])
        self.assertFalse(mist.estimate(rng.normal(size=(60, 1)), y, method="ksg1").exact)
        # copies of rows: the guard's cross-checks read each distinct row once
        xr, yr = rng.normal(size=(150, 2)), rng.normal(size=(150, 1))
        e1 = mist.estimate(xr, yr, warn=False)
        e2 = mist.estimate(np.vstack([xr, xr]), np.vstack([yr, yr]), warn=False)
        self.assertEqual((e1.guard["cross_check_rows"], e2.guard["cross_check_rows"]), (150, 150))
        self.assertAlmostEqual(e1.guard["ksg1"]["estimate"], e2.guard["ksg1"]["estimate"],
                               delta=1e-9)
        # the model refuses too few rows and a constant column (one X column of two)
        with self.assertRaisesRegex(mist.MistError, "n = 9 rows is below the 10"):
            mist.estimate(rng.normal(size=(9, 1)), rng.normal(size=(9, 1)))
        x2 = np.hstack([rng.normal(size=(60, 1)), np.full((60, 1), 1.0)])
        with self.assertRaisesRegex(mist.MistError, "column x2 is constant"):
            mist.estimate(x2, y)
        self.assertFalse(mist.estimate(x2, y, method="ksg1").exact)

    def test_columns_canonical(self):
        # permuted and negated columns, X and Y swapped: no digit changes with "canonical",
        # the answer does change with "as_given" (the model reads columns by position)
        x, y, _ = mist.gen("normal-sparse-base", 300, 3, 4, seed=5)
        px = -x[:, [2, 0, 1]]
        py = y[:, [3, 1, 0, 2]] * np.array([1, -1, 1, -1])
        a = mist.estimate(x, y, columns="canonical", guard="off")
        b = mist.estimate(py, px, columns="canonical", guard="off")
        self.assertEqual((a.estimate, a.lower, a.upper), (b.estimate, b.lower, b.upper))
        c = mist.estimate(py, px, columns="as_given", guard="off")
        self.assertNotEqual(a.estimate, c.estimate)
        with self.assertRaisesRegex(mist.MistError, "columns must be"):
            mist.estimate(x, y, columns="sideways")
        with self.assertRaisesRegex(mist.MistError, "columns applies to method 'mist'"):
            mist.estimate(x, y, method="ksg1", columns="canonical")

    def test_row_chunk(self):
        # above the model's trained n its row attention runs in row chunks (500 rows): the
        # answer depends only on the set of rows, matches `mist estimate`, and differs from
        # one attention over all rows (row_chunk=0), which a chunk >= n reproduces exactly
        x, y, _ = mist.gen("normal-sparse-base", 1200, 2, 2, seed=4)
        a = mist.estimate(x, y, guard="off")
        perm = np.random.default_rng(1).permutation(len(x))
        b = mist.estimate(x[perm], y[perm], guard="off")
        self.assertEqual(a.quantiles, b.quantiles)
        whole = mist.estimate(x, y, guard="off", row_chunk=0)
        self.assertEqual(whole.quantiles, mist.estimate(x, y, guard="off", row_chunk=1200).quantiles)
        self.assertNotEqual(a.estimate, whole.estimate)
        with Scratch() as d:
            f = os.path.join(d, "a.npy")
            np.save(f, np.hstack([x, y]))
            for chunk, e in ((None, a), (0, whole)):
                args = ["estimate", f, "--dx", 2, "--guard", "off", "--json"]
                if chunk is not None:
                    args += ["--row-chunk", chunk]
                ref = cli_json(*args)
                self.assertEqual(ref["row_chunk"], 500 if chunk is None else 0)
                self.assertAlmostEqual(e.estimate, ref["estimate"], delta=1e-6)
        for bad in (-1, 2.5, True):
            with self.assertRaisesRegex(mist.MistError, "row_chunk"):
                mist.estimate(x, y, row_chunk=bad)
        with self.assertRaisesRegex(mist.MistError, "row_chunk applies"):
            mist.estimate(x, y, method="ksg1", row_chunk=10)

    def test_point_model_refuses_quantiles(self):
        x, y, _ = mist.gen("normal-dense-base", 100, 1, 1, seed=1)
        with self.assertRaisesRegex(mist.MistError, "point-estimate model"):
            mist.estimate(x, y, weights=mist.default_model_path("mist-point.msgpack"),
                          quantiles=[0.1, 0.9])


class ErrorTest(unittest.TestCase):
    def setUp(self):
        self.x, self.y, _ = mist.gen("normal-dense-base", 60, 2, 2, seed=1)

    def test_nan_named(self):
        x = self.x.copy()
        x[3, 1] = np.nan
        for m in ("mist", "ksg", "gaussian", "gaussian:copula"):
            with self.assertRaisesRegex(mist.MistError, r"non-finite value \(nan\) at row 4") as c:
                mist.estimate(x, self.y, method=m)
            self.assertEqual(c.exception.code, 5)  # MIST_EDATA
        y = self.y.copy()
        y[0, 0] = np.inf
        with self.assertRaisesRegex(mist.MistError, "non-finite"):
            mist.estimate(self.x, y, method="ksg2")

    def test_shapes(self):
        with self.assertRaisesRegex(mist.MistError, "same number of rows; got 60 and 59"):
            mist.estimate(self.x, self.y[:59])
        with self.assertRaisesRegex(mist.MistError, "1-D .* or 2-D"):
            mist.estimate(self.x[:, :, None], self.y)
        with self.assertRaisesRegex(mist.MistError, "no columns"):
            mist.estimate(self.x[:, :0], self.y)
        with self.assertRaisesRegex(mist.MistError, "numeric"):
            mist.estimate([["a", "b"]] * 60, self.y)
        with self.assertRaisesRegex(mist.MistError, "exceed this model's maxima"):
            mist.estimate(np.random.default_rng(1).normal(size=(60, 40)), self.y)
        with self.assertRaisesRegex(mist.MistError, "needs n > k"):
            mist.estimate(self.x[:4], self.y[:4], method="ksg")

    def test_options(self):
        with self.assertRaisesRegex(mist.MistError, "unknown method 'ksg3'"):
            mist.estimate(self.x, self.y, method="ksg3")
        with self.assertRaisesRegex(mist.MistError, "ci must be in"):
            mist.estimate(self.x, self.y, ci=1.5)
        with self.assertRaisesRegex(mist.MistError, "guard must be"):
            mist.estimate(self.x, self.y, guard="maybe")
        with self.assertRaisesRegex(mist.MistError, "/nonexistent/w.msgpack"):
            mist.estimate(self.x, self.y, weights="/nonexistent/w.msgpack")
        # a one-dimensional x is one column
        a = mist.estimate(self.x[:, 0], self.y, method="gaussian")
        b = mist.estimate(self.x[:, :1], self.y, method="gaussian")
        self.assertEqual(a.estimate, b.estimate)
        self.assertEqual(float(a), a.estimate)


if __name__ == "__main__":
    unittest.main()
