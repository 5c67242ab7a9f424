// Test helper: writes a small random-weight deepseek2 GGUF with GgufWriter, keys and tensors named
// and shaped as llama.cpp's converter writes them, every feature switchable (q_lora, YaRN, groups,
// sigmoid + bias, shared experts, dense lead, split or combined kv_b, MTP layers, forced router
// ties), with hooks to break it for the error tests. No tokenizer block.
#pragma once

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"

namespace latent::test {

struct Ds2Spec {
  int n_embd = 64, n_layer = 3, n_head = 4, n_vocab = 97, n_ctx = 64;
  int q_lora = 0, kv_lora = 32, nope = 16, rope = 8, v_head = 16;
  int n_ff = 96, n_ff_exp = 24, n_expert = 8, n_used = 3, n_shared = 1;
  int n_groups = 1, n_group_used = 1, dense_lead = 1, nextn = 0;
  int gating = 1;  // llama_expert_gating_func_type: 1 softmax, 2 sigmoid; <0 leaves the key out
  bool bias = false, norm = false;
  float scale = 1.0f;  // expert_weights_scale (written when != 1)
  bool yarn = false;
  float yarn_factor = 4.0f, mscale_all_dim = 0.707f;
  int orig_ctx = 16;
  bool combined_kv_b = false;  // legacy attn_kv_b instead of attn_k_b / attn_v_b
  bool tie_router = false;     // router rows of expert 1 = expert 0, group 1 = group 0
  uint32_t seed = 1;
  std::function<bool(const std::string& name, std::vector<int64_t>& shape)> edit_tensor;
  std::function<void(GgufWriter&)> edit_keys;
};

// The preset shapes of the tests: V2-Lite-like (no q_lora, softmax, no groups) and V3-like
// (q_lora, sigmoid + bias, groups by top-2 sum, renormalised and scaled weights, YaRN).
inline Ds2Spec ds2_v2_lite_like() {
  Ds2Spec s;
  s.yarn = true;
  s.scale = 1.5f;
  return s;
}
inline Ds2Spec ds2_v3_like() {
  Ds2Spec s;
  s.q_lora = 48;
  s.gating = 2;
  s.bias = true;
  s.norm = true;
  s.scale = 2.5f;
  s.n_groups = 4;
  s.n_group_used = 2;
  s.n_shared = 2;
  s.yarn = true;
  s.mscale_all_dim = 1.0f;
  return s;
}

inline void write_ds2_model(const std::string& path, const Ds2Spec& s) {
  GgufWriter w;
  const std::string a = "deepseek2.";
  w.set_str("general.architecture", "deepseek2");
  w.set_u32(a + "context_length", s.n_ctx);
  w.set_u32(a + "embedding_length", s.n_embd);
  w.set_u32(a + "block_count", s.n_layer + s.nextn);
  w.set_u32(a + "feed_forward_length", s.n_ff);
  w.set_u32(a + "attention.head_count", s.n_head);
  w.set_u32(a + "attention.head_count_kv", 1);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_f32(a + "rope.freq_base", 10000.0f);
  w.set_u32(a + "rope.dimension_count", s.rope);
  w.set_u32(a + "leading_dense_block_count", s.dense_lead);
  w.set_u32(a + "vocab_size", s.n_vocab);
  if (s.q_lora) w.set_u32(a + "attention.q_lora_rank", s.q_lora);
  w.set_u32(a + "attention.kv_lora_rank", s.kv_lora);
  if (s.combined_kv_b) {
    w.set_u32(a + "attention.key_length", s.nope + s.rope);
    w.set_u32(a + "attention.value_length", s.v_head);
  } else {
    w.set_u32(a + "attention.key_length", s.kv_lora + s.rope);
    w.set_u32(a + "attention.value_length", s.kv_lora);
    w.set_u32(a + "attention.key_length_mla", s.nope + s.rope);
    w.set_u32(a + "attention.value_length_mla", s.v_head);
  }
  w.set_u32(a + "expert_feed_forward_length", s.n_ff_exp);
  w.set_u32(a + "expert_count", s.n_expert);
  w.set_u32(a + "expert_used_count", s.n_used);
  w.set_u32(a + "expert_shared_count", s.n_shared);
  if (s.n_groups > 1) {
    w.set_u32(a + "expert_group_count", s.n_groups);
    w.set_u32(a + "expert_group_used_count", s.n_group_used);
  }
  if (s.scale != 1.0f) w.set_f32(a + "expert_weights_scale", s.scale);
  if (s.norm) w.set_bool(a + "expert_weights_norm", true);
  if (s.gating >= 0) w.set_u32(a + "expert_gating_func", s.gating);
  if (s.nextn) w.set_u32(a + "nextn_predict_layers", s.nextn);
  if (s.yarn) {
    w.set_str(a + "rope.scaling.type", "yarn");
    w.set_f32(a + "rope.scaling.factor", s.yarn_factor);
    w.set_u32(a + "rope.scaling.original_context_length", s.orig_ctx);
    if (s.mscale_all_dim != 0.0f)  // 0: no key (HF mscale_all_dim 0)
      w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.1f * s.mscale_all_dim);
  }
  if (s.edit_keys) s.edit_keys(w);

  std::mt19937 rng(s.seed);
  auto randn = [&](int64_t n, float mean, float sd) {
    std::normal_distribution<float> dist(mean, sd);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    return v;
  };
  auto put = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> v) {
    if (s.edit_tensor && !s.edit_tensor(name, shape)) return;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    v.resize(static_cast<size_t>(n), 0.5f);  // a reshaped tensor gets filler values
    w.add_tensor_f32(name, DType::F32, shape, v);
  };
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float sd) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    put(name, shape, randn(n, mean, sd));
  };
  const int64_t e = s.n_embd, H = s.n_head, qk = s.nope + s.rope, L = s.kv_lora, R = s.rope;
  const int64_t NE = s.n_expert, ff = s.n_ff_exp, sh = int64_t{ff} * s.n_shared;
  auto sd = [](int64_t fan_in) { return 1.0f / std::sqrt(float(fan_in)); };
  add("token_embd.weight", {s.n_vocab, e}, 0.0f, 1.0f);
  add("output_norm.weight", {e}, 1.0f, 0.1f);
  add("output.weight", {s.n_vocab, e}, 0.0f, sd(e));
  for (int l = 0; l < s.n_layer + s.nextn; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {e}, 1.0f, 0.1f);
    if (s.q_lora) {
      add(b + "attn_q_a.weight", {s.q_lora, e}, 0.0f, sd(e));
      add(b + "attn_q_a_norm.weight", {s.q_lora}, 1.0f, 0.1f);
      add(b + "attn_q_b.weight", {H * qk, s.q_lora}, 0.0f, sd(s.q_lora));
    } else {
      add(b + "attn_q.weight", {H * qk, e}, 0.0f, sd(e));
    }
    add(b + "attn_kv_a_mqa.weight", {L + R, e}, 0.0f, sd(e));
    add(b + "attn_kv_a_norm.weight", {L}, 1.0f, 0.1f);
    // HF kv_b_proj [H·(nope + v), L]: per head the key rows, then the value rows
    const std::vector<float> kv_b = randn(H * (s.nope + s.v_head) * L, 0.0f, sd(L));
    if (s.combined_kv_b) {
      put(b + "attn_kv_b.weight", {H * (s.nope + s.v_head), L}, kv_b);
    } else {
      std::vector<float> k_b(H * L * s.nope), v_b(H * s.v_head * L);
      for (int64_t h = 0; h < H; ++h) {
        const float* src = kv_b.data() + h * (s.nope + s.v_head) * L;
        for (int64_t i = 0; i < s.nope; ++i)
          for (int64_t c = 0; c < L; ++c) k_b[(h * L + c) * s.nope + i] = src[i * L + c];
        for (int64_t j = 0; j < s.v_head * L; ++j) v_b[h * s.v_head * L + j] = src[s.nope * L + j];
      }
      put(b + "attn_k_b.weight", {H, L, s.nope}, k_b);
      put(b + "attn_v_b.weight", {H, s.v_head, L}, v_b);
    }
    add(b + "attn_output.weight", {e, H * s.v_head}, 0.0f, sd(H * s.v_head));
    add(b + "ffn_norm.weight", {e}, 1.0f, 0.1f);
    if (l < s.dense_lead) {
      add(b + "ffn_gate.weight", {s.n_ff, e}, 0.0f, sd(e));
      add(b + "ffn_up.weight", {s.n_ff, e}, 0.0f, sd(e));
      add(b + "ffn_down.weight", {e, s.n_ff}, 0.0f, sd(s.n_ff));
    } else {
      std::vector<float> router = randn(NE * e, 0.0f, 2.0f * sd(e));
      if (s.tie_router) {
        const int64_t per = NE / std::max(1, s.n_groups);
        for (int64_t i = 0; i < e; ++i) router[1 * e + i] = router[i];  // expert 1 = expert 0
        if (s.n_groups > 1)                                             // group 1 = group 0
          for (int64_t i = 0; i < per * e; ++i) router[per * e + i] = router[i];
      }
      put(b + "ffn_gate_inp.weight", {NE, e}, router);
      if (s.bias) {
        std::vector<float> bias = randn(NE, -0.4f, 0.5f);
        if (s.tie_router) {
          const int64_t per = NE / std::max(1, s.n_groups);
          bias[1] = bias[0];
          if (s.n_groups > 1)
            for (int64_t i = 0; i < per; ++i) bias[per + i] = bias[i];
        }
        put(b + "exp_probs_b.bias", {NE}, bias);
      }
      add(b + "ffn_gate_exps.weight", {NE, ff, e}, 0.0f, sd(e));
      add(b + "ffn_up_exps.weight", {NE, ff, e}, 0.0f, sd(e));
      add(b + "ffn_down_exps.weight", {NE, e, ff}, 0.0f, sd(ff));
      if (s.n_shared) {
        add(b + "ffn_gate_shexp.weight", {sh, e}, 0.0f, sd(e));
        add(b + "ffn_up_shexp.weight", {sh, e}, 0.0f, sd(e));
        add(b + "ffn_down_shexp.weight", {e, sh}, 0.0f, sd(sh));
      }
    }
    if (l >= s.n_layer) {  // MTP block extras
      add(b + "nextn.eh_proj.weight", {e, 2 * e}, 0.0f, sd(2 * e));
      add(b + "nextn.enorm.weight", {e}, 1.0f, 0.1f);
      add(b + "nextn.hnorm.weight", {e}, 1.0f, 0.1f);
      add(b + "nextn.shared_head_norm.weight", {e}, 1.0f, 0.1f);
    }
  }
  w.write(path);
}

}  // namespace latent::test
