#!/usr/bin/env python3
"""numpy interop helper for tests/test_io.c.

  npy_check.py check PATH DTYPE N COLS SEED
      numpy.load(PATH) must give shape (N, COLS), dtype DTYPE (f8 or f4) and the values
      v[i, j] = (i * COLS + j) * 0.5 - 3.25; the JSON sidecar next to PATH must load with
      Python's json module and agree on n, dx + dy and the exact 64-bit seed.
  npy_check.py write DIR
      Writes reference files with numpy.save for the C reader (and for a byte comparison with
      mist's writer): ref_f8.npy (5x3), ref_f4.npy (4x2), ref_1d.npy (6,), ref_v2.npy (3x2,
      format 2.0), ref_fortran.npy, ref_big.npy ('>f8'), ref_i8.npy (int64).

Exit status 0 on success; any failure prints a reason and exits 1.
"""
import json
import os
import sys

import numpy as np
from numpy.lib import format as npformat


def pattern(n, cols, dtype):
    return ((np.arange(n * cols, dtype=np.float64) * 0.5) - 3.25).reshape(n, cols).astype(dtype)


def fail(msg):
    print("npy_check: " + msg)
    sys.exit(1)


def check(path, dtype, n, cols, seed):
    a = np.load(path, allow_pickle=False)
    if a.shape != (n, cols):
        fail("shape %r, expected %r" % (a.shape, (n, cols)))
    if a.dtype != np.dtype("<" + dtype):
        fail("dtype %s, expected <%s" % (a.dtype.str, dtype))
    if not a.flags["C_CONTIGUOUS"]:
        fail("array is not C-ordered")
    if not np.array_equal(a, pattern(n, cols, dtype)):
        fail("values differ")
    with open(path, "rb") as f:
        major, _ = npformat.read_magic(f)
        if major != 1:
            fail("format version %d, expected 1" % major)
        npformat.read_array_header_1_0(f)
        if f.tell() % 64 != 0:
            fail("data starts at byte %d, not a multiple of 64" % f.tell())
    side = path + ".json"
    with open(side) as f:
        meta = json.load(f)
    if meta.get("format") != "mist-dataset":
        fail("sidecar format %r" % meta.get("format"))
    if meta["n"] != n or meta["dx"] + meta["dy"] != cols:
        fail("sidecar n/dx/dy %r/%r/%r" % (meta["n"], meta["dx"], meta["dy"]))
    if meta["seed"] != seed:
        fail("sidecar seed %r, expected %d" % (meta["seed"], seed))
    if meta["dtype"] != {"f8": "f64", "f4": "f32"}[dtype]:
        fail("sidecar dtype %r" % meta["dtype"])
    if meta["file"] != os.path.basename(path):
        fail("sidecar file %r" % meta["file"])


def write(d):
    np.save(os.path.join(d, "ref_f8.npy"), pattern(5, 3, "f8"))
    np.save(os.path.join(d, "ref_f4.npy"), pattern(4, 2, "f4"))
    np.save(os.path.join(d, "ref_1d.npy"), pattern(6, 1, "f8").reshape(6))
    with open(os.path.join(d, "ref_v2.npy"), "wb") as f:
        npformat.write_array(f, pattern(3, 2, "f8"), version=(2, 0))
    np.save(os.path.join(d, "ref_fortran.npy"), np.asfortranarray(pattern(3, 2, "f8")))
    np.save(os.path.join(d, "ref_big.npy"), pattern(3, 2, ">f8"))
    np.save(os.path.join(d, "ref_i8.npy"), np.arange(6, dtype="<i8").reshape(3, 2))
    np.save(os.path.join(d, "ref_u1.npy"), np.arange(6, dtype="u1").reshape(3, 2))
    np.save(os.path.join(d, "ref_i4_fortran.npy"),
            np.asfortranarray(np.arange(6, dtype="<i4").reshape(3, 2) - 3))
    # .npz: named x and y (stored last, to show the names win over the order), two unnamed
    # arrays, one array, and a compressed archive (refused)
    y, x = pattern(4, 1, "f8"), pattern(4, 2, "f8")
    np.savez(os.path.join(d, "ref_xy.npz"), y=y, other=pattern(4, 3, "f8"), x=x)
    np.savez(os.path.join(d, "ref_ab.npz"), x, y)
    np.savez(os.path.join(d, "ref_one.npz"), pattern(5, 3, "f8"))
    np.savez_compressed(os.path.join(d, "ref_comp.npz"), x=x, y=y)


def main(argv):
    if len(argv) == 7 and argv[1] == "check":
        check(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]))
    elif len(argv) == 3 and argv[1] == "write":
        write(argv[2])
    else:
        fail("usage: npy_check.py check PATH f8|f4 N COLS SEED | write DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
