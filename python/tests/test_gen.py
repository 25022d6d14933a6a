"""mist.gen against the mist command: the same task, dims, seed and params give the same bytes
and the same exact MI; bad tasks raise MistError with the library's message."""
import json
import os
import unittest

import numpy as np

import mist
from _util import Scratch, cli

CASES = [  # task, dx, dy, n, seed, params, transform
    ("normal-2pair-base", 3, 3, 257, 7, {"strength": 2.0}, None),
    ("normal-dense-base", 2, 2, 100, 1, {"c": 0.5}, None),
    ("student-sparse-asinh", 5, 5, 64, 3, None, None),
    ("channel-sine-base", 1, 1, 50, 0, {"a": 0, "b": 1, "c": 0, "sigma": 0.1}, None),
    ("normal-dense-base", 3, 2, 80, 11, None, "rotate+swap"),
]


class GenTest(unittest.TestCase):
    def test_same_as_cli(self):
        with Scratch() as d:
            for task, dx, dy, n, seed, params, transform in CASES:
                with self.subTest(task=task, transform=transform):
                    out = os.path.join(d, "a.npy")
                    args = ["gen", task, "--dims", "%dx%d" % (dx, dy), "--n", n, "--seed", seed,
                            "-o", out]
                    for k, v in (params or {}).items():
                        args += ["--param", "%s=%r" % (k, v)]
                    if transform:
                        args += ["--transform", transform]
                    cli(*args)
                    ref = np.load(out)
                    with open(os.path.join(d, "a.npy.json")) as f:
                        meta = json.load(f)
                    x, y, mi = mist.gen(task, n, dx, dy, seed=seed, params=params,
                                        transform=transform)
                    self.assertEqual(x.shape, (n, meta["dx"]))
                    self.assertEqual(y.shape, (n, meta["dy"]))
                    self.assertTrue(np.array_equal(np.hstack([x, y]), ref))
                    self.assertEqual(mi, meta["mi"])
                    self.assertTrue(x.flags.c_contiguous and y.flags.c_contiguous)

    def test_seeds(self):
        a = mist.gen("normal-dense-base", 30, 2, 2, seed=5)
        b = mist.gen("normal-dense-base", 30, 2, 2, seed=5)
        c = mist.gen("normal-dense-base", 30, 2, 2, seed=6)
        self.assertTrue(np.array_equal(a[0], b[0]) and a[2] == b[2])
        self.assertFalse(np.array_equal(a[0], c[0]))
        # the first rows of a larger sample are the smaller sample (gen/mist_gen.h)
        big = mist.gen("normal-dense-base", 60, 2, 2, seed=5)
        self.assertTrue(np.array_equal(big[0][:30], a[0]))

    def test_errors(self):
        with self.assertRaisesRegex(mist.MistError, "no-such-task"):
            mist.gen("no-such-task", 10, 1, 1)
        with self.assertRaisesRegex(mist.MistError, "bogus"):
            mist.gen("normal-dense-base", 10, 2, 2, params={"bogus": 1})
        with self.assertRaisesRegex(mist.MistError, "n must be"):
            mist.gen("normal-dense-base", 0, 2, 2)
        with self.assertRaisesRegex(mist.MistError, "nope"):
            mist.gen("normal-dense-base", 10, 2, 2, transform="nope")
        with self.assertRaisesRegex(mist.MistError, "c=7 breaks positive definiteness"):
            mist.gen("normal-dense-base", 10, 2, 2, params={"c": 7})


if __name__ == "__main__":
    unittest.main()
