// The single-sequence cache over the paged one.
#include "model/kv_cache.h"

#include <numeric>
#include <string>

#include "base/error.h"

namespace latent {
namespace {

int32_t blocks_for(int32_t n_ctx) {
  if (n_ctx <= 0)
    throw Error("context size: expected a positive number of tokens, found " +
                std::to_string(n_ctx));
  return (n_ctx + KvCache::kBlockSize - 1) / KvCache::kBlockSize;
}

}  // namespace

KvCache::KvCache(const ModelConfig& c, int32_t n_ctx)
    : n_ctx_(n_ctx), paged_(c, blocks_for(n_ctx), kBlockSize) {
  table_.resize(static_cast<size_t>(paged_.n_blocks()));
  std::iota(table_.begin(), table_.end(), 0);
}

}  // namespace latent
