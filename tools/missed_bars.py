#!/usr/bin/python3
"""Why the robust-models issue's missed bars are missed: the measurements behind
weights/benchmarks/missed-bars.md, from the harness's results.csv files.

usage: tools/missed_bars.py CANDIDATE_LABEL [OUTDIR]     (default out/honest)

Reads OUTDIR/robust-oomd (mist-oomd, suite seeds 1-2, transform flow at least) and
OUTDIR/new-families (suite seeds 1-2), as tools/must_show.py does, and prints:
  1. mist-oomd flow at n < 100, the datasets the candidate shares with the Gaussian copula (the
     bar's binding comparison), split by the truth against log n, the most a sample of n rows
     can certify without assumptions on the distribution (McAllester and Stratos 2020): squared
     error summed per part for the candidate and the copula, and their mean bias;
  2. the new families whose MSE bar is missed: the paired difference of squared errors,
     candidate minus the best classical estimator, its standard error and t;
  3. the channel families' uncovered datasets: on which side the truth lies, and whether the
     data show the signal the guard widens on (KSG's estimate above the copula's upper end)
     and any classical estimate reaches half the truth (the copula's interval: the harness's
     bootstrap one, so that run needs --bootstrap).
Standard library only.
"""
import csv
import math
import os
import sys
from collections import Counter, defaultdict

KSG = "ksg1:k=5"
COPULA = "gaussian:copula"
CLASSICAL = (KSG, "gaussian", COPULA)


def rows(out, folder):
    path = os.path.join(out, folder, "results.csv")
    if not os.path.exists(path):
        print("(no %s)\n" % path)
        return
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["status"] == "ok" and r["scored"] == "1":
                yield r


def oomd_flow_small_n(cand, out):
    est = defaultdict(dict)
    info = {}
    for r in rows(out, "robust-oomd"):
        if r["transform"] != "flow" or int(r["n"]) >= 100:
            continue
        est[r["id"]][r["estimator"]] = float(r["estimate"])
        info[r["id"]] = (float(r["mi"]), int(r["n"]))
    ids = [i for i in est if cand in est[i] and COPULA in est[i]]
    if not ids:
        print("(mist-oomd flow: no datasets shared by the candidate and %s)\n" % COPULA)
        return

    def mse(e, sel):
        return sum((est[i][e] - info[i][0]) ** 2 for i in sel) / len(sel)

    print("#### mist-oomd flow, n < 100: squared error by the truth against log n")
    print()
    print("Over the %d datasets the candidate shares with %s: candidate MSE %.3f, copula %.3f "
          "(bar: %.3f)." % (len(ids), COPULA, mse(cand, ids), mse(COPULA, ids),
                            mse(COPULA, ids) / 2))
    print()
    print("| truth | datasets | candidate SSE | copula SSE | ratio | candidate bias | "
          "copula bias |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    parts = (("MI <= log n", lambda mi, n: mi <= math.log(n)),
             ("log n < MI <= 2 log n", lambda mi, n: math.log(n) < mi <= 2 * math.log(n)),
             ("MI > 2 log n", lambda mi, n: mi > 2 * math.log(n)))
    for name, keep in parts:
        sel = [i for i in ids if keep(*info[i])]
        if not sel:
            continue
        sc = sum((est[i][cand] - info[i][0]) ** 2 for i in sel)
        sg = sum((est[i][COPULA] - info[i][0]) ** 2 for i in sel)
        bc = sum(est[i][cand] - info[i][0] for i in sel) / len(sel)
        bg = sum(est[i][COPULA] - info[i][0] for i in sel) / len(sel)
        print("| %s | %d | %.1f | %.1f | %.2f | %+.2f | %+.2f |" % (
            name, len(sel), sc, sg, sc / sg if sg > 0 else math.inf, bc, bg))
    rest = [i for i in ids if info[i][0] <= 2 * math.log(info[i][1])]
    if rest:
        print()
        print("Without the MI > 2 log n part: candidate %.3f, copula %.3f (ratio %.2f)." % (
            mse(cand, rest), mse(COPULA, rest), mse(cand, rest) / mse(COPULA, rest)))
    print()


def family_ties(cand, out):
    sq = defaultdict(dict)  # (family, estimator) -> {id: squared error}
    for r in rows(out, "new-families"):
        e = r["estimator"]
        if e == cand or e in CLASSICAL:
            sq[(r["task"], e)][r["id"]] = float(r["sq_err"])
    print("#### new families: candidate minus the best classical estimator, paired")
    print()
    print("| family | best classical | datasets | mean difference of squared errors | SE | t |")
    print("|---|---|--:|--:|--:|--:|")
    for fam in sorted({k[0] for k in sq}):
        c = sq.get((fam, cand))
        if not c:
            continue
        best = None
        for e in CLASSICAL:
            cl = sq.get((fam, e))
            if not cl:
                continue
            shared_ids = [i for i in c if i in cl]
            m = sum(cl[i] for i in shared_ids) / len(shared_ids)
            if best is None or m < best[0]:
                best = (m, e, shared_ids)
        if best is None:
            continue
        d = [c[i] - sq[(fam, best[1])][i] for i in best[2]]
        if sum(d) <= 0:
            continue  # the bar is met
        n = len(d)
        m = sum(d) / n
        se = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1) / n)
        print("| %s | %s | %d | %+.3g | %.2g | %.2f |" % (fam, best[1], n, m, se,
                                                         m / se if se > 0 else math.inf))
    print()


def channel_misses(cand, out):
    by = defaultdict(dict)
    for r in rows(out, "new-families"):
        if r["task"].startswith("channel"):
            by[r["id"]][r["estimator"]] = r
    count = Counter()
    for v in by.values():
        c = v.get(cand)
        if not c or not c["lower"] or not c["upper"] or KSG not in v or COPULA not in v:
            continue
        if not v[COPULA]["upper"]:
            count["no copula interval"] += 1  # the harness gives one with --bootstrap
            continue
        mi = float(c["mi"])
        shape = (c["task"], "%sx%s" % (c["dx"], c["dy"]), int(c["n"]))
        if float(c["lower"]) <= mi <= float(c["upper"]):
            count[(shape, "covered")] += 1
            continue
        side = "truth above" if mi > float(c["upper"]) else "truth below"
        signal = float(v[KSG]["estimate"]) > float(v[COPULA]["upper"])
        reach = max(float(v[e]["estimate"]) for e in CLASSICAL if e in v) >= mi / 2
        count[(shape, "%s, %s, %s" % (
            side, "signal" if signal else "no signal",
            "a classical estimate reaches half the truth" if reach else
            "every classical estimate below half the truth"))] += 1
    if count["no copula interval"]:
        print("(channel families: the run has no intervals of %s; run it with --bootstrap)\n"
              % COPULA)
        return
    print("#### channel families: the uncovered datasets")
    print()
    print("| shape | covered | uncovered: side, KSG above the copula's upper end, classical "
          "reach | count |")
    print("|---|--:|---|--:|")
    for shape in sorted({k[0] for k in count}):
        misses = sorted((k[1], n) for k, n in count.items() if k[0] == shape and k[1] != "covered")
        cov = count[(shape, "covered")]
        name = "%s %s n=%d" % shape
        if not misses:
            print("| %s | %d | – | 0 |" % (name, cov))
        for j, (what, n) in enumerate(misses):
            print("| %s | %s | %s | %d |" % (name if j == 0 else "", cov if j == 0 else "",
                                             what, n))
    print()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cand = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "out/honest"
    oomd_flow_small_n(cand, out)
    family_ties(cand, out)
    channel_misses(cand, out)


if __name__ == "__main__":
    main()
