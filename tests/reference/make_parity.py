#!/usr/bin/python3
"""Builds random-weight MIST and MIST-QR models at the official configuration, saves them as the
official checkpoints are published (model.safetensors + config.json), writes fixed inputs as
.npy, runs the PyTorch reference (tests/reference/mist_torch.py) and writes the expected outputs.

usage: make_parity.py OUTDIR

OUTDIR/{mist,mist-qr}/{model.safetensors,config.json}
OUTDIR/inputs/NAME.npy           float64, n x (dx + dy), X columns first
OUTDIR/expected.json             see the "format" key
"""

import json
import os
import sys
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # one core: modest and reproducible
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mist_torch as mt  # noqa: E402

TAUS = [0.05, 0.25, 0.5, 0.75, 0.95]
MODELS = [("mist", False, 1), ("mist-qr", True, 2)]  # name, quantile_conditioned, seed


def correlated(rng, n, d, rho=0.6, scale=1.0, shift=0.0):
    x = rng.standard_normal((n, d))
    y = rho * x + np.sqrt(1 - rho * rho) * rng.standard_normal((n, d))
    return np.concatenate([x, y], axis=1) * scale + shift


def make_inputs(rng):
    """name -> (array n x 2d float64, d, note)."""
    cases = {}
    cases["n10_d1"] = (correlated(rng, 10, 1), 1, "small n, 1-d")
    cases["n2_d1"] = (correlated(rng, 2, 1), 1, "smallest n")
    cases["n100_d3"] = (correlated(rng, 100, 3), 3, "")
    cases["n500_d5"] = (correlated(rng, 500, 5, rho=0.3), 5, "the benchmark's shape")
    cases["n777_d32"] = (correlated(rng, 777, 32, rho=0.4), 32, "P = 64 exactly, no padding")
    a = correlated(rng, 100, 1)
    a[0] = [0.0, 0.0]           # all-zero row: masked as a key in the feature SABs
    a[5] = [0.75, -0.75]        # sums to exactly 0 too: the official mask removes it as well
    a[17] = [0.0, 0.0]
    cases["n100_d1_zerorows"] = (a, 1, "rows 0, 17 all zero, row 5 = [a, -a] (mask quirk)")
    b = correlated(rng, 200, 3)
    b[3] = 0.0
    b[42] = [1.5, -0.5, 0.25, -1.25, 0.5, -0.5]  # dyadic values: sum is exactly 0 in any order
    cases["n200_d3_zerorows"] = (b, 3, "row 3 all zero, row 42 sums to exactly 0 (mask quirk)")
    cases["n100_d3_large"] = (correlated(rng, 100, 3, scale=300.0, shift=500.0), 3,
                              "values ~ 500 +- 300")
    c = correlated(rng, 300, 1, rho=0.9, scale=1.0)
    c = np.round(c * 4) / 4     # heavy ties and several exact-zero-sum rows
    cases["n300_d1_ties"] = (c, 1, "values on a 0.25 grid: ties and many [a, -a] / zero rows")
    return cases


# Row chunks of the feature block (mist estimate --row-chunk): input, chunk rows, note
CHUNKED = [("n777_d32", 300, "3 chunks of 259 rows"),
           ("n200_d3_zerorows", 64, "4 chunks of 50 rows, the mask quirk within chunks"),
           ("n300_d1_ties", 128, "3 chunks of 100 rows, tied rows")]


def run(model, data, d, dtype, use_mask=True, row_chunk=0):
    model.to(dtype)
    with torch.inference_mode():
        if model.core.quantile_conditioned:
            return model.estimate(data[:, :d], data[:, d:], TAUS, use_mask=use_mask,
                                  row_chunk=row_chunk)
        return model.estimate(data[:, :d], data[:, d:], use_mask=use_mask, row_chunk=row_chunk)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    torch.set_num_threads(1)
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    rng = np.random.default_rng(20251118)
    cases = make_inputs(rng)
    for base, chunk, note in CHUNKED:
        data, d, _ = cases[base]
        cases[f"{base}_chunk{chunk}"] = (data, d, note, chunk)

    expected = {
        "format": "cases[].outputs[model] = {f64: torch float64 reference, f32: torch float32, "
                  "masked_rows, mask_effect: |f64 - f64 without the mask|}; a point model gives "
                  "one value, a QR model one raw (unsorted) value per tau in taus",
        "taus": TAUS,
        "models": {},
        "cases": [],
    }
    models = {}
    for name, qc, seed in MODELS:
        m = mt.build(quantile_conditioned=qc, seed=seed)
        d = os.path.join(out, name)
        mt.save_checkpoint(m, d)
        # Round trip through our own safetensors writer/reader: what the C side reads is what
        # we run.
        m = mt.load_checkpoint(d)
        models[name] = m
        npar = mt.n_params(m)
        print(f"{name}: {npar} parameters ({npar / 1e6:.3f} M), quantile_conditioned={qc}, "
              f"rho.0.weight {list(m.state_dict()['core.rho.0.weight'].shape)}")
        expected["models"][name] = {"dir": name, "quantile_conditioned": qc, "params": npar,
                                    "seed": seed}

    for cname, (data, d, note, *chunk) in cases.items():
        chunk = chunk[0] if chunk else 0
        rel = os.path.join("inputs", cname + ".npy")
        np.save(os.path.join(out, rel), data.astype(np.float64))
        rec = {"name": cname, "path": rel, "n": int(data.shape[0]), "dx": d, "dy": d,
               "note": note, "row_chunk": chunk, "outputs": {}}
        masked = int(np.sum(data.astype(np.float32).sum(axis=1, dtype=np.float32) == 0))
        for mname, m in models.items():
            t0 = time.time()
            v64 = run(m, data, d, torch.float64, row_chunk=chunk)
            v64_nomask = run(m, data, d, torch.float64, use_mask=False, row_chunk=chunk)
            v32 = run(m, data, d, torch.float32, row_chunk=chunk)
            eff = float(np.max(np.abs(np.atleast_1d(v64) - np.atleast_1d(v64_nomask))))
            rec["outputs"][mname] = {"f64": v64, "f32": v32, "masked_rows": masked,
                                     "mask_effect": eff}
            if chunk:
                # the chunks must matter, or the comparison could not tell them from none
                whole = run(m, data, d, torch.float64)
                ce = float(np.max(np.abs(np.atleast_1d(v64) - np.atleast_1d(whole))))
                rec["outputs"][mname]["chunk_effect"] = ce
                print(f"  {cname:18s} {mname:8s} chunk_effect={ce:.2e}")
                if not ce > 1e-3:
                    sys.exit(f"{cname}: the row chunks change the output by only {ce:.2e}")
            dev = float(np.max(np.abs(np.atleast_1d(v64) - np.atleast_1d(v32))))
            print(f"  {cname:18s} {mname:8s} f64={np.round(v64, 6)} |f32-f64|={dev:.2e}"
                  + (f" masked={masked} mask_effect={eff:.2e}" if masked else "")
                  + f" ({time.time() - t0:.1f}s)")
        expected["cases"].append(rec)

    # Our explicit attention against nn.MultiheadAttention used the official way.
    x = cases["n100_d1_zerorows"][0]
    for mname, m in models.items():
        diff = mt.selfcheck(m, x[:, :1], x[:, 1:], TAUS if m.core.quantile_conditioned else None)
        print(f"selfcheck {mname}: explicit attention vs nn.MultiheadAttention, float64: "
              f"max |diff| = {diff:.2e}")
        if not diff < 1e-9:
            sys.exit("selfcheck failed")
        expected["models"][mname]["selfcheck_vs_nn_mha"] = diff

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {out}/expected.json ({len(expected['cases'])} inputs x {len(models)} models)")


if __name__ == "__main__":
    main()
