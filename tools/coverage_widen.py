#!/usr/bin/python3
"""A measured option not taken (weights/benchmarks/missed-bars.md): raising the upper end of
`mist estimate`'s interval at small n, where dependence of a kind ranks miss leaves no trace.

usage: tools/coverage_widen.py [MIST] [WORKDIR]     (defaults build/mist, out/widen)

Writes, unless present, new-families suite seeds 3-6 and mist-imd / mist-oomd suite seed 3
under none, rotate and flow (seeds the bars do not score) into WORKDIR, answers every dataset
with `MIST estimate FILE --json` (default model, route and guard; two processes; one JSON line
per dataset, kept in WORKDIR/NAME.jsonl so a second call only reads), and prints the 90%
coverage each rule would give: for datasets with at most N_MAX rows, dx + dy in the rule's
range and no NONMONOTONE reason, the upper end becomes max(upper, FACTOR upper); then, over the
datasets whose only reason is NONMONOTONE, the summed squared error of the answer rule (the
higher of the model's and KSG's readings) against KSG alone, the model alone and their mean.
Run from the repository root (the default model is found from there). Standard library only.
"""
import concurrent.futures
import json
import os
import subprocess
import sys

SUITES = [("nf36", "new-families", "3-6", None)] + [
    ("%s-%s" % (s, t), "mist-" + s, "3-3", t) for s in ("imd", "oomd")
    for t in ("none", "rotate", "flow")]
FAMILIES = ("channel-bumps-base", "channel-sine-base", "mixture-xshape-base",
            "mixture-random-base")
RULES = (("n <= 100, 5 <= dx+dy <= 10", 100, 5, 10), ("n <= 100, dx+dy >= 3", 100, 3, 10**6))
FACTORS = (1, 2, 4)


def answer(mist, path):
    p = subprocess.run([mist, "estimate", path, "--json"], capture_output=True, text=True)
    return {"file": path, "r": json.loads(p.stdout) if p.returncode == 0 else None}


def ensure(mist, work, name, suite, seeds, transform):
    folder = os.path.join(work, name)
    out = folder + ".jsonl"
    if os.path.exists(out):
        return out
    if not os.path.isdir(folder):
        cmd = [mist, "gen", "--suite", suite, "--seeds", seeds, "--threads", "2", "-o", folder]
        if transform:
            cmd += ["--transform", transform]
        subprocess.run(cmd, check=True, capture_output=True)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".npy"))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        lines = [json.dumps(a) for a in pool.map(lambda f: answer(mist, f), files)]
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)
    return out


def load(path):
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if d["r"] is None:
                continue
            with open(d["file"] + ".json") as m:
                yield json.load(m), d["r"]


def upper(meta, r, rule, factor):
    _, n_max, d_lo, d_hi = rule
    widen = (meta["n"] <= n_max and d_lo <= meta["dx"] + meta["dy"] <= d_hi
             and "nonmonotone" not in r.get("guard", {}).get("reasons", []))
    return max(r["upper"], factor * r["upper"]) if widen else r["upper"], widen


def answer_rules(data):
    print("#### NONMONOTONE alone: summed squared error of the answer rule and its alternatives")
    print()
    print("| suite / family | datasets | higher of the two (shipped) | KSG | model | mean |")
    print("|---|--:|--:|--:|--:|--:|")
    groups = {}
    for name, rows in data.items():
        for m, r in rows:
            g = r.get("guard", {})
            if g.get("reasons") != ["nonmonotone"]:
                continue
            key = m["task"] if name == "nf36" else name
            mi, k, mod = r["true_mi"], g["cross_check"]["ksg1"]["estimate"], g["model"]["estimate"]
            acc = groups.setdefault(key, [0, 0.0, 0.0, 0.0, 0.0])
            acc[0] += 1
            for j, v in enumerate((r["estimate"], k, mod, (k + mod) / 2)):
                acc[1 + j] += (v - mi) ** 2
    for key in sorted(groups):
        a = groups[key]
        print("| %s | %d | %.3f | %.3f | %.3f | %.3f |" % (key, a[0], a[1], a[2], a[3], a[4]))
    print()


def main():
    mist = sys.argv[1] if len(sys.argv) > 1 else "build/mist"
    work = sys.argv[2] if len(sys.argv) > 2 else "out/widen"
    os.makedirs(work, exist_ok=True)
    data = {name: list(load(ensure(mist, work, name, *rest))) for name, *rest in SUITES}
    for rule in RULES:
        print("#### %s: the upper end times FACTOR where no NONMONOTONE reason" % rule[0])
        print()
        cols = list(FAMILIES) + [n for n, *_ in SUITES[1:]]
        print("| factor | " + " | ".join(cols) + " |")
        print("|--:|" + "--:|" * len(cols))
        for factor in FACTORS:
            cells = []
            for fam in FAMILIES:
                got = [(m, r) for m, r in data["nf36"] if m["task"] == fam]
                cov = sum(r["lower"] <= r["true_mi"] <= upper(m, r, rule, factor)[0]
                          for m, r in got)
                cells.append("%.3f" % (cov / len(got)))
            for name, *_ in SUITES[1:]:
                got = data[name]
                cov = sum(r["lower"] <= r["true_mi"] <= upper(m, r, rule, factor)[0]
                          for m, r in got)
                widened = sum(upper(m, r, rule, factor)[1] for m, r in got)
                cells.append("%.3f (%d)" % (cov / len(got), widened))
            print("| %d | %s |" % (factor, " | ".join(cells)))
        print()
        print("(in brackets: datasets the rule widens, of %s)" % ", ".join(
            "%s %d" % (n, len(data[n])) for n, *_ in SUITES[1:]))
        print()
    answer_rules(data)


if __name__ == "__main__":
    main()
