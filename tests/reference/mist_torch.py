"""PyTorch reference of the official MIST / MIST-QR network, written by this project.

This file is the independent side of the C engine's parity proof (tests/test_parity.sh).
It was written from ../shared/spec/model.md; every fact below was then checked against the
official source, github.com/grgera/mist at commit 3fc7e62 ("Update README.md"), paths relative
to src/mist_statinf/.  Facts were carried over, code was not.

Verified facts (source path in grgera/mist):
  * Top module (model/modeling_hf.py, MISTForHF, PyTorchModelHubMixin): holds `core` = MISTModel,
    so every checkpoint tensor name starts with "core.".  Its __init__ kwargs, which the mixin
    stores as config.json, are: n_phi_layers, phi_hidden_dim, n_phi_heads, phi_dim_forward,
    phi_activation_fun, n_rho_layers, rho_hidden_dim, n_inds, n_seeds, n_dec_layers,
    sab_stack_layers, max_input_dim, output_dim (=1), phi_model ("set_transformer"),
    quantile_conditioned, repo_url (None), license ("mit").  The published config.json of
    huggingface.co/grgera/MIST holds exactly these 17 keys, sorted, with the values 2, 256, 16,
    1024, "gelu", 3, 256, 32, 10, 1, 2, 64, 1, "set_transformer", false, null, "mit".
    The values match checkpoints/{mist,mist_qr}/pl_CSVLogger/version_0/hparams.yaml.
  * MISTModel (model/estimator.py): core.phi = MISTSetTransformer with output_dim =
    phi_hidden_dim (so phi.output_layer is Linear(D, D), no activation after it);
    n_enc_layers = n_phi_layers (number of ISABs); n_seeds/n_dec_layers fall back to
    n_inds/n_phi_layers only when falsy.  core.rho = Sequential(Linear(D [+1], rho_hidden), ReLU,
    [Linear(h, h), ReLU] x (n_rho_layers - 2), Linear(h, output_dim)) -> names rho.{0,2,4}.
    Quantile conditioning: torch.cat([phi_out, tau], dim=1), i.e. the raw tau in (0,1) is the
    LAST rho input column (rho.0.weight[:, D]).  The rho output is returned as is: no softplus,
    exp, clamp or rescaling anywhere (model/estimator.py forward, modeling_hf.py estimate_point /
    estimate_interval_qr, infer/inference.py).  For a QR model estimate_point uses tau = 0.5 by
    default; estimate_interval_qr returns rho at each tau unsorted (no rearrangement).
  * Input packing (modeling_hf.py _prepare_source, utils/format.py as_2col / pad_truncate):
    row i = concat(x_i, y_i) cast to float32, zero-padded on the right to max_input_dim (64)
    (truncated if wider -- we reject instead).  No standardisation or other preprocessing of
    the values, at inference (infer/inference.py) or in the training collate
    (data/meta_dataloader.py, which also just zero-pads).
  * MISTSetTransformer (model/architecture.py):
      embedding_mlp = Sequential(Linear(P, 2D), GELU, LayerNorm(2D), Dropout, Linear(2D, D),
        GELU, LayerNorm(D)) -> params at indices 0, 2, 4, 6;
      feature_interaction_block.layers = [SAB, LayerNorm(D), Dropout] x sab_stack_layers
        -> SABs at 0, 3, LNs at 1, 4; SAB = MAB with dim_feedforward = D;
      encoder = SetTransformerBlock of n_phi_layers ISABEncoderLayer(dim_feedforward =
        phi_dim_forward): params i [1, n_inds, D], mab0, mab1; h = mab0(I, X); out = mab1(X, h);
      pooling_pma = PMA(num_seeds = n_seeds): params s [1, k, D], mab (F = D); out = mab(S, X);
      decoder = SetTransformerBlock([SAB] x n_dec_layers + [PMA(num_seeds=1)]); then x[:, 0, :];
      output_layer = Linear(D, D).
  * MAB (model/architecture.py): post-LN.  h = norm1(x + mha(x, y, y)[0]);
    out = norm2(h + linear2(act(linear1(h)))).  mha = nn.MultiheadAttention(D, H, dropout=0,
    batch_first=True): in_proj_weight [3D, D] rows q, k, v; in_proj_bias [3D]; out_proj
    Linear(D, D); scores scaled by 1/sqrt(D/H).  act = nn.GELU() (exact erf form) when
    activation is "gelu"/"Gelu", else ReLU.  All LayerNorms are default nn.LayerNorm: eps 1e-5,
    affine.  Dropouts are identity in eval.
  * The mask quirk (model/architecture.py MISTSetTransformer.forward): padding_mask_input =
    (x.sum(dim=-1) == 0) on the raw packed float32 rows, i.e. any row whose 64 values SUM to
    exactly 0 (an all-zero row, but also e.g. [a, -a]).  It is passed as key_padding_mask ONLY to
    the SABs of feature_interaction_block (both layers), where it removes those rows as KEYS; the
    rows still go through as queries and stay in the set as ordinary tokens afterwards.  The
    encoder ISABs (mab0 only) and pooling_pma receive batch["padding_mask"], which is None at
    inference on one dataset (it is only the collate's sequence-padding mask); mab1 of an ISAB
    and the decoder never get a mask.
  * Official inference runs on one dataset at a time (batch 1) in float32, torch.no_grad, eval.
    With batch_first=True, eval, even head count and self-attention (query is key is value),
    nn.MultiheadAttention takes PyTorch's fused fast path for the SABs; the ISAB/PMA
    cross-attentions take F.multi_head_attention_forward.  This file can run either its own
    explicit attention (impl="explicit", the default) or nn.MultiheadAttention exactly as the
    official code calls it (impl="torch"); the two agree to float rounding (selfcheck()).
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-5

# Official config (huggingface.co/grgera/MIST config.json; MIST-QR differs only in
# quantile_conditioned).
OFFICIAL_CONFIG = {
    "license": "mit",
    "max_input_dim": 64,
    "n_dec_layers": 1,
    "n_inds": 32,
    "n_phi_heads": 16,
    "n_phi_layers": 2,
    "n_rho_layers": 3,
    "n_seeds": 10,
    "output_dim": 1,
    "phi_activation_fun": "gelu",
    "phi_dim_forward": 1024,
    "phi_hidden_dim": 256,
    "phi_model": "set_transformer",
    "quantile_conditioned": False,
    "repo_url": None,
    "rho_hidden_dim": 256,
    "sab_stack_layers": 2,
}


class Attention(nn.Module):
    """Multi-head attention, separate query and key/value inputs, optional key mask.

    Parameter names equal nn.MultiheadAttention's (in_proj_weight rows q, k, v; in_proj_bias;
    out_proj).  impl "explicit" computes it here; impl "torch" hands the same parameters to an
    nn.MultiheadAttention and calls it the way the official MAB does."""

    impl = "explicit"

    def __init__(self, d, heads):
        super().__init__()
        assert d % heads == 0
        self.d, self.heads = d, heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d))
        self.out_proj = nn.Linear(d, d)
        self._torch_mha = None

    def _as_torch(self):
        if self._torch_mha is None:
            m = nn.MultiheadAttention(self.d, self.heads, dropout=0.0, batch_first=True)
            m.in_proj_weight = self.in_proj_weight
            m.in_proj_bias = self.in_proj_bias
            m.out_proj.weight = self.out_proj.weight
            m.out_proj.bias = self.out_proj.bias
            m.eval()
            object.__setattr__(self, "_torch_mha", m)  # not a registered submodule
        return self._torch_mha

    def forward(self, q_in, kv_in, key_mask=None):
        # q_in (B, Lq, D), kv_in (B, Lk, D), key_mask (B, Lk) bool, True = not a key.
        if Attention.impl == "torch":
            m = self._as_torch()
            return m(q_in, kv_in, kv_in, key_padding_mask=key_mask, need_weights=False)[0]
        b, lq, d = q_in.shape
        lk = kv_in.shape[1]
        h, hd = self.heads, d // self.heads
        w = self.in_proj_weight
        bias = self.in_proj_bias
        q = F.linear(q_in, w[:d], bias[:d]).view(b, lq, h, hd).transpose(1, 2)
        k = F.linear(kv_in, w[d:2 * d], bias[d:2 * d]).view(b, lk, h, hd).transpose(1, 2)
        v = F.linear(kv_in, w[2 * d:], bias[2 * d:]).view(b, lk, h, hd).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))  # (B, H, Lq, Lk)
        if key_mask is not None:
            scores = scores.masked_fill(key_mask[:, None, None, :], float("-inf"))
        p = torch.softmax(scores, dim=-1)
        o = torch.matmul(p, v).transpose(1, 2).reshape(b, lq, d)
        return self.out_proj(o)


class MAB(nn.Module):
    """Post-LN multihead attention block: H = LN(X + MHA(X, Y)); LN(H + FF(H))."""

    def __init__(self, d, heads, ff, act):
        super().__init__()
        self.mha = Attention(d, heads)
        self.norm1 = nn.LayerNorm(d, eps=LN_EPS)
        self.norm2 = nn.LayerNorm(d, eps=LN_EPS)
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.act = act

    def forward(self, x, y, key_mask=None):
        h = self.norm1(x + self.mha(x, y, key_mask))
        return self.norm2(h + self.linear2(self.act(self.linear1(h))))


class SAB(nn.Module):
    def __init__(self, d, heads, act):
        super().__init__()
        self.mab = MAB(d, heads, d, act)

    def forward(self, x, key_mask=None):
        return self.mab(x, x, key_mask)


class PMA(nn.Module):
    def __init__(self, d, heads, k, act):
        super().__init__()
        self.s = nn.Parameter(torch.empty(1, k, d))
        self.mab = MAB(d, heads, d, act)

    def forward(self, x, key_mask=None):
        return self.mab(self.s.expand(x.shape[0], -1, -1), x, key_mask)


class ISAB(nn.Module):
    def __init__(self, d, heads, ff, m, act):
        super().__init__()
        self.i = nn.Parameter(torch.empty(1, m, d))
        self.mab0 = MAB(d, heads, ff, act)
        self.mab1 = MAB(d, heads, ff, act)

    def forward(self, x, key_mask=None):
        h = self.mab0(self.i.expand(x.shape[0], -1, -1), x, key_mask)
        return self.mab1(x, h)


class Phi(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, heads = cfg["phi_hidden_dim"], cfg["n_phi_heads"]
        act = nn.GELU() if cfg["phi_activation_fun"].lower() == "gelu" else nn.ReLU()
        p = cfg["max_input_dim"]
        # Identity stands where the official Sequential holds Dropout (off at inference), so
        # the parameter indices are the official ones.
        self.embedding_mlp = nn.Sequential(
            nn.Linear(p, 2 * d), nn.GELU(), nn.LayerNorm(2 * d, eps=LN_EPS), nn.Identity(),
            nn.Linear(2 * d, d), nn.GELU(), nn.LayerNorm(d, eps=LN_EPS))
        fib = nn.Module()
        fib.layers = nn.ModuleList()
        for _ in range(cfg["sab_stack_layers"]):
            fib.layers.append(SAB(d, heads, act))
            fib.layers.append(nn.LayerNorm(d, eps=LN_EPS))
            fib.layers.append(nn.Identity())
        self.feature_interaction_block = fib
        self.encoder = nn.ModuleList(
            ISAB(d, heads, cfg["phi_dim_forward"], cfg["n_inds"], act)
            for _ in range(cfg["n_phi_layers"]))
        self.pooling_pma = PMA(d, heads, cfg["n_seeds"] or cfg["n_inds"], act)
        n_dec = cfg["n_dec_layers"] or cfg["n_phi_layers"]
        self.decoder = nn.ModuleList([SAB(d, heads, act) for _ in range(n_dec)]
                                     + [PMA(d, heads, 1, act)])
        self.output_layer = nn.Linear(d, d)

    def features(self, t, mask):
        for layer in self.feature_interaction_block.layers:
            t = layer(t, mask) if isinstance(layer, SAB) else layer(t)
        return t

    def forward(self, x, use_mask=True, chunks=None):
        # x: (B, n, P) packed rows.  Official mask quirk: rows summing to exactly 0 are removed
        # as keys in the feature-block SABs only.  chunks: [(start, end)] row ranges that the
        # feature block sees one at a time (mist's row chunks; the rest sees every row).
        mask = (x.sum(dim=-1) == 0) if use_mask else None
        t = self.embedding_mlp(x)
        if chunks:
            t = torch.cat([self.features(t[:, a:b], None if mask is None else mask[:, a:b])
                           for a, b in chunks], dim=1)
        else:
            t = self.features(t, mask)
        for isab in self.encoder:
            t = isab(t)
        t = self.pooling_pma(t)
        for blk in self.decoder:
            t = blk(t)
        return self.output_layer(t[:, 0, :])


class Core(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hid, nr = cfg["phi_hidden_dim"], cfg["rho_hidden_dim"], cfg["n_rho_layers"]
        self.quantile_conditioned = bool(cfg["quantile_conditioned"])
        self.phi = Phi(cfg)
        din = d + (1 if self.quantile_conditioned else 0)
        out = cfg.get("output_dim", 1)
        if nr == 1:
            layers = [nn.Linear(din, out)]
        else:
            layers = [nn.Linear(din, hid), nn.ReLU()]
            for _ in range(nr - 2):
                layers += [nn.Linear(hid, hid), nn.ReLU()]
            layers.append(nn.Linear(hid, out))
        self.rho = nn.Sequential(*layers)

    def head(self, rep, taus=None):
        """rep (B, D) -> (B, ntau) for a QR model (taus list), (B, 1) otherwise."""
        if not self.quantile_conditioned:
            return self.rho(rep)
        cols = []
        for tau in taus:
            t = torch.full((rep.shape[0], 1), float(tau), dtype=rep.dtype)
            cols.append(self.rho(torch.cat([rep, t], dim=1)))
        return torch.cat(cols, dim=1)


class MIST(nn.Module):
    """The official checkpoint's module tree: state_dict names are core.phi.*, core.rho.*."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        self.core = Core(cfg)

    def pack(self, x, y):
        """x (n, dx), y (n, dy) numpy -> (1, n, P) tensor of the model's dtype."""
        p = self.cfg["max_input_dim"]
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if x.shape[1] + y.shape[1] > p:
            raise ValueError("dx + dy > max_input_dim")
        dt = next(self.parameters()).dtype
        rows = torch.zeros(x.shape[0], p, dtype=dt)
        # Official: float64 data -> float32 tensor, then zero padding.
        rows[:, :x.shape[1] + y.shape[1]] = torch.from_numpy(np.concatenate([x, y], axis=1)).to(dt)
        return rows.unsqueeze(0)

    def estimate(self, x, y, taus=None, use_mask=True, row_chunk=0):
        """Point model: float.  QR model: list of raw rho(tau) for each tau (unsorted).
        row_chunk: mist's row chunks of the feature block (mist_model_set_row_chunk)."""
        chunks = None
        n = len(x)
        if row_chunk and n > row_chunk:
            x, y = np.asarray(x).reshape(n, -1), np.asarray(y).reshape(n, -1)
            order = row_chunk_order(np.concatenate([x, y], axis=1))
            x, y = x[order], y[order]
            k = -(-n // row_chunk)
            chunks = [(j * n // k, (j + 1) * n // k) for j in range(k)]
        rep = self.core.phi(self.pack(x, y), use_mask=use_mask, chunks=chunks)
        out = self.core.head(rep, taus)[0]
        return [float(v) for v in out] if self.core.quantile_conditioned else float(out[0])


_M64 = (1 << 64) - 1


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def row_chunk_order(rows):
    """The row order of mist's row chunks, as infer/row_chunk.c specifies it: by a hash of each
    row's float64 bits (-0 read as +0), then by the values."""
    def h(row):
        z = 0x6A09E667F3BCC909
        for v in row:
            b = struct.unpack("<Q", struct.pack("<d", 0.0 if v == 0 else float(v)))[0]
            z = (_mix64(z ^ b) + 0x9E3779B97F4A7C15) & _M64
        return z
    return sorted(range(len(rows)), key=lambda i: (h(rows[i]), tuple(rows[i])))


def official_config(quantile_conditioned=False):
    cfg = dict(OFFICIAL_CONFIG)
    cfg["quantile_conditioned"] = bool(quantile_conditioned)
    return cfg


def randomize(model, seed):
    """Seeded random weights with O(1) activations; LN affine params random around 1 / 0 and
    attention biases non-zero so that every tensor is exercised."""
    g = torch.Generator().manual_seed(seed)

    def uni(t, bound):
        with torch.no_grad():
            t.copy_((torch.rand(t.shape, generator=g, dtype=torch.float64) * 2 - 1) * bound)

    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, nn.Linear):
                # He-uniform: keeps activations O(1) through GELU/ReLU layers (torch's default
                # bound 1/sqrt(fan_in) shrinks them and makes the output nearly constant).
                uni(mod.weight, math.sqrt(6.0 / mod.in_features))
                uni(mod.bias, 0.1)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + 0.2 * torch.randn(mod.weight.shape, generator=g,
                                                         dtype=torch.float64))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g, dtype=torch.float64))
            elif isinstance(mod, Attention):
                # q/k/v: twice torch's xavier bound, so attention logits have std ~ 4 and the
                # softmax (and the key mask) matter.
                uni(mod.in_proj_weight, 2.0 * math.sqrt(6.0 / (mod.d + mod.d)))
                uni(mod.in_proj_bias, 0.1)
        for name, prm in model.named_parameters():
            if name.endswith(".i") or name.endswith(".s"):
                prm.copy_(torch.randn(prm.shape, generator=g, dtype=torch.float64))
    return model


def build(quantile_conditioned=False, seed=0, cfg=None):
    cfg = dict(cfg) if cfg else official_config(quantile_conditioned)
    m = MIST(cfg)
    randomize(m, seed)
    m.eval()
    return m


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- safetensors


def save_safetensors(path, tensors, metadata=None):
    """Writes the safetensors format: u64 LE header length N, N bytes of JSON (space padded to
    a multiple of 8), then the data section; tensors (float32, little-endian) tile it exactly in
    the header's order."""
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs, off = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().to(torch.float32).numpy(),
                                 dtype="<f4")
        raw = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").copy()).reshape(
            info["shape"])
    return out


def save_checkpoint(model, outdir):
    """model.safetensors + config.json as PyTorchModelHubMixin writes them."""
    import os
    os.makedirs(outdir, exist_ok=True)
    save_safetensors(os.path.join(outdir, "model.safetensors"), model.state_dict())
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(model.cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def load_checkpoint(outdir, dtype=torch.float32):
    import os
    with open(os.path.join(outdir, "config.json")) as f:
        cfg = json.load(f)
    m = MIST(cfg)
    m.load_state_dict(load_safetensors(os.path.join(outdir, "model.safetensors")), strict=True)
    return m.to(dtype).eval()


# ------------------------------------------------------------------------------ checks


def selfcheck(model, x, y, taus=None):
    """Max abs difference between the explicit attention and nn.MultiheadAttention used the
    official way, in float64 (tests this file against PyTorch's own attention)."""
    m = model.double()
    with torch.inference_mode():
        Attention.impl = "explicit"
        a = m.estimate(x, y, taus)
        Attention.impl = "torch"
        try:
            b = m.estimate(x, y, taus)
        finally:
            Attention.impl = "explicit"
    model.float()
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    return float(np.max(np.abs(a - b)))
