"""mist.mutual_info: one MI per column; the dependent columns stand out; each column equals
mist.estimate on that column; KSG agrees with scikit-learn's mutual_info_regression when
scikit-learn is installed (that comparison alone is skipped without it)."""
import unittest

import numpy as np

import mist


def ten_columns(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    y = X[:, 2] + 0.7 * np.tanh(X[:, 7]) + 0.4 * rng.normal(size=n)
    return X, y


class MutualInfoTest(unittest.TestCase):
    def test_dependent_columns_larger(self):
        X, y = ten_columns()
        for method, opts in (("mist", {}), ("ksg", {}), ("gaussian:copula", {})):
            with self.subTest(method=method):
                r = mist.mutual_info(X, y, method=method, **opts)
                est = np.asarray(r)
                self.assertEqual(est.shape, (10,))
                others = np.delete(est, [2, 7])
                self.assertGreater(est[2], est[7])
                self.assertGreater(est[7], others.max() + 0.05, est)

    def test_intervals_and_columns(self):
        X, y = ten_columns(n=300, seed=1)
        r = mist.mutual_info(X, y)
        self.assertEqual(r.lower.shape, (10,))
        self.assertTrue(np.all(r.lower <= r.estimate) and np.all(r.estimate <= r.upper))
        self.assertEqual(r.ci, 0.9)
        self.assertEqual(len(r.warnings), 10)
        for j in (0, 2, 7):
            e = mist.estimate(X[:, j], y, warn=False)
            self.assertEqual((e.estimate, e.lower, e.upper),
                             (r.estimate[j], r.lower[j], r.upper[j]))
        # the true dependence lies inside the dependent columns' intervals or near them;
        # the independent columns' intervals reach down to (about) zero
        self.assertTrue(np.all(np.delete(r.lower, [2, 7]) < 0.05), r.lower)
        b = mist.mutual_info(X[:, :3], y, method="ksg", bootstrap=30, seed=2)
        self.assertTrue(np.all(b.lower <= b.upper) and np.all(np.isfinite(b.lower)))

    def test_bad_input(self):
        X, y = ten_columns(n=50)
        with self.assertRaisesRegex(mist.MistError, "same number of rows"):
            mist.mutual_info(X, y[:40])
        with self.assertRaisesRegex(mist.MistError, "no columns"):
            mist.mutual_info(X[:, :0], y)

    def test_sklearn_ksg(self):
        try:
            from sklearn.feature_selection import mutual_info_regression
        except ImportError:
            self.skipTest("scikit-learn is not installed (Debian python3-sklearn)")
        X, y = ten_columns(n=400, seed=3)
        ref = mutual_info_regression(X, y, n_neighbors=3, random_state=0)
        # the same KSG (algorithm 1, max-norm, columns scaled to unit sd); scikit-learn clips
        # at 0 and adds its own 1e-10 tie-breaking noise
        ours = np.maximum(np.asarray(mist.mutual_info(X, y, method="ksg1", k=3)), 0)
        np.testing.assert_allclose(ours, ref, atol=1e-6)


if __name__ == "__main__":
    unittest.main()
