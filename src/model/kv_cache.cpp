// Allocation of the contiguous single-sequence KV cache.
#include "model/kv_cache.h"

#include "base/error.h"

namespace latent {

KvCache::KvCache(const ModelConfig& c, int32_t n_ctx)
    : n_ctx_(n_ctx), stride_(c.cache_k_width()), v_stride_(c.cache_v_width()) {
  if (n_ctx <= 0)
    throw Error("context size: expected a positive number of tokens, found " +
                std::to_string(n_ctx));
  const size_t rows = static_cast<size_t>(c.n_layer) * static_cast<size_t>(n_ctx);
  k_.assign(rows * static_cast<size_t>(stride_), 0.0f);
  v_.assign(rows * static_cast<size_t>(v_stride_), 0.0f);
}

}  // namespace latent
