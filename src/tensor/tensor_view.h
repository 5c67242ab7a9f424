// TensorView: a non-owning view of a tensor's bytes with dtype and shape. Shapes are outermost-first
// (a weight [n_out, n_in] has shape {n_out, n_in}); the GGUF boundary reverses ggml's innermost-first
// order once. Rows are the innermost dimension, always contiguous.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "tensor/dtype.h"

namespace latent {

struct TensorView {
  DType dtype = DType::F32;
  int n_dims = 0;
  std::array<int64_t, 4> shape{1, 1, 1, 1};  // only the first n_dims entries are meaningful
  const void* data = nullptr;

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < n_dims; ++i) n *= shape[i];
    return n;
  }
  int64_t cols() const { return n_dims == 0 ? 1 : shape[n_dims - 1]; }  // innermost
  int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
  int64_t row_bytes() const { return dtype_row_bytes(dtype, cols()); }
  int64_t nbytes() const { return rows() * row_bytes(); }
  const uint8_t* row(int64_t i) const { return static_cast<const uint8_t*>(data) + i * row_bytes(); }
  // "[2048, 5632] q4_K"
  std::string describe() const;
};

}  // namespace latent
