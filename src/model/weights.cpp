// Tensor lookup with shape and dtype checks: the shared tensors, then the llama family (llama,
// qwen2) layers here or the deepseek2 layers (weights_deepseek2.cpp).
#include "model/weights.h"

#include "base/error.h"
#include "model/tensor_loader.h"
#include "model/weights_deepseek2.h"

namespace latent {

Weights load_weights(const GgufFile& f, ModelConfig& c) {
  TensorLoader t(f);
  Weights w;
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd || embd->n_dims != 2) {
    throw Error::field(f.path(), "tensor 'token_embd.weight'", "a 2-D tensor [n_vocab, n_embd]",
                       embd ? std::to_string(embd->n_dims) + " dimensions" : "missing");
  }
  const int64_t n_vocab = embd->shape[0];
  if (c.n_vocab != 0 && c.n_vocab != n_vocab) {
    throw Error::field(f.path(), c.arch_name + ".vocab_size",
                       "the token_embd rows " + std::to_string(n_vocab), std::to_string(c.n_vocab));
  }
  if (n_vocab <= 0 || n_vocab > (1 << 24))
    throw Error::field(f.path(), "tensor 'token_embd.weight' rows", "1..2^24",
                       std::to_string(n_vocab));
  c.n_vocab = static_cast<int32_t>(n_vocab);
  const int64_t e = c.n_embd, hd = c.head_dim_k, q = int64_t{c.n_head} * hd,
                kv = int64_t{c.n_head_kv} * hd;
  w.token_embd = t.get("token_embd.weight", {n_vocab, e});
  w.output_norm = t.get("output_norm.weight", {e});
  w.output = t.get("output.weight", {n_vocab, e}, /*required=*/false);
  w.tied_output = w.output.data == nullptr;
  if (w.tied_output) w.output = w.token_embd;
  w.rope_freqs = t.get("rope_freqs.weight", {c.n_rot / 2}, /*required=*/false);
  if (c.arch == Arch::kDeepseek2) {
    w.ds = load_deepseek2_layers(t, c);
    return w;
  }
  for (int32_t l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_norm = t.get(b + "attn_norm.weight", {e});
    L.wq = t.get(b + "attn_q.weight", {q, e});
    L.wk = t.get(b + "attn_k.weight", {kv, e});
    L.wv = t.get(b + "attn_v.weight", {kv, e});
    L.bq = t.get(b + "attn_q.bias", {q}, c.qkv_bias);
    L.bk = t.get(b + "attn_k.bias", {kv}, c.qkv_bias);
    L.bv = t.get(b + "attn_v.bias", {kv}, c.qkv_bias);
    L.wo = t.get(b + "attn_output.weight", {e, q});
    L.ffn_norm = t.get(b + "ffn_norm.weight", {e});
    L.ffn_gate = t.get(b + "ffn_gate.weight", {c.n_ff, e});
    L.ffn_up = t.get(b + "ffn_up.weight", {c.n_ff, e});
    L.ffn_down = t.get(b + "ffn_down.weight", {e, c.n_ff});
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace latent
