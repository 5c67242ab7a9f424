// tools/gen_model/config.h: latent-gen-model's options as plain data (GenConfig), shared by the
// llama/qwen2 writer in latent-gen-model.cpp and the deepseek2 writer in deepseek2.h. Parsing,
// presets and validation live with the writers.
#pragma once

#include <cstdint>
#include <string>

namespace latent::gen {

// deepseek2 (DeepSeek-V2 / V3) only: MLA, MoE routing, YaRN and MTP options.
struct Deepseek2Config {
  int64_t q_lora_rank = 0;       // 0: one attn_q matrix (V2-Lite), no q_lora_rank key
  bool q_lora_zero_key = false;  // write q_lora_rank = 0 instead of omitting the key
  int64_t kv_lora_rank = 32;
  int64_t qk_nope = 16;  // per-head key dims without rope
  int64_t qk_rope = 8;   // per-head rope dims (shared by all heads on the key side)
  int64_t v_head_dim = 16;
  int64_t n_expert = 8;
  int64_t n_expert_used = 2;
  int64_t n_expert_shared = 1;
  int64_t n_ff_exp = 32;           // per expert (routed and shared)
  int64_t n_group = 1;             // expert groups (V3: 8)
  int64_t n_group_used = 1;        // groups kept per token (V3: 4)
  std::string gating = "softmax";  // softmax (V2) | sigmoid (V3)
  bool expert_weights_norm = false;
  float expert_weights_scale = 1.0f;  // 0: key absent
  bool exp_probs_b = false;           // V3's selection bias, blk.N.exp_probs_b.bias
  int64_t n_dense_lead = 1;           // leading layers with a dense FFN
  std::string kv_b = "split";         // split: attn_k_b + attn_v_b (MLA keys) | combined: attn_kv_b
  int64_t rope_orig_ctx = 4096;       // yarn: rope.scaling.original_context_length
  float rope_mscale_all = 0.707f;     // yarn: mscale_all_dim; 0: no yarn_log_multiplier key
  int64_t nextn_layers = 0;           // MTP layers appended after block_count's main layers
};

struct GenConfig {
  std::string arch = "llama";
  int64_t n_embd = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 0;  // 0: n_head
  int64_t head_dim = 0;   // 0: n_embd / n_head
  int64_t n_ff = 128;
  int64_t n_vocab = 512;
  int64_t n_ctx = 2048;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied = false;
  std::string rope_scaling = "none";  // none | linear | llama3 | yarn (deepseek2)
  float rope_factor = 0.0f;           // 0: 2 for linear, 8 for llama3, 40 for yarn
  std::string type = "f32";
  uint64_t seed = 42;
  std::string vocab_from;  // GGUF whose tokenizer.* keys are copied instead of the synthetic vocab
  std::string out;
  Deepseek2Config ds;
};

}  // namespace latent::gen
