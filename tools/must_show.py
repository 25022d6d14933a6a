#!/usr/bin/python3
"""The robust-models issue's bars for one candidate, from the harness's results.csv files.

usage: tools/must_show.py CANDIDATE_LABEL [OUTDIR]     (default out/honest)

Reads OUTDIR/robust (mist-imd) and OUTDIR/robust-oomd (mist-oomd), suite seeds 1-2, every
transform, and OUTDIR/new-families. Bars:
  - mist-imd / mist-oomd: per transform and n-bucket ([10,100), [100,300), [300,500]), the
    candidate's MSE at most half the best of ksg1, gaussian, gaussian:copula; 90% coverage of the
    candidate in [0.85, 0.95] per transform;
  - new-families: per family (task name without the n), MSE at most the best classical one,
    coverage at least 0.85;
then, counted apart: random column sign flips (OUTDIR/negate) moving the estimate by at most
0.05 nats on average, and bmi40 (OUTDIR/bmi40-n100, -n1000, -n10000) MSE falling with n.
Like for like: each comparison is over the datasets both estimators answered (gaussian and
gaussian:copula fail when n <= dx + dy, which are among the hardest datasets), and a bar "at
most half the best classical MSE" holds only if it holds against each classical estimator; the
cell names the binding one. For reference each cell also shows the bias-corrected Gaussian
copula (gaussian:copula:unbiased, not one of the issue's three) over the datasets it shares
with the candidate, where its rows exist. Prints Markdown tables with PASS/FAIL per cell and a count. Standard library
only.
"""
import csv
import math
import os
import sys
from collections import defaultdict

# set by main() (the module is also imported, by tools/bars_compare.py, for the bar rule)
CAND = None
OUT = "out/honest"
CLASSICAL = ("ksg1:k=5", "gaussian", "gaussian:copula")
INFO = "gaussian:copula:unbiased"
# shown beside the new families (not one of the bar's three): the plug-in for discrete data, the
# guard's answer when every column is discrete
INFO_DISCRETE = "discrete"
# likewise the discrete-continuous estimator, the guard's answer for one discrete block
INFO_MIXED = "mixed"
BUCKETS = ((10, 100, "[10,100)"), (100, 300, "[100,300)"), (300, 501, "[300,500]"))


def bucket(n):
    for lo, hi, name in BUCKETS:
        if lo <= n < hi:
            return name
    return "n>500"


def rows(folder):
    path = os.path.join(OUT, folder, "results.csv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["status"] == "ok" and r["scored"] == "1":
                yield r


def stats(errs):
    m = sum(errs) / len(errs)
    sd = math.sqrt(sum((e - m) ** 2 for e in errs) / max(1, len(errs) - 1))
    return m, sd / math.sqrt(len(errs))


def shared(cl, cand):
    """(classical MSE, candidate MSE, count) over the datasets both answered."""
    ids = [i for i in cl if i in cand]
    if not ids:
        return (math.inf, math.inf, 0)
    return (sum(cl[i] for i in ids) / len(ids), sum(cand[i] for i in ids) / len(ids), len(ids))


def binding(sq, key, cand):
    """The comparison that decides the bar: against each classical estimator on the datasets both
    answered, the one where the candidate's MSE is the largest multiple of the classical one
    (the bar holds for the best of them only if it holds for each)."""
    rows = [shared(sq[key + (e,)], cand) + (e,) for e in CLASSICAL if sq.get(key + (e,))]
    return max(rows, key=lambda r: r[1] / r[0] if r[0] > 0 else math.inf)


def suite_bars(folder, title):
    it = rows(folder)
    if it is None:
        print("(%s: no results in %s)\n" % (title, folder))
        return 0, 0
    sq = defaultdict(dict)  # (transform, bucket, estimator) -> {dataset id: squared error}
    cov = defaultdict(list)  # (transform, estimator) -> 0/1
    for r in it:
        e = r["estimator"]
        if e != CAND and e not in CLASSICAL and e != INFO:
            continue
        t, b = r["transform"], bucket(int(r["n"]))
        sq[(t, b, e)][r["id"]] = float(r["sq_err"])
        if e == CAND and r["lower"] and r["upper"]:
            mi = float(r["mi"])
            cov[(t, e)].append(float(r["lower"]) <= mi <= float(r["upper"]))
    trs = sorted({k[0] for k in sq}, key=lambda t: ("none", "perm", "rotate", "swap",
                                                     "flow").index(t) if t in (
        "none", "perm", "rotate", "swap", "flow") else 9)
    print("#### %s: candidate MSE ± SE vs half the best classical MSE, per n-bucket" % title)
    print()
    print("Cells: candidate MSE ± SE (all its datasets); then the binding classical estimator "
          "(the largest candidate/classical ratio): its MSE / 2 vs the candidate's MSE over the "
          "datasets both answered (count).")
    print()
    print("| transform | " + " | ".join(b[2] for b in BUCKETS) + " | 90% coverage |")
    print("|---|--:|--:|--:|--:|")
    ok = total = 0
    for t in trs:
        cells = []
        for _, _, b in BUCKETS:
            c = sq.get((t, b, CAND))
            if not c:
                cells.append("–")
                continue
            m, se = stats(list(c.values()))
            best = binding(sq, (t, b), c)
            good = best[1] <= best[0] / 2
            ok += good
            total += 1
            info = ""
            if sq.get((t, b, INFO)):
                u = shared(sq[(t, b, INFO)], c)
                info = " [copula,unbiased %.3g vs %.3g (%d)]" % u
            cells.append("%.3g ± %.2g; vs %s: %.3g/2 vs %.3g (%d) %s%s" % (
                m, se, best[3], best[0], best[1], best[2], "PASS" if good else "FAIL", info))
        cv = cov.get((t, CAND))
        if cv:
            c = sum(cv) / len(cv)
            good = 0.85 <= c <= 0.95
            ok += good
            total += 1
            cells.append("%.3f %s" % (c, "PASS" if good else "FAIL"))
        else:
            cells.append("–")
        print("| %s | %s |" % (t, " | ".join(cells)))
    print()
    return ok, total


def family_bars():
    it = rows("new-families")
    if it is None:
        print("(new-families: no results)\n")
        return 0, 0
    sq = defaultdict(dict)
    cov = defaultdict(list)
    for r in it:
        e = r["estimator"]
        if e != CAND and e not in CLASSICAL and e not in (INFO, INFO_DISCRETE, INFO_MIXED):
            continue
        if r["status"] != "ok":
            continue
        fam = r["task"]
        sq[(fam, e)][r["id"]] = float(r["sq_err"])
        if e == CAND and r["lower"] and r["upper"]:
            mi = float(r["mi"])
            cov[fam].append(float(r["lower"]) <= mi <= float(r["upper"]))
    fams = sorted({k[0] for k in sq})
    print("#### new-families (held out): candidate MSE vs the best classical MSE, coverage")
    print()
    print("| family | candidate MSE ± SE | best classical | coverage |")
    print("|---|--:|--:|--:|")
    ok = total = 0
    for fam in fams:
        c = sq.get((fam, CAND))
        if not c:
            continue
        m, se = stats(list(c.values()))
        best = binding(sq, (fam,), c)
        info = ""
        if sq.get((fam, INFO)):
            info = " [copula,unbiased %.3g]" % shared(sq[(fam, INFO)], c)[0]
        if sq.get((fam, INFO_DISCRETE)):
            d = shared(sq[(fam, INFO_DISCRETE)], c)
            info += " [discrete %.3g, %d datasets]" % (d[0], d[2])
        if sq.get((fam, INFO_MIXED)):
            d = shared(sq[(fam, INFO_MIXED)], c)
            info += " [mixed %.3g, %d datasets]" % (d[0], d[2])
        g1 = best[1] <= best[0]
        cv = sum(cov[fam]) / len(cov[fam]) if cov[fam] else float("nan")
        g2 = cv >= 0.85
        ok += g1 + g2
        total += 2
        print("| %s | %.3g ± %.2g (shared: %.3g) %s | %.3g (%s, %d datasets)%s | %.3f %s |" % (
            fam, m, se, best[1], "PASS" if g1 else "FAIL", best[0], best[3], best[2], info, cv,
            "PASS" if g2 else "FAIL"))
    print()
    return ok, total


def sign_bar():
    """Random column sign flips (OUTDIR/negate, mist-imd suite seed 1): mean |change| <= 0.05."""
    path = os.path.join(OUT, "negate", "results.csv")
    if not os.path.exists(path):
        print("(negate: no results)\n")
        return 0, 0
    est = defaultdict(dict)
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["status"] == "ok" and r["estimator"] == CAND:
                est[r["transform"]][r["id"]] = float(r["estimate"])
    d = [abs(v - est["none"][k]) for k, v in est.get("negate", {}).items() if k in est["none"]]
    if not d:
        print("(negate: no rows of the candidate)\n")
        return 0, 0
    m, se = stats(d)
    ok = m <= 0.05
    print("#### Sign flips (mist-imd, suite seed 1): mean |estimate(negate) - estimate(none)|")
    print()
    print("%.4f ± %.4f (SE) nats over %d datasets, largest %.3g: %s (bar 0.05)\n" % (
        m, se, len(d), max(d), "PASS" if ok else "FAIL"))
    return int(ok), 1


def bmi40_bar():
    """bmi40, suite seed 1, at n = 100, 1,000, 10,000 (OUTDIR/bmi40-nN): MSE falling with n.
    Coverage and ksg1's MSE are shown beside it (no bar)."""
    res = []
    for n in (100, 1000, 10000):
        it = rows("bmi40-n%d" % n)
        sq, cov, ksg = [], [], []
        for r in it if it is not None else ():
            if r["estimator"] == CAND:
                sq.append(float(r["sq_err"]))
                if r["lower"] and r["upper"]:
                    cov.append(float(r["lower"]) <= float(r["mi"]) <= float(r["upper"]))
            elif r["estimator"] == CLASSICAL[0]:
                ksg.append(float(r["sq_err"]))
        if not sq:
            print("(bmi40 at n = %d: no rows of the candidate)\n" % n)
            return 0, 0
        res.append((n, stats(sq), sum(cov) / len(cov) if cov else float("nan"),
                    sum(ksg) / len(ksg) if ksg else float("nan"), len(sq)))
    ok = res[0][1][0] > res[1][1][0] > res[2][1][0]
    print("#### bmi40 (suite seed 1): MSE falling as n grows")
    print()
    print("| n | candidate MSE ± SE | 90% coverage | ksg1 MSE | tasks |")
    print("|--:|--:|--:|--:|--:|")
    for n, (m, se), cv, k, c in res:
        print("| %d | %.3g ± %.2g | %.3f | %.3g | %d |" % (n, m, se, cv, k, c))
    print("\n%s\n" % ("PASS" if ok else "FAIL"))
    return int(ok), 1


def main():
    global CAND, OUT
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    CAND = sys.argv[1]
    OUT = sys.argv[2] if len(sys.argv) > 2 else "out/honest"
    print("Candidate: %s\n" % CAND)
    res = [suite_bars("robust", "mist-imd (suite seeds 1-2)"),
           suite_bars("robust-oomd", "mist-oomd (suite seeds 1-2)"),
           family_bars()]
    print("Bars met: %d of %d" % (sum(r[0] for r in res), sum(r[1] for r in res)))
    extra = [sign_bar(), bmi40_bar()]
    print("Also: sign flips and bmi40, %d of %d" % (sum(r[0] for r in extra),
                                                  sum(r[1] for r in extra)))


if __name__ == "__main__":
    main()
