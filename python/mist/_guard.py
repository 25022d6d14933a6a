"""The guard's reasons in words: the same sentences as `mist estimate` (cli/estimate_guard.c)."""
import ctypes

from . import _lib

N_RANGE, DIM_RANGE, MI_RANGE, DISCRETE, BELOW, ABOVE, GAUSSIAN_FIT, NONMONOTONE = (
    1 << i for i in range(8))
REASON_NAMES = {N_RANGE: "n_range", DIM_RANGE: "dims_range", MI_RANGE: "mi_range",
                DISCRETE: "discrete", BELOW: "below_classical", ABOVE: "above_classical",
                GAUSSIAN_FIT: "gaussian_fit", NONMONOTONE: "nonmonotone"}
ANSWER_NAMES = {0: "model", 1: "model_widened", 2: "ksg1", 3: "gaussian_copula", 4: "discrete",
                5: "gaussian", 6: "mixed"}
_ANSWER_WORDS = {2: "KSG's estimate", 3: "the Gaussian copula's estimate",
                 4: "the plug-in MI of the discrete table",
                 5: "the Gaussian MI of the rows (bias-corrected)",
                 6: "the discrete-continuous nearest-neighbour estimate (Ross)"}


def reasons(bits):
    return [name for bit, name in REASON_NAMES.items() if bits & bit]


def _model_words(lo, hi):
    if lo == hi:
        return "the model's estimate %.3f" % lo
    return "the model's 90%% interval [%.3f, %.3f]" % (lo, hi)


def warnings(r, m, n, dx, dy, fallback):
    """r: GuardResult, m: GuardModel; one sentence per reason, then the fallback taken."""
    if not r.reasons:
        return []
    out = []
    K, G = r.ksg1, r.gaussian_copula
    if r.reasons & N_RANGE:
        out.append("n = %d is outside the range the model was trained on (%d..%d): its "
                   "estimate may be biased and its interval is not calibrated there"
                   % (n, m.n_min, m.n_max))
    if r.reasons & DIM_RANGE:
        out.append("dx = %d, dy = %d are outside the dims the model was trained on (%d..%d each)"
                   % (dx, dy, m.d_min, m.d_max))
    if r.reasons & MI_RANGE:
        L = _lib.lib()
        lo, hi = ctypes.c_int(0), ctypes.c_int(0)
        L.mist_guard_mi_bucket_dims(L.mist_guard_mi_bucket(dx, dy), ctypes.byref(lo),
                                    ctypes.byref(hi))
        dims = "= %d" % lo.value if lo.value == hi.value else "in %d..%d" % (lo.value, hi.value)
        out.append("the model's estimate %.3f lies above the MI it was trained on at these dims "
                   "(99.9%% of its training tasks with min(dx, dy) %s have MI <= %.3f nats): it "
                   "extrapolates there (and saturates on high MI)" % (m.median, dims, r.mi_max))
    if r.reasons & DISCRETE:
        j = r.discrete_col
        lab = "x%d" % (j + 1) if j < dx else "y%d" % (j - dx + 1)
        out.append("column %s takes only %d distinct value%s: the model was trained on "
                   "continuous data (discrete or binary variables?)"
                   % (lab, r.discrete_levels, "" if r.discrete_levels == 1 else "s"))
    lo, hi = min(m.lower, m.upper), max(m.lower, m.upper)
    if r.reasons & BELOW:
        use_k = r.answer == 2 or (r.answer != 3 and (not G.ok or (K.ok and K.lower > G.lower)))
        x, who = (K, "KSG's") if use_k else (G, "the Gaussian copula's")
        out.append("%s lies below %s 90%% interval [%.3f, %.3f]: the data may be unlike the "
                   "model's training data (non-monotone dependence, permuted or mixed columns, "
                   "very high MI?)" % (_model_words(lo, hi), who, x.lower, x.upper))
    if r.reasons & ABOVE:
        parts = []
        if K.ok:
            parts.append("KSG's [%.3f, %.3f]" % (K.lower, K.upper))
        if G.ok:
            parts.append("the Gaussian copula's [%.3f, %.3f]" % (G.lower, G.upper))
        out.append("%s lies far above %s: the data may be unlike the model's training data (a "
                   "negated column, discrete values?)" % (_model_words(lo, hi), " and ".join(parts)))
    if r.reasons & GAUSSIAN_FIT:
        N = r.gaussian
        out.append("the rows look jointly Gaussian (Mardia's tests: skewness p = %.2g, kurtosis "
                   "p = %.2g) and their Gaussian MI %.3f [%.3f, %.3f] is not below KSG's %.3f: "
                   "for Gaussian data it is the efficient estimate (the model reads ranks only)"
                   % (r.normal_p_skew, r.normal_p_kurt, N.estimate, N.lower, N.upper, K.estimate))
    if r.reasons & NONMONOTONE:
        out.append("KSG's estimate %.3f [%.3f, %.3f] lies above the Gaussian copula's 90%% "
                   "interval [%.3f, %.3f]: a dependence that ranks miss (non-monotone, mixtures?), "
                   "which every estimate here reads low (the answer takes the higher of the "
                   "model's and KSG's readings; the interval reaches up to %.3f)"
                   % (K.estimate, K.lower, K.upper, G.lower, G.upper, r.upper))
    if fallback and r.reasons == GAUSSIAN_FIT:
        out.append("answering with %s %.3f and the 90%% interval [%.3f, %.3f] (it covers %s and "
                   "the Gaussian one); guard='warn' keeps the model's answer"
                   % (_ANSWER_WORDS[5], r.estimate, r.lower, r.upper, _model_words(lo, hi)))
    elif fallback and r.answer == 4:
        out.append("every column is discrete: answering with %s %.3f and its 90%% interval "
                   "[%.3f, %.3f] (bias-corrected); guard='warn' keeps the model's answer"
                   % (_ANSWER_WORDS[4], r.estimate, r.lower, r.upper))
    elif fallback and r.answer == 6:
        out.append("one block is discrete and the other continuous: answering with %s %.3f and "
                   "its 90%% interval [%.3f, %.3f]; guard='warn' keeps the model's answer"
                   % (_ANSWER_WORDS[6], r.estimate, r.lower, r.upper))
    elif fallback:
        out.append("answering with %s %.3f and the 90%% interval [%.3f, %.3f] (it covers %s%s); "
                   "guard='warn' keeps the model's answer"
                   % (_ANSWER_WORDS.get(r.answer, "the model's median"), r.estimate, r.lower,
                      r.upper, _model_words(lo, hi),
                      " and the classical intervals" if r.answer == 1
                      else " and the classical interval used"))
    return out
