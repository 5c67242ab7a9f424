// Allocation and block copies of the paged KV cache. Each layer's k (and v) is one run of
// n_blocks · block_size rows, so a block is a contiguous [block_size][stride] slab and a layer's
// block b starts at b · block_size · stride: the attention kernel reaches any row from the layer
// base, the block id and the row index alone.
#include "model/paged_kv_cache.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace latent {

PagedKvCache::PagedKvCache(const ModelConfig& c, int32_t n_blocks, int32_t block_size)
    : n_layer_(c.n_layer),
      n_blocks_(n_blocks),
      block_size_(block_size),
      stride_(c.cache_k_width()),
      v_stride_(c.cache_v_width()) {
  if (n_blocks <= 0)
    throw Error("KV cache blocks: expected a positive number, found " + std::to_string(n_blocks));
  if (block_size <= 0)
    throw Error("KV cache block size: expected a positive number of tokens, found " +
                std::to_string(block_size));
  const size_t rows = static_cast<size_t>(n_layer_) * static_cast<size_t>(n_blocks) *
                      static_cast<size_t>(block_size);
  k_.assign(rows * static_cast<size_t>(stride_), 0.0f);
  v_.assign(rows * static_cast<size_t>(v_stride_), 0.0f);
}

float* PagedKvCache::k(int32_t layer, int32_t block) {
  return k_.data() + (int64_t{layer} * n_blocks_ + block) * block_size_ * stride_;
}
float* PagedKvCache::v(int32_t layer, int32_t block) {
  return v_.data() + (int64_t{layer} * n_blocks_ + block) * block_size_ * v_stride_;
}
const float* PagedKvCache::k(int32_t layer, int32_t block) const {
  return k_.data() + (int64_t{layer} * n_blocks_ + block) * block_size_ * stride_;
}
const float* PagedKvCache::v(int32_t layer, int32_t block) const {
  return v_.data() + (int64_t{layer} * n_blocks_ + block) * block_size_ * v_stride_;
}

void PagedKvCache::copy_block(int32_t src, int32_t dst) {
  for (int32_t b : {src, dst}) {
    if (b < 0 || b >= n_blocks_)
      throw Error("KV cache block: expected an id in [0, " + std::to_string(n_blocks_) +
                  "), found " + std::to_string(b));
  }
  if (src == dst) return;
  const int64_t kn = block_size_ * stride_, vn = block_size_ * v_stride_;
  for (int32_t l = 0; l < n_layer_; ++l) {
    std::copy_n(k(l, src), kn, k(l, dst));
    if (vn > 0) std::copy_n(v(l, src), vn, v(l, dst));
  }
}

int64_t PagedKvCache::bytes_per_block() const {
  return int64_t{n_layer_} * block_size_ * (stride_ + v_stride_) *
         static_cast<int64_t>(sizeof(float));
}

}  // namespace latent
