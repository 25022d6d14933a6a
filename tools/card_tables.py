#!/usr/bin/python3
"""Markdown tables for the model cards from the summaries of tools/bench_shipped.sh.

usage: tools/card_tables.py [OUTDIR]   (default out/shipped)

Prints: MSE per n-bucket on mist-imd and mist-oomd for every estimator, the best classical
estimator's MSE and its half (the bar), the MIST paper's figures; bmi40 at n = 100 and 1,000;
the quantile model's interval coverage and calibration curve; the median time per estimate at
n = 500. Standard library only.
"""
import json
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "out/shipped"
CLASSICAL = ("ksg1:k=5", "gaussian", "gaussian:copula")


def load(name):
    with open(os.path.join(OUT, name, "summary.json")) as f:
        return json.load(f)["suites"][0]


def short(label):
    if label.startswith("mist:"):
        return os.path.basename(label[5:]).replace(".msgpack", "")
    return label


def fmt(x, nd=3):
    return "–" if x is None else f"{x:.{nd}g}"


def mist_suite(name):
    s = load(name)
    ests = s["estimators"]
    buckets = [b["bucket"] for b in ests[0]["buckets"]]
    print(f"\n#### {s['suite']} (suite seed 1, {s['datasets']} datasets): MSE ± SE (nats²)\n")
    print("| estimator | " + " | ".join(buckets) + " | all | failed |")
    print("|---|" + "--:|" * (len(buckets) + 2))
    best = {b: None for b in buckets}
    for e in ests:
        cells = []
        for b in e["buckets"]:
            cells.append(f"{fmt(b['mse'])} ± {fmt(b['mse_se'], 2)}")
            if e["label"] in CLASSICAL and b["n_ok"] > 0:
                cur = best[b["bucket"]]
                if cur is None or b["mse"] < cur[0]:
                    best[b["bucket"]] = (b["mse"], e["label"], b["n_ok"])
        o = e["overall"]
        print(f"| {short(e['label'])} | " + " | ".join(cells) +
              f" | {fmt(o['mse'])} | {o['n_failed']} |")
    print("| best classical | " + " | ".join(
        f"{fmt(best[b][0])} ({best[b][1]}, {best[b][2]} ok)" for b in buckets) + " | | |")
    print("| bar: half of it | " + " | ".join(fmt(best[b][0] / 2) for b in buckets) + " | | |")
    for row in s["paper"]["rows"]:
        print(f"| {row['model']} (paper) | " + " | ".join(
            fmt(x["mse"]) for x in row["buckets"]) + " | | |")
    for e in ests:
        if not e["label"].startswith("mist:"):
            continue
        verdict = []
        for b in e["buckets"]:
            ok = b["mse"] <= best[b["bucket"]][0] / 2
            verdict.append(f"{b['bucket']} {'yes' if ok else 'NO'}")
        print(f"\n{short(e['label'])} at most half of the best classical: " + ", ".join(verdict))
    return s


def quantile_block(s):
    for e in s["estimators"]:
        if not e.get("quantile_model"):
            continue
        o = e["overall"]
        cal = o.get("calibration") or []
        worst = max((abs(c["share"] - c["tau"]) for c in cal), default=None)
        print(f"\n{short(e['label'])} on {s['suite']}: 90% interval coverage "
              f"{fmt(o['coverage'])} (mean width {fmt(o['width'])} nats); calibration curve, "
              f"largest distance from the diagonal {fmt(worst, 2)}:\n")
        print("| tau | " + " | ".join(f"{c['tau']:.2f}" for c in cal) + " |")
        print("|---|" + "--:|" * len(cal))
        print("| share MI <= q_tau | " + " | ".join(f"{c['share']:.3f}" for c in cal) + " |")
        print("\nper n-bucket coverage: " + ", ".join(
            f"{b['bucket']} {fmt(b['coverage'])}" for b in e["buckets"]))


def bmi(n):
    s = load(f"bmi40-n{n}")
    print(f"\n#### bmi40 at n = {n} (suite seed 1, 40 tasks)\n")
    print("| estimator | ok | failed | MSE ± SE | bias | MAE |")
    print("|---|--:|--:|--:|--:|--:|")
    for e in s["estimators"]:
        o = e["overall"]
        print(f"| {short(e['label'])} | {o['n_ok']} | {o['n_failed']} | {fmt(o['mse'])} ± "
              f"{fmt(o['mse_se'], 2)} | {fmt(o['bias'])} | {fmt(o['mae'])} |")


def timing():
    rows = []
    for name in ("bmi40-n500", "bmi40-n500-boot"):
        s = load(name)
        for e in s["estimators"]:
            o = e["overall"]
            lab = short(e["label"]) + (" + bootstrap B = 200" if s["bootstrap"] else "")
            rows.append((lab, o["n_ok"], o["time_median_us"] / 1000, o["time_p90_us"] / 1000))
    ref = next(r for r in rows if r[0] == "ksg1:k=5")[2]
    print("\n#### Time per estimate at n = 500 (bmi40, one thread, same session)\n")
    print("| estimator | datasets | median ms | p90 ms | median / ksg1's |")
    print("|---|--:|--:|--:|--:|")
    for lab, k, med, p90 in rows:
        print(f"| {lab} | {k} | {med:.3g} | {p90:.3g} | {med / ref:.2f} |")


imd = mist_suite("imd")
quantile_block(imd)
oomd = mist_suite("oomd")
quantile_block(oomd)
bmi(100)
bmi(1000)
timing()
