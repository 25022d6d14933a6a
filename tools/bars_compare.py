#!/usr/bin/python3
"""Two candidates side by side on one `mist bench` run, cell by cell, as the bars count them.

usage: tools/bars_compare.py RESULTS.csv LABEL_A LABEL_B

Cells: (transform, n-bucket [10,100) / [100,300) / [300,500]) for the mist-imd / mist-oomd
suites; (task, -) when the run is a new-families one (its folder name holds 'families' or
'nf'). Per cell: each candidate's MSE over the datasets both answered; the binding classical
estimator of ksg1, gaussian and gaussian:copula (the largest candidate-A / classical ratio) and
its bar (half its MSE on the MIST suites, its MSE on new families) over the datasets it answered,
with both candidates' MSE on those same datasets and P (met) or F; both candidates' 90% coverage;
the dataset count. Made for suite seed 3 (the fitting seed), where tools/must_show.py, which
reads the seeds-1-2 folders of tools/eval_candidate.sh, does not apply.
"""
import collections
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from must_show import CLASSICAL, binding, bucket, shared  # the bar rule, defined once


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, a_label, b_label = sys.argv[1:4]
    families = "families" in path or "nf" in path
    by = collections.defaultdict(dict)
    for r in csv.DictReader(open(path)):
        if r["estimator"] in (a_label, b_label) + CLASSICAL:
            by[(r["id"], r["transform"])][r["estimator"]] = r
    cells = collections.defaultdict(lambda: collections.defaultdict(list))
    sq = collections.defaultdict(dict)  # (cell..., estimator) -> {dataset: squared error}
    for did, d in by.items():
        if a_label not in d or b_label not in d:
            continue
        a, b = d[a_label], d[b_label]
        key = (a["task"], "-") if families else (did[1], bucket(int(a["n"])))
        c = cells[key]
        for lab, r in ((a_label, a), (b_label, b)):
            mi = float(r["mi"])
            sq[key + (lab,)][did] = float(r["sq_err"])
            c[lab + " cov"].append(float(r["lower"]) <= mi <= float(r["upper"]))
        for e in CLASSICAL:
            r = d.get(e)
            if r and r["status"] == "ok" and r["scored"] == "1":
                sq[key + (e,)][did] = float(r["sq_err"])
    mean = lambda x: sum(x) / len(x)
    print(f"A = {a_label}\nB = {b_label}")
    for key in sorted(cells, key=str):
        c = cells[key]
        ma, mb = sq[key + (a_label,)], sq[key + (b_label,)]
        line = f"{key}: MSE A {mean(list(ma.values())):.4g} B {mean(list(mb.values())):.4g}"
        if any(sq.get(key + (e,)) for e in CLASSICAL):
            cl, sa, _, e = binding(sq, key, ma)  # chosen by candidate A, as must_show does
            sb = shared(sq[key + (e,)], mb)[1]
            bar = cl if families else cl / 2
            line += (f" | bar {bar:.4g} ({e}) shared A {sa:.4g} B {sb:.4g} "
                     f"{'P' if sa <= bar else 'F'}{'P' if sb <= bar else 'F'}")
        line += (f" | cov A {mean(c[a_label + ' cov']):.3f} B {mean(c[b_label + ' cov']):.3f}"
                 f" | {len(ma)} sets")
        print(line)


if __name__ == "__main__":
    main()
