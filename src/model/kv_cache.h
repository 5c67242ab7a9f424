// KvCache: the cache rows of one sequence, f32, contiguous [n_layer][n_ctx][width]. Widths come
// from the config (cache_k_width / cache_v_width): llama keeps K and V of n_head_kv heads;
// deepseek2 keeps one row per token of latent + rope part (v width 0: attention reads values from
// the k rows). The simple cache of the single-sequence engine; the paged cache of the server issue
// replaces it.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace latent {

class KvCache {
 public:
  KvCache(const ModelConfig& config, int32_t n_ctx);

  int32_t n_ctx() const { return n_ctx_; }
  int64_t stride() const { return stride_; }      // floats per position in one layer's k rows
  int64_t v_stride() const { return v_stride_; }  // floats per position in v rows (0: none)
  float* k(int32_t layer) { return k_.data() + layer * int64_t{n_ctx_} * stride_; }
  float* v(int32_t layer) { return v_.data() + layer * int64_t{n_ctx_} * v_stride_; }
  int64_t bytes() const { return static_cast<int64_t>((k_.size() + v_.size()) * sizeof(float)); }

 private:
  int32_t n_ctx_;
  int64_t stride_, v_stride_;
  std::vector<float> k_, v_;
};

}  // namespace latent
