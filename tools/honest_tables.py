#!/usr/bin/python3
"""Markdown tables of the honest benchmark (tools/bench_honest.sh) for README.md and the cards.

usage: tools/honest_tables.py [OUTDIR]   (default out/honest)

Prints (1) the official MIST test tasks scored the paper's way (--score bootstrap:50): MSE per
paper n-bucket with the SD over datasets (the paper's +-) and the SE of the mean, beside the
paper's published figures; (2) the robustness table on mist-imd (suite seeds 1-2) under each
MI-preserving transform: MSE +- SE over all datasets and the 90% interval coverage. Standard
library only.
"""
import json
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "out/honest"
BUCKETS = ("[10,100)", "[100,300)", "[300,500]")
PAPER = {  # as published (their "+-" is an SD over datasets)
    "imd": {"MIST": ((3.1, 10.4), (0.34, 0.9), (0.28, 0.9)),
            "MIST-QR": ((3.1, 11.7), (0.31, 1.5), (0.12, 0.3))},
    "oomd": {"MIST": ((8.0, 14.1), (7.3, 18.5), (8.8, 22.3)),
             "MIST-QR": ((9.5, 17.1), (9.9, 24.6), (10.0, 25.4))},
}


def short(label):
    if label.startswith("mist:"):
        return os.path.basename(label[5:]).replace(".msgpack", "")
    return label


def g(x):
    if x is None:
        return "–"
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return "%.2e" % x
    return "%.3g" % x


def load(name):
    with open(os.path.join(OUT, name, "summary.json")) as f:
        return json.load(f)["suites"]


def official(kind):
    suites = load("official-" + kind)
    s = suites[0]
    print("#### mist-%s-official (%d tasks, one sample each, suite seed 0), score %s: "
          "MSE (nats²) per n-bucket" % (kind, s["datasets"], s["score"]))
    print()
    print("Cells: MSE ± SD over datasets (the paper's convention), then the SE of the mean "
          "and the datasets scored (failed: the estimator could not run, e.g. gaussian with "
          "n <= dx + dy).")
    print()
    print("| estimator | " + " | ".join(BUCKETS) + " |")
    print("|---|--:|--:|--:|")
    for e in s["estimators"]:
        cells = []
        for b in BUCKETS:
            c = next((x for x in e["buckets"] if x["bucket"] == b), None)
            if c is None or c["mse"] is None:
                cells.append("–")
                continue
            cells.append("%s ± %s (SE %s; %d ok%s)" % (
                g(c["mse"]), g(c["mse_sd"]), g(c["mse_se"]), c["n_ok"],
                ", %d failed" % c["n_failed"] if c["n_failed"] else ""))
        print("| %s | %s |" % (short(e["label"]), " | ".join(cells)))
    for model, rows in PAPER[kind].items():
        print("| %s (paper, as published, ± SD) | %s |" % (
            model, " | ".join("%s ± %s" % (g(m), g(sd)) for m, sd in rows)))
    print()
    for e in s["estimators"]:
        if e["quantile_model"]:
            o = e["overall"]
            per = ", ".join("%s %.3f" % (c["bucket"], c["coverage"]) for c in e["buckets"])
            print("%s: 90%% interval coverage %.3f over all tasks (%s); mean width %s nats." % (
                short(e["label"]), o["coverage"], per, g(o["width"])))
    print()


def robust():
    suites = load("robust")
    trs = [s["transform"] for s in suites]
    print("#### mist-imd (suite seeds 1-2, %d datasets) under MI-preserving transforms" %
          suites[0]["datasets"])
    print()
    print("One estimate per dataset. Cells: MSE ± SE (nats²) over all datasets, then the "
          "coverage of the 90% interval (quantile models: 5%-95% quantiles; classical: "
          "100-resample percentile bootstrap); the truth is the same under every transform.")
    print()
    print("| estimator | " + " | ".join(trs) + " |")
    print("|---|" + "--:|" * len(trs))
    for i, e in enumerate(suites[0]["estimators"]):
        cells = []
        for s in suites:
            x = next(y for y in s["estimators"] if y["label"] == e["label"])
            o = x["overall"]
            cov = "%.2f" % o["coverage"] if o["n_interval"] else "–"
            fail = ", %d failed" % o["n_failed"] if o["n_failed"] else ""
            cells.append("%s ± %s [%s%s]" % (g(o["mse"]), g(o["mse_se"]), cov, fail))
        print("| %s | %s |" % (short(e["label"]), " | ".join(cells)))
    print()
    print("Spread across the two suite seeds (MSE of each seed's 1,080 datasets: mean ± SD):")
    print()
    print("| estimator | " + " | ".join(trs) + " |")
    print("|---|" + "--:|" * len(trs))
    for e in suites[0]["estimators"]:
        cells = []
        for s in suites:
            o = next(y for y in s["estimators"] if y["label"] == e["label"])["overall"]
            cells.append("%s ± %s" % (g(o.get("seed_mse_mean")), g(o.get("seed_mse_sd"))))
        print("| %s | %s |" % (short(e["label"]), " | ".join(cells)))
    print()


if __name__ == "__main__":
    for k in ("imd", "oomd"):
        if os.path.exists(os.path.join(OUT, "official-" + k, "summary.json")):
            official(k)
    if os.path.exists(os.path.join(OUT, "robust", "summary.json")):
        robust()
