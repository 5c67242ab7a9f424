#!/usr/bin/env python3
# llama_ref.py: an independent float64 NumPy forward pass for `llama` and `qwen2` GGUF models,
# the oracle that tests/model/test_reference_*.cpp compare `latent logits` against. It reads files
# only through tests/reference/gguf.py (dequantized weights) and shares no code with the engine.
# Clarity over speed: each step is one vectorised line with its formula; no KV cache.
#
#   llama_ref.py MODEL.gguf --tokens "1 2 3" --out logits.f32  # f32 [n_tokens x n_vocab] row-major
#   llama_ref.py MODEL.gguf --tokens "1 2 3" --nll             # teacher-forced NLL in nats
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402  (tests/reference/gguf.py)


class Model:
    """Hyperparameters from the GGUF keys; weights as float64 arrays, shape outermost-first."""

    def __init__(self, path):
        self.loaded = gguf.load(path)
        meta, tensors = self.loaded
        self.arch = arch = meta["general.architecture"]
        if arch not in ("llama", "qwen2"):
            raise ValueError(f"{path}: general.architecture: expected llama or qwen2, found {arch}")
        self.n_embd = int(meta[f"{arch}.embedding_length"])
        self.n_layer = int(meta[f"{arch}.block_count"])
        self.n_head = int(meta[f"{arch}.attention.head_count"])
        self.n_head_kv = int(meta.get(f"{arch}.attention.head_count_kv", self.n_head))
        self.head_dim_k = int(meta.get(f"{arch}.attention.key_length", self.n_embd // self.n_head))
        self.head_dim_v = int(meta.get(f"{arch}.attention.value_length", self.head_dim_k))
        self.n_rot = int(meta.get(f"{arch}.rope.dimension_count", self.head_dim_k))
        self.rope_base = float(meta.get(f"{arch}.rope.freq_base", 10000.0))
        self.eps = float(meta[f"{arch}.attention.layer_norm_rms_epsilon"])
        scaling = meta.get(f"{arch}.rope.scaling.type", "none")
        if scaling not in ("none", "linear"):
            raise ValueError(f"{path}: {arch}.rope.scaling.type: {scaling} is not supported here")
        self.rope_pos_scale = 1.0  # linear scaling: positions are divided by the factor
        if scaling == "linear":
            self.rope_pos_scale = 1.0 / float(meta[f"{arch}.rope.scaling.factor"])
        self.tensors = tensors
        # Llama 3.1-style frequency factors; llama.cpp ROPE_TYPE_NEOX archs (qwen2) have none.
        self.rope_freqs = self.w("rope_freqs.weight") if "rope_freqs.weight" in tensors else None
        self.neox = arch == "qwen2"  # llama.cpp: LLAMA_ROPE_TYPE_NEOX for qwen2, NORM for llama

    def w(self, name):
        _, shape, _ = self.tensors[name]
        return np.asarray(gguf.tensor_f32(self.loaded, name), dtype=np.float64).reshape(shape)

    def w_opt(self, name):
        return self.w(name) if name in self.tensors else None


def rms_norm(x, weight, eps):
    # y = x / sqrt(mean(x^2) + eps) * w, per row
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x, pos, m):
    """x: [T, H, d]. Rotates each head's first n_rot dims by pos * base^(-2i/n_rot) / f_i."""
    half = m.n_rot // 2
    inv_freq = m.rope_base ** (-2.0 * np.arange(half) / m.n_rot)  # base^(-2i/n_rot), i < n_rot/2
    if m.rope_freqs is not None:
        inv_freq = inv_freq / m.rope_freqs  # rope_freqs.weight divides the frequency (llama.cpp)
    theta = (pos[:, None] * m.rope_pos_scale) * inv_freq[None, :]  # [T, n_rot/2]
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]  # broadcast over heads
    out = x.copy()
    if m.neox:  # NEOX: pairs (x[i], x[i + n_rot/2])
        a, b = x[..., :half], x[..., half : m.n_rot]
        out[..., :half], out[..., half : m.n_rot] = a * cos - b * sin, a * sin + b * cos
    else:  # NORM: adjacent pairs (x[2i], x[2i+1])
        a, b = x[..., 0 : m.n_rot : 2], x[..., 1 : m.n_rot : 2]
        out[..., 0 : m.n_rot : 2], out[..., 1 : m.n_rot : 2] = a * cos - b * sin, a * sin + b * cos
    return out


def attention(q, k, v, m):
    """Causal GQA. q: [T, n_head, dk]; k, v: [T, n_head_kv, dk|dv] -> [T, n_head * dv]."""
    T = q.shape[0]
    group = m.n_head // m.n_head_kv
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)  # q head h: kv head h // group
    scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(m.head_dim_k)  # q_t · k_s / sqrt(dk)
    scores = np.where(np.tril(np.ones((T, T), dtype=bool))[None], scores, -np.inf)  # s > t masked
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = p / p.sum(axis=-1, keepdims=True)  # softmax over s
    return np.einsum("hts,shd->thd", p, v).reshape(T, m.n_head * m.head_dim_v)  # sum_s p * v_s


def linear(x, m, name):
    # y = x · Wᵀ (+ b when NAME.bias exists, as qwen2's q/k/v); weight rows are output features
    bias = m.w_opt(name + ".bias")
    return x @ m.w(name + ".weight").T + (bias if bias is not None else 0.0)


def silu(x):
    return x / (1.0 + np.exp(-x))  # x * sigmoid(x)


def forward(m, tokens):
    """Logits [T, n_vocab] in float64 for every position of one sequence starting at position 0."""
    tokens = np.asarray(tokens, dtype=np.int64)
    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = m.w("token_embd.weight")[tokens]  # [T, n_embd]
    for l in range(m.n_layer):
        p = f"blk.{l}."
        h = rms_norm(x, m.w(p + "attn_norm.weight"), m.eps)
        q, k, v = (linear(h, m, p + f"attn_{n}") for n in "qkv")
        q = rope(q.reshape(T, m.n_head, m.head_dim_k), pos, m)
        k = rope(k.reshape(T, m.n_head_kv, m.head_dim_k), pos, m)
        v = v.reshape(T, m.n_head_kv, m.head_dim_v)
        x = x + linear(attention(q, k, v, m), m, p + "attn_output")  # + Wo · attention
        h = rms_norm(x, m.w(p + "ffn_norm.weight"), m.eps)
        gate, up = linear(h, m, p + "ffn_gate"), linear(h, m, p + "ffn_up")
        x = x + linear(silu(gate) * up, m, p + "ffn_down")  # + down(silu(gate·x) ⊙ up·x)
    x = rms_norm(x, m.w("output_norm.weight"), m.eps)
    out = m.w_opt("output.weight")
    return x @ (out if out is not None else m.w("token_embd.weight")).T  # tied: token_embd


def nll(logits, tokens):
    """Teacher-forced sum of -ln p(tok[i+1] | tok[<=i]) over i = 0..n-2."""
    z = logits[:-1] - logits[:-1].max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # log softmax
    return -logp[np.arange(len(tokens) - 1), np.asarray(tokens[1:])].sum()


def main():
    ap = argparse.ArgumentParser(description="float64 NumPy logits of a llama/qwen2 GGUF")
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True, help='space-separated token ids, e.g. "1 2 3"')
    ap.add_argument("--out", help="write float32 LE logits [n_tokens x n_vocab], row-major")
    ap.add_argument("--nll", action="store_true", help="print the teacher-forced NLL (nats)")
    args = ap.parse_args()
    tokens = [int(t) for t in args.tokens.split()]
    m = Model(args.model)
    logits = forward(m, tokens)
    if args.out:
        logits.astype("<f4").tofile(args.out)
    if args.nll:
        print(f"nll {nll(logits, tokens):.6f}")


if __name__ == "__main__":
    main()
