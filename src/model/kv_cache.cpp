// Allocation of the contiguous single-sequence KV cache.
#include "model/kv_cache.h"

#include "base/error.h"

namespace latent {

KvCache::KvCache(const ModelConfig& c, int32_t n_ctx)
    : n_ctx_(n_ctx), stride_(int64_t{c.n_head_kv} * c.head_dim_k) {
  if (n_ctx <= 0)
    throw Error("context size: expected a positive number of tokens, found " +
                std::to_string(n_ctx));
  const size_t n = static_cast<size_t>(c.n_layer) * static_cast<size_t>(layer_size());
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

}  // namespace latent
