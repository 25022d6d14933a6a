"""Finding libmist and the shipped model, the model cache across threads, and the struct
mirror of the model's architecture against what the C side fills in itself."""
import ctypes
import os
import subprocess
import sys
import threading
import unittest

import numpy as np

import mist
from mist import _lib, _model


class ApiTest(unittest.TestCase):
    def setUp(self):
        self.saved = os.environ.pop("MIST_WEIGHTS", None)

    def tearDown(self):
        os.environ.pop("MIST_WEIGHTS", None)
        if self.saved is not None:
            os.environ["MIST_WEIGHTS"] = self.saved

    def test_default_model_and_env(self):
        qr = mist.default_model_path()
        self.assertTrue(qr.endswith("/mist-qr.msgpack") and os.path.exists(qr), qr)
        x, y, _ = mist.gen("normal-dense-base", 200, 2, 2, seed=1)
        self.assertEqual(mist.estimate(x, y).weights, qr)
        point = mist.default_model_path("mist-point.msgpack")
        os.environ["MIST_WEIGHTS"] = point
        e = mist.estimate(x, y, guard="off")
        self.assertEqual((e.weights, e.quantiles), (point, {}))
        os.environ["MIST_WEIGHTS"] = "/nonexistent/env-model.msgpack"
        with self.assertRaisesRegex(mist.MistError, "/nonexistent/env-model.msgpack"):
            mist.estimate(x, y)
        with self.assertRaisesRegex(mist.MistError, "not a file name"):
            mist.default_model_path("../x.msgpack")

    def test_arch_mirror(self):
        # the trained range read through the Arch mirror equals the one libmist copies into
        # the guard's struct itself
        m = _model.get(mist.default_model_path())
        gm = _lib.GuardModel()
        _lib.lib().mist_guard_model_init(ctypes.byref(gm), m.handle, 0.0, 0.0, 0.0)
        self.assertEqual(m.n_range, (gm.n_min, gm.n_max))
        self.assertEqual(m.d_range, (gm.d_min, gm.d_max))
        self.assertTrue(m.quantile_conditioned)
        self.assertEqual(gm.metadist, b"default")

    def test_struct_layouts(self):
        # every ctypes mirror has the C struct's size and each mirrored field its C offset
        L = _lib.lib()
        for cls, ctype in _lib.MIRRORS.items():
            self.assertEqual(ctypes.sizeof(cls), L.mist_abi_layout(ctype.encode(), None), ctype)
            for f in cls._fields_:
                self.assertEqual(getattr(cls, f[0]).offset,
                                 L.mist_abi_layout(ctype.encode(), f[0].encode()),
                                 "%s.%s" % (ctype, f[0]))
        self.assertEqual(L.mist_abi_layout(b"mist_arch", b"no_such_field"), -1)

    def test_threads(self):
        data = [mist.gen("normal-2pair-base", 300, 2, 2, seed=s) for s in range(8)]
        want = [mist.estimate(x, y, guard="off").estimate for x, y, _ in data]
        got = [None] * len(data)

        def work(i):
            for _ in range(3):
                got[i] = mist.estimate(data[i][0], data[i][1], guard="off").estimate
        ts = [threading.Thread(target=work, args=(i,)) for i in range(len(data))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(got, want)
        # a second call reuses this thread's handle
        path = mist.default_model_path()
        self.assertIs(_model.get(path), _model.get(path))
        # results do not depend on the BLAS threads (beyond float rounding)
        x, y, _ = data[0]
        self.assertAlmostEqual(mist.estimate(x, y, guard="off", threads=2).estimate, want[0],
                               delta=1e-5)

    def test_lib_env(self):
        code = "import mist; mist.gen('normal-dense-base', 10, 1, 1)"
        env = dict(os.environ, MIST_LIB="/nonexistent/libmist.so")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("MistError", r.stderr)
        self.assertIn("/nonexistent/libmist.so", r.stderr)
        if os.environ.get("MIST_LIB"):
            self.assertTrue(os.path.samefile(mist.lib_path(), os.environ["MIST_LIB"]))


if __name__ == "__main__":
    unittest.main()
