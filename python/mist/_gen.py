"""mist.gen: a sample of a generator task with its exact MI (gen/mist_gen.h)."""
import ctypes

import numpy as np

from . import _lib


def gen(task, n, dx, dy, seed=0, params=None, transform=None):
    """(x, y, mi): n rows of the task at base dims dx x dy from seed, split into X (n, dx') and
    Y (n, dy') float64 arrays, and the exact I(X;Y) in nats. The same task, dims, seed and
    params give the same values as `mist gen TASK --dims DXxDY --n N --seed S --param ...`.
    params: {name: value}; parameters not given are drawn from their ranges with the seed.
    transform: an MI-preserving chain such as "perm" or "rotate+swap" (`--transform`).
    Raises MistError for an unknown task, impossible dims or a bad parameter."""
    L = _lib.lib()
    err = _lib.Err()
    for what, v in (("n", n), ("dx", dx), ("dy", dy)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise _lib.MistError("%s must be a positive integer; got %r" % (what, v))
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 64:
        raise _lib.MistError("seed must be an integer in [0, 2^64); got %r" % (seed,))
    spec = _lib.TaskSpec()
    name = str(task).encode()
    if len(name) >= _lib.TASK_NAME_LEN:
        raise _lib.MistError("task name too long: %r" % (task,))
    spec.task, spec.dx, spec.dy, spec.n, spec.seed = name, int(dx), int(dy), int(n), int(seed)
    if transform:
        t = str(transform).encode()
        if len(t) >= _lib.TASK_NAME_LEN:
            raise _lib.MistError("transform too long: %r" % (transform,))
        spec.transform = t
    ds = ctypes.POINTER(_lib.Dataset)()
    try:
        for k, v in (params or {}).items():
            _lib.check(L.mist_task_spec_add_param(ctypes.byref(spec), str(k).encode(), float(v),
                                                  ctypes.byref(err)), err)
        _lib.check(L.mist_gen_dataset(ctypes.byref(ds), ctypes.byref(spec), ctypes.byref(err)),
                   err)
        d = ds.contents
        cols = d.dx + d.dy
        a = np.ctypeslib.as_array(d.data, shape=(d.n, cols)).copy()
        mi = d.meta.mi
        return a[:, :d.dx].copy(), a[:, d.dx:].copy(), float(mi)
    finally:
        if ds:
            L.mist_dataset_free(ds)
        L.mist_task_spec_clear(ctypes.byref(spec))
