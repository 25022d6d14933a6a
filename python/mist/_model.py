"""Open learned models once per thread and keep them.

A mist_model handle owns its scratch memory and must not run two estimates at once
(infer/mist_infer.h), while ctypes releases the GIL during the call: each thread gets its own
handle of each weights file, freed when the thread ends.
"""
import ctypes
import threading

from . import _lib

_local = threading.local()
_threads_lock = threading.Lock()


class Model:
    def __init__(self, path):
        L = _lib.lib()
        err = _lib.Err()
        self._free = L.mist_model_free
        self.handle = L.mist_model_open(path.encode(), ctypes.byref(err))
        if not self.handle:
            _lib.check(err.code or 3, err)
        self.path = path
        a = L.mist_model_arch(self.handle).contents
        self.quantile_conditioned = bool(a.quantile_conditioned)
        # the weights' own choice (meta "columns"); estimate(columns=...) overrides per call
        self.columns_canonical = bool(L.mist_model_col_canon(self.handle))
        self.row_chunk = int(L.mist_model_row_chunk(self.handle))  # the model's default
        self.n_range = (a.n_min, a.n_max)
        self.d_range = (a.d_min, a.d_max)
        self.max_dims = (a.max_dx, a.max_dy)

    def __del__(self):
        if getattr(self, "handle", None):
            self._free(self.handle)
            self.handle = None


def default_path(name=None):
    """The path of a shipped model (None: the default, mist-qr.msgpack), found as the `mist`
    command finds it: $MIST_WEIGHTS, <prefix>/share/mist/weights, the source tree's weights/."""
    L = _lib.lib()
    err = _lib.Err()
    buf = ctypes.create_string_buffer(4096)
    _lib.check(L.mist_default_model_path(name.encode() if name else None, buf, len(buf),
                                         ctypes.byref(err)), err)
    return buf.value.decode()


def get(path):
    """This thread's handle of the weights file at path."""
    models = getattr(_local, "models", None)
    if models is None:
        models = _local.models = {}
    m = models.get(path)
    if m is None:
        m = models[path] = Model(path)
    return m


def set_blas_threads(threads):
    """OpenBLAS threads are process-wide: set them only when they change."""
    L = _lib.lib()
    with _threads_lock:
        if L.mist_infer_get_threads() != threads:
            err = _lib.Err()
            _lib.check(L.mist_infer_set_threads(threads, ctypes.byref(err)), err)
