// Model loading and the input checks around the forward pass; the layer math is in arch/.
#include "model/model.h"

#include "base/error.h"
#include "model/arch/deepseek2.h"
#include "model/arch/llama.h"

namespace latent {

void Workspace::reserve(const ModelConfig& c, int64_t t) {
  if (c.arch == Arch::kDeepseek2) {
    reserve_deepseek2(c, t, *this);
    return;
  }
  auto grow = [](std::vector<float>& buf, int64_t n) {
    if (static_cast<int64_t>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  };
  const int64_t nq = int64_t{c.n_head} * c.head_dim_k, nkv = int64_t{c.n_head_kv} * c.head_dim_k;
  grow(x, t * c.n_embd);
  grow(h, t * std::max<int64_t>(c.n_embd, nq));
  grow(q, t * nq);
  grow(k, t * nkv);
  grow(v, t * nkv);
  grow(attn, t * nq);
  grow(gate, t * c.n_ff);
  grow(up, t * c.n_ff);
  grow(logits_in, t * c.n_embd);
}

Model::Model(GgufFile file) : file_(std::move(file)) {
  config_ = read_model_config(file_);
  weights_ = load_weights(file_, config_);
}

std::unique_ptr<Model> Model::load(const std::string& path) {
  return std::unique_ptr<Model>(new Model(GgufFile::open(path)));
}

int64_t Model::n_params() const {
  int64_t n = 0;
  for (const auto& t : file_.tensors()) {
    int64_t e = 1;
    for (int i = 0; i < t.n_dims; ++i) e *= t.shape[i];
    n += e;
  }
  return n;
}

void Model::forward(std::span<const TokenId> tokens, std::span<const Pos> positions, KvCache& cache,
                    bool all_logits, float* logits) {
  if (tokens.size() != positions.size())
    throw Error("forward: expected one position per token, found " + std::to_string(tokens.size()) +
                " tokens and " + std::to_string(positions.size()) + " positions");
  if (tokens.empty()) return;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.n_vocab)
      throw Error("token " + std::to_string(i) + ": expected an id in [0, " +
                  std::to_string(config_.n_vocab) + "), found " + std::to_string(tokens[i]));
    if (positions[i] < 0 || positions[i] >= cache.n_ctx())
      throw Error("position of token " + std::to_string(i) + ": expected < context size " +
                  std::to_string(cache.n_ctx()) + ", found " + std::to_string(positions[i]));
  }
  ws_.reserve(config_, static_cast<int64_t>(tokens.size()));
  if (config_.arch == Arch::kDeepseek2) {
    forward_deepseek2(config_, weights_, ws_, tokens, positions, cache, all_logits, logits);
  } else {
    forward_llama(config_, weights_, ws_, tokens, positions, cache, all_logits, logits);
  }
}

}  // namespace latent
