// Trainable parameters of a llama-architecture model in F32, stored in one flat buffer so the
// optimizer, gradient clipping and checkpoints treat them as one vector. Tensor names and shapes
// are exactly those latent's loader (model/weights.cpp) and llama.cpp expect, shapes
// outermost-first, a matrix's rows being its output features. Gradients use the same layout (a
// second ParamSet), so one offset table addresses both.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace latent::train {

struct ModelDims {
  int32_t n_vocab = 0;
  int32_t n_embd = 64;
  int32_t n_layer = 2;
  int32_t n_head = 4;
  int32_t n_head_kv = 2;
  int32_t n_ff = 192;
  int32_t n_ctx = 256;  // written as context_length; the longest sequence trained on
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  bool tied_output = true;  // logits use token_embd (no output.weight tensor)

  int32_t head_dim() const { return n_embd / n_head; }
  // Throws latent::Error naming the first inconsistent field.
  void validate() const;
};

// "tiny" (tests, ~0.1M parameters) and "small" (~1.6M, the default for `latent train`). Throws
// latent::Error for another name.
ModelDims preset_dims(std::string_view name, int32_t n_vocab);

struct ParamTensor {
  std::string name;            // GGUF tensor name, e.g. "blk.0.attn_q.weight"
  std::vector<int64_t> shape;  // outermost-first
  int64_t offset = 0;          // into the flat buffer
  int64_t size = 0;
  bool decay = false;  // AdamW weight decay: matrices yes, norm gains no
};

// Per-layer tensor offsets; the same for parameters and gradients.
struct LayerOffsets {
  int64_t attn_norm, wq, wk, wv, wo, ffn_norm, ffn_gate, ffn_up, ffn_down;
};

class ParamSet {
 public:
  explicit ParamSet(const ModelDims& dims);  // all zeros

  const ModelDims& dims() const { return dims_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ParamTensor* find(std::string_view name) const;
  int64_t n_params() const { return static_cast<int64_t>(data_.size()); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::span<float> span() { return data_; }
  std::span<const float> span() const { return data_; }

  int64_t token_embd() const { return token_embd_; }
  int64_t output_norm() const { return output_norm_; }
  int64_t output() const { return output_; }  // == token_embd() when tied
  const LayerOffsets& layer(int32_t l) const { return layers_[static_cast<size_t>(l)]; }

  // GPT-2 style initialisation: matrices N(0, 0.02), the residual projections (attn_output,
  // ffn_down) scaled by 1/sqrt(2·n_layer), norm gains 1. Deterministic for a seed.
  void init_random(uint64_t seed);
  void zero();

 private:
  int64_t add(std::string name, std::vector<int64_t> shape, bool decay);
  ModelDims dims_;
  std::vector<ParamTensor> tensors_;
  std::vector<LayerOffsets> layers_;
  int64_t token_embd_ = 0, output_norm_ = 0, output_ = 0;
  std::vector<float> data_;
};

}  // namespace latent::train
