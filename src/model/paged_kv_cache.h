// PagedKvCache: the key/value memory of every sequence, cut into fixed-size blocks (vLLM's paged
// attention layout). Per layer, k is [n_blocks][block_size][stride] floats and v
// [n_blocks][block_size][v_stride]; widths come from ModelConfig::cache_k_width/cache_v_width
// (deepseek2: v_stride 0, values are read from the k rows). This class only holds the memory:
// which block belongs to which sequence is the engine's KvBlockPool/KvCacheManager.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace latent {

class PagedKvCache {
 public:
  // Throws latent::Error for a non-positive n_blocks or block_size.
  PagedKvCache(const ModelConfig& config, int32_t n_blocks, int32_t block_size);

  int32_t n_layer() const { return n_layer_; }
  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  int64_t stride() const { return stride_; }      // floats per position in k rows
  int64_t v_stride() const { return v_stride_; }  // floats per position in v rows (0: none)
  // First float of block `block` in layer `layer`.
  float* k(int32_t layer, int32_t block);
  float* v(int32_t layer, int32_t block);
  const float* k(int32_t layer, int32_t block) const;
  const float* v(int32_t layer, int32_t block) const;
  // Copies block src to dst in every layer, k and v (copy-on-write of a shared block).
  void copy_block(int32_t src, int32_t dst);
  int64_t bytes_per_block() const;  // all layers, k and v
  int64_t bytes() const { return bytes_per_block() * n_blocks_; }

 private:
  int32_t n_layer_, n_blocks_, block_size_;
  int64_t stride_, v_stride_;
  std::vector<float> k_, v_;
};

}  // namespace latent
