// Weights: the named tensors of a model as TensorViews into the mapped GGUF (llama-family layers
// here, deepseek2 layers in Deepseek2Weights), each checked for presence, shape (outermost-first,
// [n_out, n_in] for matrices) and a dtype the kernels can read. Does not own the bytes: the
// GgufFile must outlive it.
#pragma once

#include <vector>

#include "gguf/gguf_reader.h"
#include "model/config.h"
#include "model/weights_deepseek2.h"
#include "tensor/tensor_view.h"

namespace latent {

struct LayerWeights {
  TensorView attn_norm;         // [n_embd]
  TensorView wq, wk, wv;        // [n_head·hd, n_embd], [n_head_kv·hd, n_embd] ×2
  TensorView bq, bk, bv;        // biases (qwen2), data == nullptr when absent
  TensorView wo;                // [n_embd, n_head·hd]
  TensorView ffn_norm;          // [n_embd]
  TensorView ffn_gate, ffn_up;  // [n_ff, n_embd]
  TensorView ffn_down;          // [n_embd, n_ff]
};

struct Weights {
  TensorView token_embd;   // [n_vocab, n_embd]
  TensorView output_norm;  // [n_embd]
  TensorView output;       // [n_vocab, n_embd]; token_embd when the file ties them
  bool tied_output = false;
  TensorView rope_freqs;  // [n_rot/2] Llama 3 frequency factors, data == nullptr when absent
  std::vector<LayerWeights> layers;  // llama family
  Deepseek2Weights ds;               // deepseek2
};

// Loads and validates every tensor; fills config.n_vocab from token_embd. Throws latent::Error
// naming the file, the tensor, the expected and the found shape or type.
Weights load_weights(const GgufFile& file, ModelConfig& config);

}  // namespace latent
