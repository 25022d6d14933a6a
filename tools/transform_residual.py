#!/usr/bin/python3
"""How much an MI-preserving transform moves each estimator's answer, dataset by dataset.

usage: tools/transform_residual.py RESULTS.csv [TRANSFORM ...]   (default: every one present)

For each estimator and each transform T other than `none`, over the datasets that have an `ok`
row both as generated and under T: the mean |estimate(T) - estimate(none)| with its SE, the
largest change, and the count. The truth is the same under T (the transforms preserve MI), so
for an estimator exactly invariant to T every change is float rounding. The issue's bar for
the learned models: random column sign flips (`negate`) on mist-imd, suite seed 1, mean change
at most 0.05 nats. Standard library only.
"""
import csv
import math
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    want = set(sys.argv[2:])
    est = defaultdict(dict)  # (estimator, transform) -> {(suite, id): estimate}
    with open(sys.argv[1], newline="") as f:
        for r in csv.DictReader(f):
            if r["status"] != "ok":
                continue
            est[(r["estimator"], r["transform"])][(r["suite"], r["id"])] = float(r["estimate"])
    names = sorted({e for e, _ in est})
    print("| estimator | transform | datasets | mean abs change ± SE (nats) | largest |")
    print("|---|---|--:|--:|--:|")
    for e in names:
        base = est.get((e, "none"), {})
        for (e2, t), vals in sorted(est.items()):
            if e2 != e or t == "none" or (want and t not in want):
                continue
            d = [abs(v - base[k]) for k, v in vals.items() if k in base]
            if not d:
                continue
            m = sum(d) / len(d)
            sd = math.sqrt(sum((x - m) ** 2 for x in d) / max(1, len(d) - 1))
            print("| %s | %s | %d | %.4f ± %.4f | %.3g |" % (e, t, len(d), m,
                                                             sd / math.sqrt(len(d)), max(d)))


if __name__ == "__main__":
    main()
