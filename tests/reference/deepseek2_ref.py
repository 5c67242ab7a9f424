#!/usr/bin/env python3
# deepseek2_ref.py: an independent float64 NumPy forward pass for `deepseek2` GGUF models
# (DeepSeek-V2, V2-Lite, V3): multi-head latent attention (MLA), YaRN rope, DeepSeekMoE routing.
# The oracle that the engine's deepseek2 forward is compared against. Written from the DeepSeek-V2
# (arXiv 2405.04434) and V3 (arXiv 2412.19437) papers and the math of HF modeling_deepseek.py; the
# file layout (key names, the split/transposed k_b, v_b) is llama.cpp's. Reads files only through
# gguf.py; shares no code with the engine or llama_ref.py. Clarity over speed: one vectorised line
# per step with its formula; no KV cache.
#
#   deepseek2_ref.py MODEL.gguf --tokens "1 2 3" --out logits.f32  # f32 [n_tokens x n_vocab]
#   deepseek2_ref.py MODEL.gguf --tokens "1 2 3" --dump-routing r.json  # chosen experts, weights
#   deepseek2_ref.py MODEL.gguf --self-check   # naive MLA == absorbed MLA to 1e-10; exit 1 if not
#
# Conventions (the engine must match them):
# - Rope rotates adjacent pairs (x[2i], x[2i+1]) of the qk_rope dims (llama.cpp's NORM mode; HF's
#   de-interleaving permutation folded into the layout), frequency i: base^(-2i/qk_rope).
# - YaRN (HF DeepseekV2YarnRotaryEmbedding = ggml rope_yarn with ext_factor 1): with factor s,
#   original context L, beta_fast 32, beta_slow 1 and d = qk_rope,
#     corr(b) = d * ln(L / (2*pi*b)) / (2 * ln(base));  lo = max(0, floor(corr(32)));
#     hi = min(d - 1, ceil(corr(1)));  ramp_i = 1 - clip((i - lo) / max(0.001, hi - lo), 0, 1);
#     freq_i = base^(-2i/d) * (ramp_i + (1 - ramp_i) / s)       (ramp 1: original frequency)
#   mscale(s, m) = 1 + 0.1 * m * ln(s) for s > 1, else 1. The GGUF carries m_all = mscale_all_dim as
#   rope.scaling.yarn_log_multiplier = 0.1 * m_all. With the key (every DeepSeek config, where
#   HF's mscale == mscale_all_dim): rope magnitude 1 and softmax scale
#     kq_scale = mscale(s, m_all)^2 / sqrt(qk_nope + qk_rope)      (= llama.cpp's kq_scale).
#   Without it (HF: mscale_all_dim 0, mscale 1): cos/sin scaled by mscale(s, 1), kq_scale =
#   1 / sqrt(qk_nope + qk_rope). NOTE: llama.cpp 3f545bec differs there (it also multiplies
#   kq_scale by mscale(s, 1)^2); real files always carry the key.
# - Routing: scores = softmax(logits) (V2, gating 1) or sigmoid(logits) (V3, gating 2); choice on
#   scores + exp_probs_b (when present). With n_group > 1 the groups are ranked by their max choice
#   score (softmax: HF V2 group_limited_greedy) or the sum of their top-2 (sigmoid: HF V3
#   noaux_tc; llama.cpp uses top-2 sums for both), the best n_group_used kept, the rest -inf; then
#   top n_expert_used. TIES: every ranking is a stable sort by descending score, so the lowest index
#   wins (groups and experts). Weights = the UNbiased scores of the chosen experts, divided by
#   their sum if expert_weights_norm, times expert_weights_scale (when the key is present and not
#   0; llama.cpp's order: norm, then scale).
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402  (tests/reference/gguf.py)


class Model:
    """Hyperparameters from the deepseek2.* keys; weights as float64 arrays, outermost-first."""

    def __init__(self, path):
        self.loaded = gguf.load(path)
        meta, self.tensors = self.loaded
        if meta["general.architecture"] != "deepseek2":
            raise ValueError(f"{path}: general.architecture: expected deepseek2, "
                             f"found {meta['general.architecture']}")
        k = lambda name, *default: meta.get("deepseek2." + name, *default)  # noqa: E731
        self.n_embd = int(k("embedding_length"))
        self.n_nextn = int(k("nextn_predict_layers", 0))  # MTP layers, not part of the forward
        self.n_layer = int(k("block_count")) - self.n_nextn
        self.n_head = int(k("attention.head_count"))
        self.eps = float(k("attention.layer_norm_rms_epsilon"))
        self.q_lora = int(k("attention.q_lora_rank", 0))
        self.kv_lora = int(k("attention.kv_lora_rank"))
        self.d_rope = int(k("rope.dimension_count"))
        if "deepseek2.attention.key_length_mla" in meta:  # split k_b / v_b (current converter)
            self.d_k = int(k("attention.key_length_mla"))
            self.d_v = int(k("attention.value_length_mla"))
        else:  # combined kv_b (older files): key_length is the per-head MHA size
            self.d_k, self.d_v = int(k("attention.key_length")), int(k("attention.value_length"))
        self.d_nope = self.d_k - self.d_rope
        self.rope_base = float(k("rope.freq_base", 10000.0))
        self.yarn = k("rope.scaling.type", "none") == "yarn"
        self.factor = float(k("rope.scaling.factor", 1.0))
        self.orig_ctx = int(k("rope.scaling.original_context_length", k("context_length", 0)))
        self.beta_fast = float(k("rope.scaling.yarn_beta_fast", 32.0))
        self.beta_slow = float(k("rope.scaling.yarn_beta_slow", 1.0))
        log_mul = k("rope.scaling.yarn_log_multiplier", None)
        self.mscale_all = float(log_mul) / 0.1 if log_mul else None  # 0 counts as absent (HF)
        self.n_dense_lead = int(k("leading_dense_block_count", 0))
        self.n_expert = int(k("expert_count", 0))
        self.n_expert_used = int(k("expert_used_count", 0))
        self.n_group = int(k("expert_group_count", 1))
        self.n_group_used = int(k("expert_group_used_count", 1))
        self.sigmoid = int(k("expert_gating_func", 1)) == 2  # llama.cpp: 1 softmax, 2 sigmoid
        self.w_norm = bool(k("expert_weights_norm", False))
        self.w_scale = float(k("expert_weights_scale", 0.0)) or 1.0  # absent or 0: no scaling
        self.group_score = "top2" if self.sigmoid else "max"

    def w(self, name):
        _, shape, _ = self.tensors[name]
        return np.asarray(gguf.tensor_f32(self.loaded, name), dtype=np.float64).reshape(shape)

    def has(self, name):
        return name in self.tensors

    def up_proj(self, l):
        """W_UK [n_head, d_nope, kv_lora], W_UV [n_head, d_v, kv_lora]: k_nope_h = W_UK[h] · c."""
        p = f"blk.{l}."
        if self.has(p + "attn_k_b.weight"):  # converter: k_b = kv_b's key rows, transposed
            return self.w(p + "attn_k_b.weight").transpose(0, 2, 1), self.w(p + "attn_v_b.weight")
        kv_b = self.w(p + "attn_kv_b.weight")
        kv_b = kv_b.reshape(self.n_head, self.d_nope + self.d_v, self.kv_lora)
        return kv_b[:, : self.d_nope], kv_b[:, self.d_nope :]  # per head: [k rows | v rows]


def rms_norm(x, weight, eps):
    # y = x / sqrt(mean(x^2) + eps) * w, per row
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def linear(x, m, name):
    # y = x · Wᵀ; weight rows are output features
    return x @ m.w(name).T


def silu(x):
    return x / (1.0 + np.exp(-x))  # x * sigmoid(x)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def yarn_mscale(s, m):
    return 1.0 + 0.1 * m * np.log(s) if s > 1.0 else 1.0  # HF yarn_get_mscale


def rope_freqs(m):
    """Per-pair frequencies [d_rope/2] and the cos/sin magnitude (YaRN formulas in the header)."""
    d, i = m.d_rope, np.arange(m.d_rope // 2)
    extrap = m.rope_base ** (-2.0 * i / d)  # base^(-2i/d)
    if not m.yarn:
        return extrap, 1.0
    def corr(b):  # the pair index whose wavelength fits b times into the original context
        return d * np.log(m.orig_ctx / (2 * np.pi * b)) / (2 * np.log(m.rope_base))
    lo, hi = max(0.0, np.floor(corr(m.beta_fast))), min(d - 1.0, np.ceil(corr(m.beta_slow)))
    ramp = 1.0 - np.clip((i - lo) / max(0.001, hi - lo), 0.0, 1.0)  # 1: keep, 0: interpolate
    freq = extrap * ramp + (extrap / m.factor) * (1.0 - ramp)
    magnitude = 1.0 if m.mscale_all is not None else yarn_mscale(m.factor, 1.0)
    return freq, magnitude


def kq_scale(m):
    # softmax scale: 1/sqrt(d_nope + d_rope), times mscale(s, mscale_all)^2 under YaRN with the key
    base = 1.0 / np.sqrt(m.d_k)
    return base * yarn_mscale(m.factor, m.mscale_all) ** 2 if m.yarn and m.mscale_all else base


def rope(x, pos, m):
    """x: [T, H, d_rope]; rotates adjacent pairs (x[2i], x[2i+1]) by pos * freq_i."""
    freq, magnitude = rope_freqs(m)
    theta = pos[:, None] * freq[None, :]  # [T, d_rope/2]
    cos, sin = (magnitude * np.cos(theta))[:, None, :], (magnitude * np.sin(theta))[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
    return out


def mla_inputs(m, l, h, pos):
    """Per-layer MLA pieces: q_nope [T,H,dn], q_pe [T,H,dr] (roped), latent c [T,R], k_pe [T,dr]."""
    p, T = f"blk.{l}.", h.shape[0]
    if m.q_lora > 0:  # q = W_UQ · RMSNorm(W_DQ · h)
        c_q = rms_norm(linear(h, m, p + "attn_q_a.weight"), m.w(p + "attn_q_a_norm.weight"), m.eps)
        q = linear(c_q, m, p + "attn_q_b.weight")
    else:  # q = W_Q · h (V2-Lite)
        q = linear(h, m, p + "attn_q.weight")
    q = q.reshape(T, m.n_head, m.d_k)  # per head [q_nope | q_rope]
    kv_a = linear(h, m, p + "attn_kv_a_mqa.weight")  # [T, kv_lora + d_rope] = [c_KV | k_rope]
    c = rms_norm(kv_a[:, : m.kv_lora], m.w(p + "attn_kv_a_norm.weight"), m.eps)  # latent, normed
    k_pe = rope(kv_a[:, None, m.kv_lora :], pos, m)[:, 0]  # one rope key shared by all heads
    return q[..., : m.d_nope], rope(q[..., m.d_nope :], pos, m), c, k_pe


def causal_softmax(scores):
    """scores [H, T, S] -> probabilities over s <= t."""
    T = scores.shape[-1]
    return softmax(np.where(np.tril(np.ones((T, T), dtype=bool))[None], scores, -np.inf))


def attention_naive(m, l, h, pos):
    """Expanded MLA: decompress k_nope and v per head, then ordinary causal MHA."""
    q_nope, q_pe, c, k_pe = mla_inputs(m, l, h, pos)
    W_UK, W_UV = m.up_proj(l)
    k_nope = np.einsum("sr,hdr->shd", c, W_UK)  # k_nope_h = W_UK[h] · c
    v = np.einsum("sr,hdr->shd", c, W_UV)  # v_h = W_UV[h] · c
    q = np.concatenate([q_nope, q_pe], axis=-1)  # [T, H, d_nope + d_rope]
    k_pe = np.broadcast_to(k_pe[:, None], k_nope.shape[:2] + (m.d_rope,))  # same for every head
    k = np.concatenate([k_nope, k_pe], axis=-1)
    p = causal_softmax(np.einsum("thd,shd->hts", q, k) * kq_scale(m))  # softmax(q·k * scale)
    return np.einsum("hts,shd->thd", p, v).reshape(len(h), m.n_head * m.d_v)


def attention_absorbed(m, l, h, pos):
    """Absorbed MLA (V2 paper §2.1.2): W_UK folded into q, W_UV applied after attending c."""
    q_nope, q_pe, c, k_pe = mla_inputs(m, l, h, pos)
    W_UK, W_UV = m.up_proj(l)
    q_lat = np.einsum("thd,hdr->thr", q_nope, W_UK)  # q_nope_hᵀ W_UK[h]: query in latent space
    scores = np.einsum("thr,sr->hts", q_lat, c) + np.einsum("thd,sd->hts", q_pe, k_pe)
    p = causal_softmax(scores * kq_scale(m))
    o_lat = np.einsum("hts,sr->thr", p, c)  # attend over the latents
    return np.einsum("thr,hdr->thd", o_lat, W_UV).reshape(len(h), m.n_head * m.d_v)  # W_UV[h] · o


def stable_top(scores, k):
    """Indices of the k largest per row, descending; ties: lowest index first (stable sort)."""
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k]


def route(m, l, h):
    """Chosen experts [T, k] (ranked) and their weights [T, k] (formulas in the header)."""
    p = f"blk.{l}."
    logits = linear(h, m, p + "ffn_gate_inp.weight")  # [T, n_expert]
    scores = 1.0 / (1.0 + np.exp(-logits)) if m.sigmoid else softmax(logits)
    choice = scores + (m.w(p + "exp_probs_b.bias") if m.has(p + "exp_probs_b.bias") else 0.0)
    if m.n_group > 1:
        g = choice.reshape(len(h), m.n_group, -1)  # [T, n_group, experts per group]
        if m.group_score == "max":
            gs = g.max(-1)  # V2: a group's best expert
        else:
            gs = np.take_along_axis(g, stable_top(g, 2), -1).sum(-1)  # V3: sum of its top-2
        kept = np.zeros(gs.shape, dtype=bool)
        np.put_along_axis(kept, stable_top(gs, m.n_group_used), True, axis=-1)
        choice = np.where(kept[..., None], g, -np.inf).reshape(len(h), m.n_expert)
    idx = stable_top(choice, m.n_expert_used)
    wts = np.take_along_axis(scores, idx, -1)  # unbiased scores
    if m.w_norm:
        wts = wts / wts.sum(-1, keepdims=True)
    return idx, wts * m.w_scale


def ffn(h, gate, up, down):
    return (silu(h @ gate.T) * (h @ up.T)) @ down.T  # down(silu(gate·h) ⊙ up·h)


def moe(m, l, h, routing):
    p = f"blk.{l}."
    idx, wts = route(m, l, h)
    if routing is not None:
        routing.append({"layer": l, "experts": idx.tolist(), "weights": wts.tolist()})
    gate, up, down = (m.w(p + f"ffn_{n}_exps.weight") for n in ("gate", "up", "down"))
    out = np.zeros_like(h)
    for e in np.unique(idx):  # Σ_k w_k · expert_{idx_k}(h), token by token
        t, slot = np.nonzero(idx == e)
        out[t] += wts[t, slot][:, None] * ffn(h[t], gate[e], up[e], down[e])
    if m.has(p + "ffn_gate_shexp.weight"):  # shared experts: always on, weight 1
        out += ffn(h, *(m.w(p + f"ffn_{n}_shexp.weight") for n in ("gate", "up", "down")))
    return out


def forward(m, tokens, absorbed=False, routing=None):
    """Logits [T, n_vocab] in float64 for one sequence from position 0 (MTP layers unused)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    pos = np.arange(len(tokens), dtype=np.float64)
    attention = attention_absorbed if absorbed else attention_naive
    x = m.w("token_embd.weight")[tokens]
    for l in range(m.n_layer):
        p = f"blk.{l}."
        x = x + linear(attention(m, l, rms_norm(x, m.w(p + "attn_norm.weight"), m.eps), pos), m,
                       p + "attn_output.weight")  # + W_O · MLA(norm(x))
        h = rms_norm(x, m.w(p + "ffn_norm.weight"), m.eps)
        if l < m.n_dense_lead:
            x = x + ffn(h, *(m.w(p + f"ffn_{n}.weight") for n in ("gate", "up", "down")))
        else:
            x = x + moe(m, l, h, routing)
    x = rms_norm(x, m.w("output_norm.weight"), m.eps)
    return x @ (m.w("output.weight") if m.has("output.weight") else m.w("token_embd.weight")).T


def self_check(m, tokens):
    """Naive and absorbed MLA must give the same logits (same math, other association)."""
    a, b = forward(m, tokens), forward(m, tokens, absorbed=True)
    rel = np.abs(a - b).max() / np.abs(a).max()
    print(f"self-check naive vs absorbed MLA: max rel diff {rel:.3e} over {a.shape} logits, "
          f"max |logit| {np.abs(a).max():.3f}")
    return rel <= 1e-10


def main():
    ap = argparse.ArgumentParser(description="float64 NumPy logits of a deepseek2 GGUF")
    ap.add_argument("model")
    ap.add_argument("--tokens", help='space-separated token ids, e.g. "1 2 3"')
    ap.add_argument("--out", help="write float32 LE logits [n_tokens x n_vocab], row-major")
    ap.add_argument("--dump-routing",
                    help="write JSON: per MoE layer, per token, the chosen experts and weights")
    ap.add_argument("--absorbed", action="store_true", help="use the absorbed MLA form")
    ap.add_argument("--group-score", choices=("auto", "max", "top2"), default="auto",
                    help="rank expert groups by max (V2) or top-2 sum (V3, llama.cpp); "
                         "auto: by gating function")
    ap.add_argument("--self-check", action="store_true",
                    help="compare naive and absorbed MLA (1e-10); exit 1 on disagreement")
    args = ap.parse_args()
    m = Model(args.model)
    if args.group_score != "auto":
        m.group_score = args.group_score
    n_vocab = m.tensors["token_embd.weight"][1][0]
    tokens = [int(t) for t in args.tokens.split()] if args.tokens else \
        [(i * 7919 + 13) % n_vocab for i in range(24)]
    if args.self_check:
        sys.exit(0 if self_check(m, tokens) else 1)
    routing = [] if args.dump_routing else None
    logits = forward(m, tokens, absorbed=args.absorbed, routing=routing)
    if args.out:
        logits.astype("<f4").tofile(args.out)
    if args.dump_routing:
        with open(args.dump_routing, "w") as f:
            json.dump({"tokens": tokens, "layers": routing}, f)


if __name__ == "__main__":
    main()
