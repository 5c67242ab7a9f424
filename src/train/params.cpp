// Parameter layout, presets and initialisation.
#include "train/params.h"

#include <cmath>

#include "base/error.h"

namespace latent::train {

void ModelDims::validate() const {
  auto positive = [](const char* field, int64_t v) {
    if (v <= 0) throw Error::field("model dims", field, "a positive value", std::to_string(v));
  };
  positive("n_vocab", n_vocab);
  positive("n_embd", n_embd);
  positive("n_layer", n_layer);
  positive("n_head", n_head);
  positive("n_head_kv", n_head_kv);
  positive("n_ff", n_ff);
  positive("n_ctx", n_ctx);
  if (n_embd % n_head != 0 || (n_embd / n_head) % 2 != 0) {
    throw Error::field("model dims", "n_embd", "a multiple of n_head with an even head size",
                       std::to_string(n_embd) + " with n_head " + std::to_string(n_head));
  }
  if (n_head % n_head_kv != 0) {
    throw Error::field("model dims", "n_head_kv", "a divisor of n_head " + std::to_string(n_head),
                       std::to_string(n_head_kv));
  }
}

ModelDims preset_dims(std::string_view name, int32_t n_vocab) {
  ModelDims d;
  d.n_vocab = n_vocab;
  if (name == "tiny") {
    d.n_embd = 32, d.n_layer = 2, d.n_head = 4, d.n_head_kv = 2, d.n_ff = 64, d.n_ctx = 256;
  } else if (name == "small") {
    d.n_embd = 192, d.n_layer = 4, d.n_head = 6, d.n_head_kv = 2, d.n_ff = 512, d.n_ctx = 256;
  } else {
    throw Error::field("--config", "preset", "'tiny' or 'small'", "'" + std::string(name) + "'");
  }
  return d;
}

ParamSet::ParamSet(const ModelDims& d) : dims_(d) {
  d.validate();
  const int64_t E = d.n_embd, hd = d.head_dim(), NQ = int64_t{d.n_head} * hd,
                NKV = int64_t{d.n_head_kv} * hd, F = d.n_ff, V = d.n_vocab;
  token_embd_ = add("token_embd.weight", {V, E}, true);
  output_norm_ = add("output_norm.weight", {E}, false);
  output_ = d.tied_output ? token_embd_ : add("output.weight", {V, E}, true);
  for (int32_t l = 0; l < d.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerOffsets o;
    o.attn_norm = add(b + "attn_norm.weight", {E}, false);
    o.wq = add(b + "attn_q.weight", {NQ, E}, true);
    o.wk = add(b + "attn_k.weight", {NKV, E}, true);
    o.wv = add(b + "attn_v.weight", {NKV, E}, true);
    o.wo = add(b + "attn_output.weight", {E, NQ}, true);
    o.ffn_norm = add(b + "ffn_norm.weight", {E}, false);
    o.ffn_gate = add(b + "ffn_gate.weight", {F, E}, true);
    o.ffn_up = add(b + "ffn_up.weight", {F, E}, true);
    o.ffn_down = add(b + "ffn_down.weight", {E, F}, true);
    layers_.push_back(o);
  }
  data_.assign(static_cast<size_t>(tensors_.back().offset + tensors_.back().size), 0.0f);
}

int64_t ParamSet::add(std::string name, std::vector<int64_t> shape, bool decay) {
  ParamTensor t;
  t.name = std::move(name);
  t.size = 1;
  for (int64_t s : shape) t.size *= s;
  t.shape = std::move(shape);
  t.offset = tensors_.empty() ? 0 : tensors_.back().offset + tensors_.back().size;
  t.decay = decay;
  tensors_.push_back(std::move(t));
  return tensors_.back().offset;
}

const ParamTensor* ParamSet::find(std::string_view name) const {
  for (const ParamTensor& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

void ParamSet::zero() {
  std::fill(data_.begin(), data_.end(), 0.0f);
}

void ParamSet::init_random(uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  auto next = [&s] {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  auto uniform01 = [&] { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; };
  const double resid_scale = 1.0 / std::sqrt(2.0 * dims_.n_layer);
  for (const ParamTensor& t : tensors_) {
    float* p = data_.data() + t.offset;
    if (!t.decay) {  // norm gains start at identity
      std::fill(p, p + t.size, 1.0f);
      continue;
    }
    const bool resid =
        t.name.ends_with("attn_output.weight") || t.name.ends_with("ffn_down.weight");
    const double sd = 0.02 * (resid ? resid_scale : 1.0);
    for (int64_t i = 0; i < t.size; ++i) {  // Box-Muller, one normal per pair of uniforms
      const double r = std::sqrt(-2.0 * std::log(uniform01()));
      p[i] = static_cast<float>(sd * r * std::cos(2.0 * M_PI * uniform01()));
    }
  }
}

}  // namespace latent::train
