// Deepseek2Weights: the per-layer tensors of a deepseek2 GGUF (MLA projections, dense or MoE FFN)
// as shape-checked TensorViews into the mapped file. 3-D tensors (attn_k_b/attn_v_b per head,
// expert stacks per expert) are sliced into 2-D [n_out, n_in] views; only the legacy combined
// attn_kv_b needs an owned, transposed f32 copy of its key half. MTP (nextn) layers are not loaded.
#pragma once

#include <vector>

#include "model/config.h"
#include "tensor/tensor_view.h"

namespace latent {

class TensorLoader;

struct Deepseek2Layer {
  TensorView attn_norm;              // [n_embd]
  TensorView wq;                     // [n_head·(nope+rope), n_embd], q_lora_rank == 0 only
  TensorView wq_a, q_a_norm, wq_b;   // [q_lora, n_embd], [q_lora], [n_head·(nope+rope), q_lora]
  TensorView wkv_a;                  // attn_kv_a_mqa [kv_lora + rope, n_embd]: latent, then k_rope
  TensorView kv_a_norm;              // [kv_lora]
  std::vector<TensorView> k_b;       // per head [kv_lora, nope] = W_UKᵀ (absorbed into the query)
  std::vector<TensorView> v_b;       // per head [v_head, kv_lora] = W_UV
  TensorView wo;                     // [n_embd, n_head·v_head]
  TensorView ffn_norm;               // [n_embd]
  bool moe = false;                  // false: the first leading_dense_block_count layers
  TensorView ffn_gate, ffn_up;       // dense [n_ff, n_embd]
  TensorView ffn_down;               // dense [n_embd, n_ff]
  TensorView gate_inp;               // router [n_expert, n_embd]
  TensorView exp_probs_b;            // [n_expert] selection bias (V3), data == nullptr when absent
  std::vector<TensorView> exp_gate;  // per expert [n_ff_exp, n_embd]
  std::vector<TensorView> exp_up;    // per expert [n_ff_exp, n_embd]
  std::vector<TensorView> exp_down;  // per expert [n_embd, n_ff_exp]
  TensorView shexp_gate, shexp_up;   // [n_ff_exp·n_shared, n_embd], data == nullptr if n_shared 0
  TensorView shexp_down;             // [n_embd, n_ff_exp·n_shared]
};

struct Deepseek2Weights {
  std::vector<Deepseek2Layer> layers;
  std::vector<std::vector<float>> owned;  // transposed key halves of legacy attn_kv_b tensors
};

// Loads layers 0..n_layer-1; throws latent::Error naming the tensor on a missing tensor, a wrong
// shape or an unreadable type.
Deepseek2Weights load_deepseek2_layers(TensorLoader& loader, const ModelConfig& config);

}  // namespace latent
