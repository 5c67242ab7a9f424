// KvCache: the cache of one sequence for the single-sequence engine (run, chat, bench, logits): a
// PagedKvCache of ceil(n_ctx / 16) blocks whose block table is the identity 0..n-1, so the
// single-sequence forward is the batched forward with one sequence. Widths come from the config
// (cache_k_width / cache_v_width): llama keeps K and V of n_head_kv heads; deepseek2 keeps one row
// per token of latent + rope part (v width 0: attention reads values from the k rows).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"
#include "model/paged_kv_cache.h"

namespace latent {

class KvCache {
 public:
  static constexpr int32_t kBlockSize = 16;

  // Throws latent::Error for a non-positive n_ctx.
  KvCache(const ModelConfig& config, int32_t n_ctx);

  int32_t n_ctx() const { return n_ctx_; }                // token capacity (positions 0..n_ctx-1)
  int64_t stride() const { return paged_.stride(); }      // floats per position in k rows
  int64_t v_stride() const { return paged_.v_stride(); }  // floats per position in v rows (0: none)
  // The memory of n_ctx positions (the last block's padding, < 16 positions, is not counted).
  int64_t bytes() const { return paged_.bytes_per_block() / kBlockSize * n_ctx_; }

  PagedKvCache& paged() { return paged_; }
  const PagedKvCache& paged() const { return paged_; }
  std::span<const int32_t> block_table() const { return table_; }  // 0, 1, ..., n_blocks-1

 private:
  int32_t n_ctx_;
  PagedKvCache paged_;
  std::vector<int32_t> table_;
};

}  // namespace latent
