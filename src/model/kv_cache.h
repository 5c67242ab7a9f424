// KvCache: keys and values of one sequence, f32, contiguous [n_layer][n_ctx][n_head_kv·head_dim].
// The simple cache of the single-sequence engine; the paged, shared cache of the server issue
// replaces it behind the same forward() call.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace latent {

class KvCache {
 public:
  KvCache(const ModelConfig& config, int32_t n_ctx);

  int32_t n_ctx() const { return n_ctx_; }
  int64_t stride() const { return stride_; }  // floats per position in one layer
  float* k(int32_t layer) { return k_.data() + layer * layer_size(); }
  float* v(int32_t layer) { return v_.data() + layer * layer_size(); }
  int64_t bytes() const { return static_cast<int64_t>((k_.size() + v_.size()) * sizeof(float)); }

 private:
  int64_t layer_size() const { return int64_t{n_ctx_} * stride_; }
  int32_t n_ctx_;
  int64_t stride_;
  std::vector<float> k_, v_;
};

}  // namespace latent
