// Test helper: writes a small random-weight llama/qwen2 GGUF with GgufWriter, with hooks to break
// it (drop or reshape a tensor, change a key) for the error-path tests. No tokenizer block.
#pragma once

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"

namespace latent::test {

struct TinyModelSpec {
  std::string arch = "llama";
  int n_embd = 32, n_layer = 2, n_head = 4, n_head_kv = 2, n_ff = 48, n_vocab = 67, n_ctx = 64;
  bool tied = false;
  uint32_t seed = 1;
  // Called for each tensor: may change its shape, or return false to leave it out.
  std::function<bool(const std::string& name, std::vector<int64_t>& shape)> edit_tensor;
  // Called after the standard keys are set, to override or add keys.
  std::function<void(GgufWriter&)> edit_keys;
};

inline void write_tiny_model(const std::string& path, const TinyModelSpec& s) {
  GgufWriter w;
  const std::string a = s.arch;
  w.set_str("general.architecture", a);
  w.set_u32(a + ".context_length", s.n_ctx);
  w.set_u32(a + ".embedding_length", s.n_embd);
  w.set_u32(a + ".block_count", s.n_layer);
  w.set_u32(a + ".feed_forward_length", s.n_ff);
  w.set_u32(a + ".attention.head_count", s.n_head);
  w.set_u32(a + ".attention.head_count_kv", s.n_head_kv);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32(a + ".rope.freq_base", 10000.0f);
  if (s.edit_keys) s.edit_keys(w);
  std::mt19937 rng(s.seed);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float sd) {
    if (s.edit_tensor && !s.edit_tensor(name, shape)) return;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::normal_distribution<float> dist(mean, sd);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    w.add_tensor_f32(name, DType::F32, shape, v);
  };
  const int64_t e = s.n_embd, hd = s.n_embd / s.n_head, kv = int64_t{s.n_head_kv} * hd;
  const float ws = 1.0f / std::sqrt(float(e));
  add("token_embd.weight", {s.n_vocab, e}, 0.0f, 1.0f);
  add("output_norm.weight", {e}, 1.0f, 0.1f);
  if (!s.tied) add("output.weight", {s.n_vocab, e}, 0.0f, ws);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {e}, 1.0f, 0.1f);
    add(b + "attn_q.weight", {e, e}, 0.0f, ws);
    add(b + "attn_k.weight", {kv, e}, 0.0f, ws);
    add(b + "attn_v.weight", {kv, e}, 0.0f, ws);
    if (a == "qwen2") {
      add(b + "attn_q.bias", {e}, 0.0f, 0.1f);
      add(b + "attn_k.bias", {kv}, 0.0f, 0.1f);
      add(b + "attn_v.bias", {kv}, 0.0f, 0.1f);
    }
    add(b + "attn_output.weight", {e, e}, 0.0f, ws);
    add(b + "ffn_norm.weight", {e}, 1.0f, 0.1f);
    add(b + "ffn_gate.weight", {s.n_ff, e}, 0.0f, ws);
    add(b + "ffn_up.weight", {s.n_ff, e}, 0.0f, ws);
    add(b + "ffn_down.weight", {e, s.n_ff}, 0.0f, 1.0f / std::sqrt(float(s.n_ff)));
  }
  w.write(path);
}

}  // namespace latent::test
