#!/usr/bin/env python3
# llama_grad_ref.py: the gradient oracle for src/train. A float64 NumPy forward pass of a llama GGUF
# (F32 tensors, rope NORM mode as llama GGUFs use it) over one token sequence, the weighted
# cross-entropy loss  L = sum_t w[t] * -log p(tokens[t+1] | tokens[..t]),  and its gradient by a
# hand-written backward pass. Written independently of src/train: whole-array NumPy operations
# (heads as an axis, causal mask as -inf, GQA by repeating K/V heads) instead of its per-element
# loops. The tensors come from gguf.py, the repository's independent GGUF reader.
#
#   llama_grad_ref.py MODEL.gguf --tokens "1 5 9" --weights "0 1" --out grads.f64
# writes float64 little-endian: the loss, then each tensor's gradient (outermost-first, row-major)
# in the order the tensors appear in the file.
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402


def load(path):
    meta, tensors = gguf.load(path)
    a = meta["general.architecture"]
    cfg = {
        "n_layer": meta[a + ".block_count"],
        "n_head": meta[a + ".attention.head_count"],
        "n_head_kv": meta.get(a + ".attention.head_count_kv", meta[a + ".attention.head_count"]),
        "eps": meta[a + ".attention.layer_norm_rms_epsilon"],
        "base": meta.get(a + ".rope.freq_base", 10000.0),
    }
    w = {}
    for name, (_, shape, _) in tensors.items():
        w[name] = gguf.tensor_f32((meta, tensors), name).astype(np.float64).reshape(shape)
    return cfg, w, list(tensors.keys())


def rms_fwd(x, g, eps):
    r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return x * r * g, r


def rms_bwd(x, g, r, dy):
    # y = x r g, r = (mean(x^2) + eps)^-1/2  =>  dr/dx = -r^3 x / E
    E = x.shape[-1]
    dg = np.sum(dy * x * r, axis=0)
    dx = r * dy * g - x * r ** 3 * np.sum(dy * g * x, axis=-1, keepdims=True) / E
    return dx, dg


def rope_tables(T, hd, base):
    theta = np.arange(T)[:, None] * base ** (-2.0 * np.arange(hd // 2) / hd)[None, :]
    return np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]  # [T, 1, hd/2]


def rotate(x, c, s):  # x [T, heads, hd]; adjacent pairs (2i, 2i+1)
    e, o = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = e * c - o * s
    out[..., 1::2] = e * s + o * c
    return out


def main():
    ap = argparse.ArgumentParser(description="float64 loss and gradients of a llama GGUF")
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cfg, W, order = load(args.model)
    toks = np.array([int(t) for t in args.tokens.split()])
    wts = np.array([float(t) for t in args.weights.split()])
    T = len(toks)
    assert len(wts) == T - 1
    H, Hkv = cfg["n_head"], cfg["n_head_kv"]
    emb = W["token_embd.weight"]
    E = emb.shape[1]
    hd = E // H
    group = H // Hkv
    eps = cfg["eps"]
    c, s = rope_tables(T, hd, cfg["base"])
    mask = np.triu(np.full((T, T), -np.inf), 1)
    scale = 1.0 / np.sqrt(hd)
    out_w = W.get("output.weight", emb)

    # ---- forward, keeping what the backward pass needs
    x = emb[toks]
    cache = []
    for l in range(cfg["n_layer"]):
        b = f"blk.{l}."
        xn1, r1 = rms_fwd(x, W[b + "attn_norm.weight"], eps)
        q = rotate((xn1 @ W[b + "attn_q.weight"].T).reshape(T, H, hd), c, s)
        k = rotate((xn1 @ W[b + "attn_k.weight"].T).reshape(T, Hkv, hd), c, s)
        v = (xn1 @ W[b + "attn_v.weight"].T).reshape(T, Hkv, hd)
        kr, vr = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)  # [T, H, hd]
        S = np.einsum("thd,jhd->htj", q, kr) * scale + mask
        P = np.exp(S - S.max(axis=-1, keepdims=True))
        P /= P.sum(axis=-1, keepdims=True)
        att = np.einsum("htj,jhd->thd", P, vr).reshape(T, H * hd)
        xmid = x + att @ W[b + "attn_output.weight"].T
        xn2, r2 = rms_fwd(xmid, W[b + "ffn_norm.weight"], eps)
        gt = xn2 @ W[b + "ffn_gate.weight"].T
        up = xn2 @ W[b + "ffn_up.weight"].T
        sig = 1.0 / (1.0 + np.exp(-gt))
        a = gt * sig * up
        cache.append((x, xn1, r1, q, kr, vr, P, att, xmid, xn2, r2, gt, up, sig, a))
        x = xmid + a @ W[b + "ffn_down.weight"].T
    xnf, rf = rms_fwd(x, W["output_norm.weight"], eps)
    logits = xnf @ out_w.T
    m = logits.max(axis=-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
    loss = -np.sum(wts * logp[np.arange(T - 1), toks[1:]])

    # ---- backward
    G = {name: np.zeros_like(W[name]) for name in order}
    dlogits = np.exp(logp)
    dlogits[np.arange(T - 1), toks[1:]] -= 1.0
    dlogits[:T - 1] *= wts[:, None]
    dlogits[T - 1] = 0.0
    dout_w = dlogits.T @ xnf
    dx, G["output_norm.weight"] = rms_bwd(x, W["output_norm.weight"], rf, dlogits @ out_w)
    for l in reversed(range(cfg["n_layer"])):
        b = f"blk.{l}."
        (x0, xn1, r1, q, kr, vr, P, att, xmid, xn2, r2, gt, up, sig, a) = cache[l]
        G[b + "ffn_down.weight"] = dx.T @ a
        da = dx @ W[b + "ffn_down.weight"]
        dup = da * gt * sig
        dgt = da * up * sig * (1.0 + gt * (1.0 - sig))
        G[b + "ffn_gate.weight"] = dgt.T @ xn2
        G[b + "ffn_up.weight"] = dup.T @ xn2
        dxn2 = dgt @ W[b + "ffn_gate.weight"] + dup @ W[b + "ffn_up.weight"]
        d, G[b + "ffn_norm.weight"] = rms_bwd(xmid, W[b + "ffn_norm.weight"], r2, dxn2)
        dx = dx + d
        G[b + "attn_output.weight"] = dx.T @ att
        datt = (dx @ W[b + "attn_output.weight"]).reshape(T, H, hd)
        dP = np.einsum("thd,jhd->htj", datt, vr)
        dvr = np.einsum("htj,thd->jhd", P, datt)
        dS = P * (dP - np.sum(P * dP, axis=-1, keepdims=True)) * scale
        dq = np.einsum("htj,jhd->thd", dS, kr)
        dkr = np.einsum("htj,thd->jhd", dS, q)
        dk = dkr.reshape(T, Hkv, group, hd).sum(axis=2)  # heads h = kh*group + i share kv head kh
        dv = dvr.reshape(T, Hkv, group, hd).sum(axis=2)
        dq = rotate(dq, c, -s).reshape(T, H * hd)  # the transpose of a rotation is its inverse
        dk = rotate(dk, c, -s).reshape(T, Hkv * hd)
        dv = dv.reshape(T, Hkv * hd)
        G[b + "attn_q.weight"] = dq.T @ xn1
        G[b + "attn_k.weight"] = dk.T @ xn1
        G[b + "attn_v.weight"] = dv.T @ xn1
        dxn1 = dq @ W[b + "attn_q.weight"] + dk @ W[b + "attn_k.weight"] + dv @ W[b + "attn_v.weight"]
        d, G[b + "attn_norm.weight"] = rms_bwd(x0, W[b + "attn_norm.weight"], r1, dxn1)
        dx = dx + d
    demb = np.zeros_like(emb)
    np.add.at(demb, toks, dx)
    if "output.weight" in W:
        G["output.weight"] = dout_w
        G["token_embd.weight"] = demb
    else:
        G["token_embd.weight"] = demb + dout_w

    with open(args.out, "wb") as f:
        f.write(np.array([loss], dtype="<f8").tobytes())
        for name in order:
            f.write(G[name].astype("<f8").ravel().tobytes())


if __name__ == "__main__":
    main()
