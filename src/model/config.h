// ModelConfig: an architecture's hyperparameters, read from the GGUF keys "<arch>.*". Nothing here
// is hard-coded per model; defaults follow llama.cpp where a key is optional. Does not own weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "kernels/kernels.h"

namespace latent {

enum class Arch { kLlama, kQwen2 };

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

  // Bytes of K and V per token over all layers with an f32 cache.
  int64_t kv_bytes_per_token() const;
};

// Architectures this build can run, for error messages: "llama, qwen2".
std::string supported_architectures();
// Reads and validates the hyperparameters; throws latent::Error naming file, key, expected and
// found.
ModelConfig read_model_config(const GgufFile& file);

}  // namespace latent
