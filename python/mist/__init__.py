"""mist from Python: mutual information, meta-learned and classical, over libmist (ctypes).

    import numpy as np, mist
    x, y, mi = mist.gen("normal-2pair-base", 500, 3, 3, seed=1)
    e = mist.estimate(x, y)                  # the shipped quantile model: median, 90% interval
    k = mist.estimate(x, y, method="ksg")    # KSG (k = 5)
    f = mist.mutual_info(X, y)               # one MI per column of X, with intervals

Arrays in, Python objects out, no files. Errors raise mist.MistError with the library's
message. libmist is found through $MIST_LIB, the install prefix this package lives in, or a
build tree next to the source tree.
"""
from ._lib import MistError, MistWarning, lib_path
from ._estimate import Estimate, estimate, METHODS
from ._features import FeatureMI, mutual_info
from ._gen import gen
from ._model import default_path as default_model_path

__version__ = "0.1.0"
__all__ = ["estimate", "gen", "mutual_info", "Estimate", "FeatureMI", "MistError", "MistWarning",
           "default_model_path", "lib_path", "METHODS"]
