"""libmist through ctypes: finding the library, the C prototypes and struct mirrors, errors.

The structs mirror the public headers (core/mist_core.h, classical/mist_classical.h,
infer/mist_infer.h, infer/mist_guard.h, gen/mist_gen.h); tests/test_api.py checks them against
the C command's output.
"""
import ctypes
import glob
import os
import threading
from ctypes import POINTER, c_char, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint, c_uint64, c_void_p

ERRMSG_LEN = 512
TASK_NAME_LEN = 128
PARAM_NAME_LEN = 32


class MistError(ValueError):
    """An error reported by libmist (or a bad argument caught before the call).

    ``code`` is the library's status (1 invalid argument, 2 out of memory, 3 I/O, 4 format,
    5 data, 6 numeric); ``str(e)`` is its message."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class MistWarning(UserWarning):
    """The guard's warnings about the learned model's answer (also in ``Estimate.warnings``)."""


MistError.__module__ = MistWarning.__module__ = "mist"


class Err(ctypes.Structure):
    _fields_ = [("code", c_int), ("msg", c_char * ERRMSG_LEN)]


class EstOpts(ctypes.Structure):
    _fields_ = [("k", c_int), ("zscore", c_int), ("noise", c_double), ("bins", c_int),
                ("miller_madow", c_int), ("bandwidth", c_double), ("copula", c_int),
                ("unbiased", c_int), ("seed", c_uint64), ("threads", c_int), ("bootstrap", c_int), ("ci", c_double),
                ("progress", ctypes.c_void_p), ("progress_ctx", ctypes.c_void_p)]


class EstResult(ctypes.Structure):
    _fields_ = [("estimate", c_double), ("lower", c_double), ("upper", c_double),
                ("n_boot_failed", c_int)]


class Arch(ctypes.Structure):
    _fields_ = [(f, c_int) for f in (
        "input_layout", "preprocess", "max_input_dim", "max_dx", "max_dy", "D", "H", "ff",
        "n_inds", "n_seeds", "n_feature_sab", "n_isab", "n_dec", "n_rho", "rho_hidden",
        "quantile_conditioned", "activation", "gauss_base", "gauss_base_unbiased", "ksg_feature",
        "sign_canon", "gauss_base_cap", "sum_head")] + [
        ("ln_eps", c_double), ("n_min", c_int64), ("n_max", c_int64), ("d_min", c_int64),
        ("d_max", c_int64)]


class GuardModel(ctypes.Structure):
    _fields_ = [("lower", c_double), ("median", c_double), ("upper", c_double),
                ("n_min", c_int64), ("n_max", c_int64), ("d_min", c_int64), ("d_max", c_int64),
                ("metadist", c_char * 32)]


class GuardOpts(ctypes.Structure):
    _fields_ = [("k", c_int), ("seed", c_uint64), ("threads", c_int)]


class GuardXcheck(ctypes.Structure):
    _fields_ = [("ok", c_int), ("estimate", c_double), ("lower", c_double), ("upper", c_double),
                ("se", c_double), ("note", c_char * ERRMSG_LEN)]


class GuardResult(ctypes.Structure):
    _fields_ = [("reasons", c_uint), ("ksg1", GuardXcheck), ("gaussian_copula", GuardXcheck),
                ("mi_max", c_double), ("discrete_col", c_int), ("discrete_levels", c_size_t),
                ("answer", c_int), ("estimate", c_double), ("lower", c_double),
                ("upper", c_double), ("distinct_rows", c_size_t), ("gaussian", GuardXcheck),
                ("normal_p_skew", c_double), ("normal_p_kurt", c_double), ("mixed", GuardXcheck)]


class Param(ctypes.Structure):
    _fields_ = [("name", c_char * PARAM_NAME_LEN), ("value", c_double)]


class Meta(ctypes.Structure):
    _fields_ = [("task", c_char * TASK_NAME_LEN), ("seed", c_uint64), ("has_seed", c_int),
                ("mi", c_double), ("params", POINTER(Param)), ("nparams", c_size_t),
                ("generator_version", c_char * 32), ("transform", c_char * TASK_NAME_LEN),
                ("transform_seed", c_uint64)]


class Dataset(ctypes.Structure):
    _fields_ = [("n", c_size_t), ("dx", c_int), ("dy", c_int), ("data", POINTER(c_double)),
                ("meta", Meta)]


class TaskSpec(ctypes.Structure):
    _fields_ = [("task", c_char * TASK_NAME_LEN), ("dx", c_int), ("dy", c_int), ("n", c_size_t),
                ("seed", c_uint64), ("params", POINTER(Param)), ("nparams", c_size_t),
                ("id", c_char * 64), ("transform", c_char * TASK_NAME_LEN)]


# The C struct behind each mirror (the Python tests compare their layouts: mist_abi_layout).
MIRRORS = {Err: "mist_err", EstOpts: "mist_est_opts", EstResult: "mist_est_result",
           Arch: "mist_arch", GuardModel: "mist_guard_model", GuardOpts: "mist_guard_opts",
           GuardXcheck: "mist_guard_xcheck", GuardResult: "mist_guard_result",
           Param: "mist_param", Meta: "mist_meta", Dataset: "mist_dataset",
           TaskSpec: "mist_task_spec"}


_DOUBLES = POINTER(c_double)
_PROTOTYPES = {
    # name: (restype, argtypes)
    "mist_est_opts_default": (None, [POINTER(EstOpts)]),
    "mist_abi_layout": (ctypes.c_longlong, [c_char_p, c_char_p]),
    "mist_est_known": (c_int, [c_char_p]),
    "mist_estimate_classical": (c_int, [c_char_p, _DOUBLES, c_size_t, c_int, c_int,
                                        POINTER(EstOpts), POINTER(EstResult), POINTER(Err)]),
    "mist_default_model_path": (c_int, [c_char_p, c_char_p, c_size_t, POINTER(Err)]),
    "mist_model_open": (c_void_p, [c_char_p, POINTER(Err)]),
    "mist_model_free": (None, [c_void_p]),
    "mist_model_arch": (POINTER(Arch), [c_void_p]),
    "mist_model_set_raw_quantiles": (None, [c_void_p, c_int]),
    "mist_model_set_col_canon": (None, [c_void_p, c_int]),
    "mist_model_col_canon": (c_int, [c_void_p]),
    "mist_model_set_row_chunk": (None, [c_void_p, c_size_t]),
    "mist_model_row_chunk": (c_size_t, [c_void_p]),
    "mist_model_route_pick": (c_void_p, [c_void_p, _DOUBLES, c_size_t, c_int, c_int,
                                         POINTER(c_double), POINTER(c_int), POINTER(Err)]),
    "mist_model_route_alt": (c_void_p, [c_void_p, POINTER(c_double)]),
    "mist_model_check_rows": (c_int, [c_void_p, _DOUBLES, c_size_t, c_int, c_int, POINTER(Err)]),
    "mist_constant_sides": (c_int, [_DOUBLES, c_size_t, c_int, c_int, POINTER(c_int)]),
    "mist_constant_side_upper": (c_double, [c_size_t, c_double]),
    "mist_model_estimate": (c_int, [c_void_p, _DOUBLES, c_size_t, c_int, c_int, _DOUBLES,
                                    c_size_t, _DOUBLES, POINTER(Err)]),
    "mist_model_estimate_picked": (c_int, [c_void_p, c_void_p, c_int, _DOUBLES, c_size_t, c_int,
                                           c_int, _DOUBLES, c_size_t, _DOUBLES, POINTER(Err)]),
    "mist_model_estimate_routed": (c_int, [c_void_p, _DOUBLES, c_size_t, c_int, c_int, _DOUBLES,
                                           c_size_t, _DOUBLES, POINTER(c_void_p),
                                           POINTER(c_double), POINTER(c_int), POINTER(Err)]),
    "mist_infer_set_threads": (c_int, [c_int, POINTER(Err)]),
    "mist_infer_get_threads": (c_int, []),
    "mist_infer_blas_core": (c_char_p, []),
    "mist_guard_model_init": (None, [POINTER(GuardModel), c_void_p, c_double, c_double, c_double]),
    "mist_guard_opts_default": (None, [POINTER(GuardOpts)]),
    "mist_guard_run": (c_int, [_DOUBLES, c_size_t, c_int, c_int, POINTER(GuardModel),
                               POINTER(GuardOpts), POINTER(GuardResult), POINTER(Err)]),
    "mist_guard_apply": (c_int, [POINTER(GuardResult), POINTER(c_double), POINTER(c_double),
                                 POINTER(c_double)]),
    "mist_guard_mi_bucket": (c_int, [c_int, c_int]),
    "mist_guard_mi_bucket_dims": (c_int, [c_int, POINTER(c_int), POINTER(c_int)]),
    "mist_task_spec_add_param": (c_int, [POINTER(TaskSpec), c_char_p, c_double, POINTER(Err)]),
    "mist_task_spec_clear": (None, [POINTER(TaskSpec)]),
    "mist_gen_dataset": (c_int, [POINTER(POINTER(Dataset)), POINTER(TaskSpec), POINTER(Err)]),
    "mist_dataset_free": (None, [POINTER(Dataset)]),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _candidates():
    """Where libmist may be, best first: $MIST_LIB, the install prefix this package sits in,
    the build trees next to this source tree, then the system's library path."""
    env = os.environ.get("MIST_LIB")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    try:
        from . import _install
        libdir = os.path.normpath(os.path.join(here, _install.LIBDIR))
        out += [os.path.join(libdir, "libmist.so"), os.path.join(libdir, "libmist.so.0")]
    except ImportError:
        pass
    root = os.path.dirname(os.path.dirname(here))  # python/mist -> the source tree
    builds = [os.path.join(root, "build", "libmist.so")]
    others = sorted(glob.glob(os.path.join(root, "build*", "libmist.so")),
                    key=lambda p: -os.path.getmtime(p))
    out += builds + [p for p in others if p not in builds]
    out.append("libmist.so.0")  # the loader's own search (an install in the system's libdir)
    return out, False


def _sanitized(path):
    """An ASan build of libmist needs its runtime loaded first: dlopen from a plain python
    would abort the process, not fail. Its DT_NEEDED names sit in the file's first pages."""
    try:
        with open(path, "rb") as f:
            return b"libasan.so" in f.read(1 << 16)
    except OSError:
        return False


def lib():
    """The loaded libmist (loaded and prototyped once)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        paths, explicit = _candidates()
        tried = []
        for p in paths:
            if "/" in p and not os.path.exists(p):
                tried.append(p + " (absent)")
                continue
            if "/" in p and _sanitized(p):
                tried.append(p + " (a sanitizer build)")
                continue
            try:
                handle = ctypes.CDLL(p)
                for name, (res, args) in _PROTOTYPES.items():
                    f = getattr(handle, name)
                    f.restype, f.argtypes = res, args
            except (OSError, AttributeError) as e:
                # an ASan build cannot load into a plain python; an old build lacks a symbol
                tried.append("%s (%s)" % (p, e))
                if explicit:
                    break
                continue
            _lib, _lib_path = handle, p
            return _lib
        raise MistError("libmist not found or not loadable; set MIST_LIB to the path of "
                        "libmist.so. Tried: " + "; ".join(tried), 3)


def lib_path():
    """The file libmist was loaded from."""
    lib()
    return _lib_path


def check(rc, err):
    if rc:
        raise MistError(err.msg.decode("utf-8", "replace") or "error %d" % rc, err.code or rc)


def doubles(a):
    return a.ctypes.data_as(_DOUBLES)
