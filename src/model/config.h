// ModelConfig: an architecture's hyperparameters, read from the GGUF keys "<arch>.*". Nothing here
// is hard-coded per model; defaults follow llama.cpp where a key is optional. Does not own weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "kernels/kernels.h"

namespace latent {

enum class Arch { kLlama, kQwen2, kDeepseek2 };

// DeepSeek-V2/V3 (GGUF arch "deepseek2"): multi-head latent attention and DeepSeekMoE. Read from
// "deepseek2.*" keys by read_deepseek2_config (config_deepseek2.cpp).
struct Deepseek2Config {
  int32_t q_lora_rank = 0;  // 0: no Q compression (V2-Lite has attn_q)
  int32_t kv_lora_rank = 0;
  int32_t qk_nope = 0, qk_rope = 0;  // per-head query/key split; qk_rope == n_rot
  int32_t v_head_dim = 0;
  int32_t n_layer_dense_lead = 0;  // first layers with a dense FFN (n_ff)
  int32_t n_ff_exp = 0;            // per expert (and per shared expert)
  int32_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0;
  int32_t n_expert_groups = 1, n_group_used = 1;
  float expert_weights_scale = 1.0f;
  bool expert_weights_norm = false;
  kernels::MoeGating gating = kernels::MoeGating::kSoftmax;
  int32_t n_layer_nextn = 0;  // MTP layers after the trunk: recognised, not loaded
  // YaRN rope (kernels::RopeParams) and the softmax scale 1/√(qk_nope+qk_rope)·mscale².
  float yarn_ext_factor = 0.0f, yarn_low = 0.0f, yarn_high = 0.0f, rope_mscale = 1.0f;
  float kq_scale = 1.0f;
  int32_t n_ctx_orig = 0;
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  std::string arch_name;  // general.architecture
  std::string name;       // general.name, may be empty
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim_k = 0;  // key length per head (n_embd / n_head unless attention.key_length)
  int32_t head_dim_v = 0;  // value length per head
  int32_t n_ff = 0;
  float rms_eps = 1e-5f;
  bool qkv_bias = false;  // qwen2
  // Rotary embedding.
  kernels::RopeMode rope_mode = kernels::RopeMode::kNorm;
  int32_t n_rot = 0;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear scaling
  std::string rope_scaling_type = "none";
  Deepseek2Config ds;  // arch == kDeepseek2 only

  // Floats one cache row holds per token and layer: keys (llama: n_head_kv·head_dim; deepseek2:
  // the normalised latent and the rope part, kv_lora_rank + qk_rope) and values (deepseek2: 0,
  // attention reads the latent as values).
  int64_t cache_k_width() const;
  int64_t cache_v_width() const;
  // Bytes of the cache per token over all layers (f32).
  int64_t kv_bytes_per_token() const;
  // What an expanded per-head K/V cache would take (deepseek2: n_head·(qk_nope+qk_rope+v_head)).
  int64_t kv_bytes_per_token_expanded() const;
};

// Architectures this build can run, for error messages: "llama, qwen2".
std::string supported_architectures();
// Reads and validates the hyperparameters; throws latent::Error naming file, key, expected and
// found.
ModelConfig read_model_config(const GgufFile& file);
// The deepseek2 section and its overrides of the generic fields (head dims, n_layer without MTP).
void read_deepseek2_config(const GgufFile& file, ModelConfig& config);

}  // namespace latent
