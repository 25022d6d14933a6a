#!/usr/bin/python3
"""Architecture prototypes for the next learned models, measured before the C implementation.

usage: tools/arch_proto.py [--minutes M] [--threads T] [--seed S] [--archs rows,cells,pairs]

Trains small PyTorch versions of candidate designs for the same wall time on the same stream of
synthetic datasets with exact MI, then scores each on held-out data as is and under
MI-preserving transforms (column permutation within X and Y, X/Y swap, random orthogonal
mixing, random column sign flips) and on a non-monotone family, and times one forward pass at
several n. Designs:

  rows   the current shipped design: a row [x zero-padded, y zero-padded] is one token, row
         tokens go through ISABs and a PMA (no invariance beyond rows; an n x n SAB is left out
         so that cost stays linear).
  cells  one token per cell: a shared embedding of the value, attention across the cells of a
         row with a learned per-head bias for same-block / cross-block pairs (no X/Y role
         embedding), mean pooling per block, a symmetric combination [a + b, a * b] into one
         row token, then the same ISABs and PMA. Invariant by construction to row order, to
         column order within X and within Y and to the X/Y swap.
  pairs  one token per column pair: a learned statistic mean_i h(u_i, v_i) (symmetrised) for
         every cross pair (x_j, y_k) and, with another network and a type embedding, every
         within-block pair; self-attention over the pair tokens, mean pooling. Invariant by
         construction like cells; cost O(n (dx + dy)^2 D), linear in n.

Inputs are per-column normal scores (as the shipped models). Debian's python3-torch and
python3-numpy only. This is a measurement tool, not a trainer of shipped weights.
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn

# ---- data: Gaussian families with exact MI, reparametrised, and a non-monotone channel ------


def gaussian_task(rng, dx, dy):
    """A random correlation matrix with cross-dependence; MI = 0.5 log det Sxx det Syy / det S."""
    d = dx + dy
    kind = rng.integers(3)
    if kind == 0:  # dense
        lo = max(-1.0 / (d - 1), -0.9) if d > 1 else -0.9
        c = rng.uniform(max(lo + 1e-3, 0.0) if d > 2 else -0.9, 0.9 if d <= 4 else 0.5)
        S = np.full((d, d), c)
        np.fill_diagonal(S, 1.0)
    else:  # latent pairs: K coupled coordinate pairs of strength s
        K = rng.integers(1, min(dx, dy) + 1)
        s = rng.uniform(0.1, 3.0) if kind == 1 else rng.uniform(0.1, 6.0)
        S = np.eye(d)
        for k in range(K):
            r = s * s / (1 + s * s)
            S[k, dx + k] = S[dx + k, k] = r
    sign, ld = np.linalg.slogdet(S)
    mi = 0.5 * (np.linalg.slogdet(S[:dx, :dx])[1] + np.linalg.slogdet(S[dx:, dx:])[1] - ld)
    return S, max(mi, 0.0)


def sample_gaussian(rng, S, n):
    L = np.linalg.cholesky(S)
    return rng.standard_normal((n, S.shape[0])) @ L.T


def nonmonotone(rng, n):
    """y = a sin(w x + phi) + b x^2 + noise, 1x1; MI by quadrature."""
    a, w, phi, b = rng.uniform(0.5, 2), rng.uniform(1, 3), rng.uniform(0, 6.28), rng.uniform(-1, 1)
    sig = rng.uniform(0.1, 1.0)
    f = lambda x: a * np.sin(w * x + phi) + b * x * x
    x = rng.standard_normal(n)
    y = f(x) + sig * rng.standard_normal(n)
    xs = np.linspace(-8, 8, 801)
    px = np.exp(-xs * xs / 2) / math.sqrt(2 * math.pi)
    fx = f(xs)
    ys = np.linspace(fx.min() - 8 * sig, fx.max() + 8 * sig, 1201)
    dens = (px[None, :] * np.exp(-(ys[:, None] - fx[None, :]) ** 2 / (2 * sig * sig))
            / (sig * math.sqrt(2 * math.pi))).sum(1) * (xs[1] - xs[0])
    hy = -(dens * np.log(np.maximum(dens, 1e-300))).sum() * (ys[1] - ys[0])
    mi = hy - 0.5 * math.log(2 * math.pi * math.e * sig * sig)
    return np.stack([x, y], 1), 1, 1, max(mi, 0.0)


def haar(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def transform(rng, z, dx, dy, kind):
    x, y = z[:, :dx], z[:, dx:]
    if kind == "perm":
        x, y = x[:, rng.permutation(dx)], y[:, rng.permutation(dy)]
    elif kind == "swap":
        x, y, dx, dy = y, x, dy, dx
    elif kind == "rotate":
        x, y = x @ haar(rng, dx).T, y @ haar(rng, dy).T
    elif kind == "sign":
        x = x * rng.choice([-1.0, 1.0], dx)
        y = y * rng.choice([-1.0, 1.0], dy)
    return np.concatenate([x, y], 1), dx, dy


def copula(z):
    from math import erf  # noqa: F401  (numpy-only rank transform below)
    n = z.shape[0]
    r = np.argsort(np.argsort(z, 0), 0) + 1.0
    u = r / (n + 1)
    # inverse normal CDF by numpy's erfinv-free rational approximation through torch
    return torch.erfinv(torch.tensor(2 * u - 1)).numpy() * math.sqrt(2)


def draw(rng, dmax, nmin, nmax, train=True):
    n = int(math.exp(rng.uniform(math.log(nmin), math.log(nmax))))
    if rng.uniform() < 0.15:
        z, dx, dy, mi = nonmonotone(rng, n)
    else:
        dx, dy = rng.integers(1, dmax + 1), rng.integers(1, dmax + 1)
        S, mi = gaussian_task(rng, dx, dy)
        z = sample_gaussian(rng, S, n)
    if train:  # training data: every reparametrisation, at random
        for kind in ("perm", "swap", "rotate", "sign"):
            if rng.uniform() < 0.5:
                z, dx, dy = transform(rng, z, dx, dy, kind)
    return copula(z).astype(np.float32), int(dx), int(dy), float(mi)


# ---- models --------------------------------------------------------------------------------


class MAB(nn.Module):
    def __init__(self, D, H, F):
        super().__init__()
        self.att = nn.MultiheadAttention(D, H, batch_first=True)
        self.n1, self.n2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.ff = nn.Sequential(nn.Linear(D, F), nn.GELU(), nn.Linear(F, D))

    def forward(self, q, k, mask=None):
        h = self.n1(q + self.att(q, k, k, attn_mask=mask, need_weights=False)[0])
        return self.n2(h + self.ff(h))


class ISAB(nn.Module):
    def __init__(self, D, H, m):
        super().__init__()
        self.I = nn.Parameter(torch.randn(1, m, D) / math.sqrt(D))
        self.m0, self.m1 = MAB(D, H, 2 * D), MAB(D, H, 2 * D)

    def forward(self, x):
        h = self.m0(self.I.expand(x.shape[0], -1, -1), x)
        return self.m1(x, h)


class Head(nn.Module):
    """ISABs over row tokens, PMA, an MLP with log n: the shared back end."""

    def __init__(self, D, H):
        super().__init__()
        self.isab = nn.Sequential(ISAB(D, H, 16), ISAB(D, H, 16))
        self.S = nn.Parameter(torch.randn(1, 1, D) / math.sqrt(D))
        self.pma = MAB(D, H, D)
        self.out = nn.Sequential(nn.Linear(D + 1, D), nn.GELU(), nn.Linear(D, 1))

    def forward(self, rows):
        r = self.isab(rows)
        p = self.pma(self.S.expand(r.shape[0], -1, -1), r)[:, 0]
        logn = torch.full((r.shape[0], 1), math.log(r.shape[1]) / 6)
        return self.out(torch.cat([p, logn], 1))[:, 0]


class Rows(nn.Module):
    def __init__(self, D, H, dmax):
        super().__init__()
        self.dmax = dmax
        self.emb = nn.Sequential(nn.Linear(2 * dmax, D), nn.GELU(), nn.LayerNorm(D))
        self.head = Head(D, H)

    def forward(self, z, dx, dy):
        n = z.shape[0]
        row = torch.zeros(1, n, 2 * self.dmax)
        row[0, :, :dx] = z[:, :dx]
        row[0, :, self.dmax:self.dmax + dy] = z[:, dx:]
        return self.head(self.emb(row))


class Cells(nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.H = H
        self.emb = nn.Sequential(nn.Linear(1, D), nn.GELU(), nn.Linear(D, D), nn.LayerNorm(D))
        self.cell = MAB(D, H, D)
        self.bias = nn.Parameter(torch.zeros(2, H))  # same-block, cross-block
        self.comb = nn.Sequential(nn.Linear(2 * D, D), nn.GELU(), nn.LayerNorm(D))
        self.head = Head(D, H)

    def forward(self, z, dx, dy):
        n, d = z.shape
        t = self.emb(z.reshape(n, d, 1))  # [n, d, D]: one token per cell
        blk = torch.tensor([0] * dx + [1] * dy)
        same = (blk[:, None] == blk[None, :]).long()  # [d, d]
        mask = self.bias[1 - same].permute(2, 0, 1)  # [H, d, d]
        mask = mask.repeat(n, 1, 1)  # [n * H, d, d]
        t = self.cell(t, t, mask)
        a, b = t[:, :dx].mean(1), t[:, dx:].mean(1)
        rows = self.comb(torch.cat([a + b, a * b], 1))
        return self.head(rows[None])


class Pairs(nn.Module):
    """Pair tokens: for every column pair a learned statistic averaged over rows, then a set
    transformer over the pair tokens. Cross pairs (x_j, y_k) use h, symmetrised in its two
    arguments (the swap); within-block pairs (x_j, x_j') and (y_k, y_k') use g, also symmetric,
    with a type embedding. Exactly invariant to row order, column order and the swap."""

    def __init__(self, D, H):
        super().__init__()
        mlp = lambda: nn.Sequential(nn.Linear(4, D), nn.GELU(), nn.Linear(D, D), nn.GELU(),
                                    nn.Linear(D, D))
        self.h, self.g = mlp(), mlp()
        self.typ = nn.Parameter(torch.randn(2, D) / math.sqrt(D))
        self.norm = nn.LayerNorm(D)
        self.sab = nn.ModuleList([MAB(D, H, 2 * D), MAB(D, H, 2 * D)])
        self.out = nn.Sequential(nn.Linear(D + 1, D), nn.GELU(), nn.Linear(D, 1))

    @staticmethod
    def feats(u, v):  # [n, P] each -> [n, P, 4], symmetric pairs handled by the caller
        return torch.stack([u, v, u * v, u * u + v * v], -1)

    def stat(self, net, u, v):
        return (net(self.feats(u, v)) + net(self.feats(v, u))).mean(0)  # [P, D]

    def forward(self, z, dx, dy):
        x, y = z[:, :dx], z[:, dx:]
        ix, iy = torch.meshgrid(torch.arange(dx), torch.arange(dy), indexing="ij")
        toks = [self.stat(self.h, x[:, ix.reshape(-1)], y[:, iy.reshape(-1)]) + self.typ[0]]
        for blk in (x, y):
            d = blk.shape[1]
            if d > 1:
                a, b = torch.triu_indices(d, d, 1)
                toks.append(self.stat(self.g, blk[:, a], blk[:, b]) + self.typ[1])
        t = self.norm(torch.cat(toks, 0))[None]
        for m in self.sab:
            t = m(t, t)
        logn = torch.full((1, 1), math.log(z.shape[0]) / 6)
        return self.out(torch.cat([t.mean(1), logn], 1))[:, 0]


# ---- training and evaluation ----------------------------------------------------------------


def evaluate(model, sets):
    model.eval()
    err = []
    with torch.no_grad():
        for z, dx, dy, mi in sets:
            err.append((model(torch.from_numpy(z), dx, dy).item() - mi) ** 2)
    model.train()
    return float(np.mean(err)), float(np.std(err) / math.sqrt(len(err)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--archs", default="rows,cells")
    ap.add_argument("--dmax", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(1000 + args.seed)
    held = [draw(rng, args.dmax, 50, 500, train=False) for _ in range(300)]
    tests = {"none": held}
    for kind in ("perm", "swap", "rotate", "sign"):
        r2 = np.random.default_rng(77)
        tests[kind] = []
        for z, dx, dy, mi in held:
            z2, dx2, dy2 = transform(r2, z, dx, dy, kind)
            tests[kind].append((np.ascontiguousarray(copula(z2)).astype(np.float32), dx2, dy2, mi))
    r3 = np.random.default_rng(99)
    tests["nonmonotone"] = []
    for _ in range(100):
        z, dx, dy, mi = nonmonotone(r3, 300)
        tests["nonmonotone"].append((copula(z).astype(np.float32), dx, dy, mi))
    print("held-out: %d datasets, n 50-500, dims 1-%d; MSE ± SE (nats^2)" % (len(held), args.dmax))
    for name in args.archs.split(","):
        torch.manual_seed(args.seed)
        model = {"rows": lambda: Rows(32, 4, args.dmax), "cells": lambda: Cells(32, 4),
                 "pairs": lambda: Pairs(32, 4)}[name]()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        trng = np.random.default_rng(args.seed)
        t0, steps, seen = time.time(), 0, 0
        while time.time() - t0 < 60 * args.minutes:
            opt.zero_grad()
            loss = 0
            for _ in range(args.batch):
                z, dx, dy, mi = draw(trng, args.dmax, 10, 500)
                loss = loss + (model(torch.from_numpy(z), dx, dy) - mi) ** 2
                seen += 1
            (loss / args.batch).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            steps += 1
        res = {k: evaluate(model, v) for k, v in tests.items()}
        cells = "  ".join("%s %.3f ± %.3f" % (k, m, s) for k, (m, s) in res.items())
        times = []
        model.eval()
        with torch.no_grad():
            for n in (500, 5000, 50000):
                z = torch.randn(n, 8)
                t = time.time()
                model(z, 4, 4)
                times.append("%d: %.1f ms" % (n, 1000 * (time.time() - t)))
        print("%-6s %d steps, %d datasets, params %d | %s | forward 4x4: %s" % (
            name, steps, seen, sum(p.numel() for p in model.parameters()), cells,
            ", ".join(times)))


if __name__ == "__main__":
    main()
