"""PyTorch reference of `mist train`: the same tiny model, initial weights and batches, trained
with torch's own autograd and torch.optim.AdamW, must give the same loss curve as the C trainer
(hand-written backward passes) to float rounding.  This proves the gradients of the whole model,
not only layer by layer.

usage: train_torch.py DUMP_DIR [--tol REL]

DUMP_DIR comes from `mist train ... --dump-batches DUMP_DIR --dump-steps K`: init.msgpack (the
initial weights, mist weights format), stepSSSS_III.npy (the datasets of each step, float64
n x (dx+dy), X first) and batches.csv (step, index, file, n, dx, dy, mi, tau, pred, loss: the C
trainer's prediction for each dataset and its batch loss, both computed before that step's
update), and run.json (the training settings: lr, warmup, steps, lr_floor, wd, clip, betas, eps,
loss).

Here, independently of the C code: msgpack is decoded by a small reader below (no python3-msgpack
needed), the inputs are prepared as model.md says (copula normal scores Phi^-1(rank/(n+1)) with
average ranks for ties, split layout [pad(x, max_dx), pad(y, max_dy)]), each dataset is run alone
through tests/reference/mist_torch.py's modules (a padded batch equals the datasets run alone),
the loss is the spec's (mse, or pinball with the dumped taus), gradients come from autograd,
clipping from torch.nn.utils.clip_grad_norm_, the update from torch.optim.AdamW with weight decay
on the 2-D weight tensors only, and the learning rate of each step from the same warm-up + cosine
schedule.

Exit status 0 when every step's loss and every prediction agree within the tolerance
(relative to max(|value|, 1e-2)); 1 otherwise.
"""
import csv
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mist_torch  # noqa: E402


# ---- a small msgpack reader (maps, arrays, str, bin, ints, floats, bool, nil) ---------------
def mp_unpack(buf):
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(buf):
            raise ValueError("truncated msgpack")
        b = buf[pos:pos + n]
        pos += n
        return b

    def u(fmt):
        return struct.unpack(">" + fmt, take(struct.calcsize(fmt)))[0]

    def obj():
        t = take(1)[0]
        if t <= 0x7F:
            return t
        if 0x80 <= t <= 0x8F:
            return mapn(t & 0x0F)
        if 0x90 <= t <= 0x9F:
            return [obj() for _ in range(t & 0x0F)]
        if 0xA0 <= t <= 0xBF:
            return take(t & 0x1F).decode()
        if t >= 0xE0:
            return t - 0x100
        table = {
            0xC0: lambda: None, 0xC2: lambda: False, 0xC3: lambda: True,
            0xC4: lambda: bytes(take(u("B"))), 0xC5: lambda: bytes(take(u("H"))),
            0xC6: lambda: bytes(take(u("I"))),
            0xCA: lambda: u("f"), 0xCB: lambda: u("d"),
            0xCC: lambda: u("B"), 0xCD: lambda: u("H"), 0xCE: lambda: u("I"), 0xCF: lambda: u("Q"),
            0xD0: lambda: u("b"), 0xD1: lambda: u("h"), 0xD2: lambda: u("i"), 0xD3: lambda: u("q"),
            0xD9: lambda: take(u("B")).decode(), 0xDA: lambda: take(u("H")).decode(),
            0xDB: lambda: take(u("I")).decode(),
            0xDC: lambda: [obj() for _ in range(u("H"))], 0xDD: lambda: [obj() for _ in range(u("I"))],
            0xDE: lambda: mapn(u("H")), 0xDF: lambda: mapn(u("I")),
        }
        if t not in table:
            raise ValueError("unsupported msgpack type 0x%02x" % t)
        return table[t]()

    def mapn(n):
        d = {}
        for _ in range(n):
            k = obj()
            d[k] = obj()
        return d

    out = obj()
    if pos != len(buf):
        raise ValueError("trailing bytes after the msgpack object")
    return out


def load_weights(path):
    with open(path, "rb") as f:
        w = mp_unpack(f.read())
    assert w["format"] == "mist-weights", w.get("format")
    arch = w["arch"]
    tensors = {}
    for t in w["tensors"]:
        assert t["dtype"] == "f32"
        a = np.frombuffer(t["data"], dtype="<f4").reshape(t["shape"])
        tensors[t["name"]] = torch.from_numpy(a.copy())
    return arch, tensors


def build_model(arch, tensors, dtype):
    assert arch["input_layout"] == "split", "the reference trains split-layout models"
    cfg = {
        "max_input_dim": arch["max_input_dim"], "n_dec_layers": arch["n_dec"],
        "n_inds": arch["n_inds"], "n_phi_heads": arch["H"], "n_phi_layers": arch["n_isab"],
        "n_rho_layers": arch["n_rho"], "n_seeds": arch["n_seeds"], "output_dim": 1,
        "phi_activation_fun": arch["activation"], "phi_dim_forward": arch["ff"],
        "phi_hidden_dim": arch["D"], "quantile_conditioned": bool(arch["quantile_conditioned"]),
        "rho_hidden_dim": arch["rho_hidden"], "sab_stack_layers": arch["n_feature_sab"],
    }
    assert arch["n_dec"] >= 1 and arch["ln_eps"] == mist_torch.LN_EPS
    core = mist_torch.Core(cfg).to(dtype)
    names = dict(core.named_parameters())
    assert set(names) == set(tensors), set(names) ^ set(tensors)
    with torch.no_grad():
        for k, p in names.items():
            assert tuple(p.shape) == tuple(tensors[k].shape), k
            p.copy_(tensors[k].to(dtype))
    return core


def ndtri(p):
    return float(torch.special.ndtri(torch.tensor(p, dtype=torch.float64)))


def copula(data):
    """Per column normal scores Phi^-1(rank / (n+1)), average ranks for ties (float64)."""
    n, c = data.shape
    out = np.empty_like(data)
    for j in range(c):
        col = data[:, j]
        order = np.argsort(col, kind="mergesort")
        s = col[order]
        a = 0
        while a < n:
            b = a + 1
            while b < n and s[b] == s[a]:
                b += 1
            out[order[a:b], j] = ndtri(0.5 * (a + 1 + b) / (n + 1.0))
            a = b
    return out


def rows_split(data, dx, dy, arch, dtype):
    n = data.shape[0]
    t = torch.zeros(1, n, arch["max_input_dim"], dtype=torch.float32)
    z = torch.from_numpy(copula(data)).to(torch.float32)  # the C engine rounds to float here
    t[0, :, :dx] = z[:, :dx]
    t[0, :, arch["max_dx"]:arch["max_dx"] + dy] = z[:, dx:]
    return t.to(dtype)


def lr_at(step, total, warmup, lr, floor):
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    lo = lr * floor
    span = total - 1 - warmup
    if span <= 0:
        return lr
    prog = min((step - warmup) / span, 1.0)
    return lo + 0.5 * (lr - lo) * (1.0 + math.cos(math.pi * prog))


def main():
    dump = sys.argv[1]
    tol = float(sys.argv[sys.argv.index("--tol") + 1]) if "--tol" in sys.argv else 1e-4
    dtype = torch.float64 if "--f64" in sys.argv else torch.float32
    with open(os.path.join(dump, "run.json")) as f:
        run = json.load(f)
    arch, tensors = load_weights(os.path.join(dump, "init.msgpack"))
    core = build_model(arch, tensors, dtype)
    qc = core.quantile_conditioned
    decay = [p for n, p in core.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in core.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": run["wd"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=run["lr"], betas=(run["beta1"], run["beta2"]), eps=run["eps"])
    rows = {}
    with open(os.path.join(dump, "batches.csv")) as f:
        for r in csv.DictReader(f):
            rows.setdefault(int(r["step"]), []).append(r)
    worst_loss = worst_pred = 0.0
    ok = True
    print("step  loss C             loss torch         rel diff   max pred diff")
    for step in sorted(rows):
        batch = rows[step]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, run["steps"], run["warmup"], run["lr"], run["lr_floor"])
        opt.zero_grad()
        losses, preds = [], []
        for r in batch:
            data = np.load(os.path.join(dump, r["file"]))
            dx, dy = int(r["dx"]), int(r["dy"])
            assert data.shape == (int(r["n"]), dx + dy)
            rep = core.phi(rows_split(data, dx, dy, arch, dtype), use_mask=False)
            if qc:
                tau = torch.full((1, 1), float(r["tau"]), dtype=dtype)
                pred = core.rho(torch.cat([rep, tau], dim=1))[0, 0]
            else:
                pred = core.rho(rep)[0, 0]
            mi = float(r["mi"])
            if run["loss"] == "pinball":
                tau = float(r["tau"])
                d = mi - pred
                losses.append(torch.maximum((tau - 1.0) * d, tau * d))
            else:
                losses.append((pred - mi) ** 2)
            preds.append(pred)
        loss = torch.stack(losses).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(core.parameters(), run["clip"] if run["clip"] > 0 else float("inf"))
        opt.step()
        c_loss = float(batch[0]["loss"])
        rel = abs(float(loss) - c_loss) / max(abs(c_loss), 1e-2)
        pd = max(abs(float(p) - float(r["pred"])) / max(abs(float(r["pred"])), 1e-2)
                 for p, r in zip(preds, batch))
        worst_loss, worst_pred = max(worst_loss, rel), max(worst_pred, pd)
        flag = "" if rel <= tol and pd <= tol else "  <-- FAIL"
        ok = ok and not flag
        print("%4d  %.12f  %.12f  %.2e   %.2e%s" % (step, c_loss, float(loss), rel, pd, flag))
    print("train_torch: %d steps, %s, worst relative loss difference %.2e, worst prediction "
          "difference %.2e (tolerance %.0e): %s" % (len(rows), "float64" if dtype == torch.float64
                                                    else "float32", worst_loss, worst_pred, tol,
                                                    "OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
