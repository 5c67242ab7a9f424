// Tensor lookup for deepseek2 layers as llama.cpp's converter names and shapes them (shapes here
// outermost-first, i.e. ggml's ne[] reversed), and the per-head / per-expert slicing of 3-D
// tensors.
#include "model/weights_deepseek2.h"

#include "model/tensor_loader.h"
#include "tensor/quant.h"

namespace latent {
namespace {

// Matrix i of a 3-D view [n, rows, cols] as a 2-D view [rows, cols].
TensorView matrix(const TensorView& t, int64_t i) {
  TensorView v = t;
  v.n_dims = 2;
  v.shape = {t.shape[1], t.shape[2], 1, 1};
  v.data = t.row(i * t.shape[1]);
  return v;
}

// Rows [r0, r0+n) of a 2-D view.
TensorView rows(const TensorView& t, int64_t r0, int64_t n) {
  TensorView v = t;
  v.shape[0] = n;
  v.data = t.row(r0);
  return v;
}

// The key half of a legacy attn_kv_b [n_head·(nope+v), kv_lora] holds W_UK per head as [nope,
// kv_lora]; absorption wants W_UKᵀ [kv_lora, nope] as a matmul weight. This is the transpose the
// converter applies when it writes attn_k_b.
TensorView transposed_key_half(const TensorView& kv_b, int64_t h, const Deepseek2Config& d,
                               std::vector<float>& store) {
  const int64_t nope = d.qk_nope, lat = d.kv_lora_rank, r0 = h * (nope + d.v_head_dim);
  std::vector<float> row(static_cast<size_t>(lat));
  store.assign(static_cast<size_t>(lat * nope), 0.0f);
  for (int64_t i = 0; i < nope; ++i) {
    dequantize_row(kv_b.dtype, kv_b.row(r0 + i), row.data(), lat);
    for (int64_t c = 0; c < lat; ++c) store[c * nope + i] = row[c];
  }
  TensorView v;
  v.dtype = DType::F32;
  v.n_dims = 2;
  v.shape = {lat, nope, 1, 1};
  v.data = store.data();
  return v;
}

void load_attention(TensorLoader& t, const ModelConfig& c, const std::string& b, Deepseek2Layer& L,
                    Deepseek2Weights& w) {
  const Deepseek2Config& d = c.ds;
  const int64_t e = c.n_embd, H = c.n_head, qk = int64_t{d.qk_nope} + d.qk_rope;
  const int64_t lat = d.kv_lora_rank, nope = d.qk_nope, vd = d.v_head_dim;
  L.attn_norm = t.get(b + "attn_norm.weight", {e});
  if (d.q_lora_rank > 0) {
    L.wq_a = t.get(b + "attn_q_a.weight", {d.q_lora_rank, e});
    L.q_a_norm = t.get(b + "attn_q_a_norm.weight", {d.q_lora_rank});
    L.wq_b = t.get(b + "attn_q_b.weight", {H * qk, d.q_lora_rank});
  } else {
    L.wq = t.get(b + "attn_q.weight", {H * qk, e});
  }
  L.wkv_a = t.get(b + "attn_kv_a_mqa.weight", {lat + d.qk_rope, e});
  L.kv_a_norm = t.get(b + "attn_kv_a_norm.weight", {lat});
  if (t.has(b + "attn_kv_b.weight") && !t.has(b + "attn_k_b.weight")) {
    // legacy combined kv_b: per head nope key rows, then v_head value rows
    const TensorView kv_b = t.get(b + "attn_kv_b.weight", {H * (nope + vd), lat});
    for (int64_t h = 0; h < H; ++h) {
      w.owned.emplace_back();
      L.k_b.push_back(transposed_key_half(kv_b, h, d, w.owned.back()));
      L.v_b.push_back(rows(kv_b, h * (nope + vd) + nope, vd));
    }
  } else {
    const TensorView k_b = t.get(b + "attn_k_b.weight", {H, lat, nope});
    const TensorView v_b = t.get(b + "attn_v_b.weight", {H, vd, lat});
    for (int64_t h = 0; h < H; ++h) {
      L.k_b.push_back(matrix(k_b, h));
      L.v_b.push_back(matrix(v_b, h));
    }
  }
  L.wo = t.get(b + "attn_output.weight", {e, H * vd});
}

void load_ffn(TensorLoader& t, const ModelConfig& c, int32_t l, const std::string& b,
              Deepseek2Layer& L) {
  const Deepseek2Config& d = c.ds;
  const int64_t e = c.n_embd, E = d.n_expert, ff = d.n_ff_exp;
  L.ffn_norm = t.get(b + "ffn_norm.weight", {e});
  L.moe = l >= d.n_layer_dense_lead;
  if (!L.moe) {
    L.ffn_gate = t.get(b + "ffn_gate.weight", {c.n_ff, e});
    L.ffn_up = t.get(b + "ffn_up.weight", {c.n_ff, e});
    L.ffn_down = t.get(b + "ffn_down.weight", {e, c.n_ff});
    return;
  }
  L.gate_inp = t.get(b + "ffn_gate_inp.weight", {E, e});
  L.exp_probs_b = t.get(b + "exp_probs_b.bias", {E}, /*required=*/false);
  const TensorView down = t.get(b + "ffn_down_exps.weight", {E, e, ff});
  if (t.has(b + "ffn_gate_up_exps.weight")) {
    // fused stack: per expert the gate rows, then the up rows
    const TensorView gu = t.get(b + "ffn_gate_up_exps.weight", {E, 2 * ff, e});
    for (int64_t x = 0; x < E; ++x) {
      L.exp_gate.push_back(rows(matrix(gu, x), 0, ff));
      L.exp_up.push_back(rows(matrix(gu, x), ff, ff));
    }
  } else {
    const TensorView gate = t.get(b + "ffn_gate_exps.weight", {E, ff, e});
    const TensorView up = t.get(b + "ffn_up_exps.weight", {E, ff, e});
    for (int64_t x = 0; x < E; ++x) {
      L.exp_gate.push_back(matrix(gate, x));
      L.exp_up.push_back(matrix(up, x));
    }
  }
  for (int64_t x = 0; x < E; ++x) L.exp_down.push_back(matrix(down, x));
  if (d.n_expert_shared > 0) {
    const int64_t sh = ff * d.n_expert_shared;
    L.shexp_gate = t.get(b + "ffn_gate_shexp.weight", {sh, e});
    L.shexp_up = t.get(b + "ffn_up_shexp.weight", {sh, e});
    L.shexp_down = t.get(b + "ffn_down_shexp.weight", {e, sh});
  }
}

}  // namespace

Deepseek2Weights load_deepseek2_layers(TensorLoader& t, const ModelConfig& c) {
  Deepseek2Weights w;
  // Reserve so the owned buffers' addresses never move while views point into them.
  w.owned.reserve(static_cast<size_t>(c.n_layer) * static_cast<size_t>(c.n_head));
  for (int32_t l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    Deepseek2Layer L;
    load_attention(t, c, b, L, w);
    load_ffn(t, c, l, b, L);
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace latent
