// Reference matmul and embedding lookup: dequantize a weight row with the tensor layer's format
// definitions, then plain dot products. Correct for every dtype that dequantize_row supports.
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace latent::kernels::ref {

// Σ_k a[k]·b[k]; `omp simd` lets the compiler keep vector partial sums (a fixed order per build).
float dot(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) sum += a[k] * b[k];
  return sum;
}

void matmul_rows(const float* x, int64_t m, const TensorView& w, int64_t n0, int64_t n1, float* out,
                 float* row_buf) {
  const int64_t k = w.cols();
  const int64_t n = w.rows();
  for (int64_t j = n0; j < n1; ++j) {
    const float* wrow;
    if (w.dtype == DType::F32) {
      wrow = reinterpret_cast<const float*>(w.row(j));
    } else {
      dequantize_row(w.dtype, w.row(j), row_buf, k);
      wrow = row_buf;
    }
    // out[i,j] = Σ_k x[i,k]·w[j,k]
    for (int64_t i = 0; i < m; ++i) out[i * n + j] = dot(x + i * k, wrow, k);
  }
}

void matmul(const float* x, int64_t m, const TensorView& w, float* out) {
  std::vector<float> buf(static_cast<size_t>(w.cols()));
  matmul_rows(x, m, w, 0, w.rows(), out, buf.data());
}

void get_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out) {
  const int64_t n = table.cols();
  for (int64_t i = 0; i < n_ids; ++i)
    dequantize_row(table.dtype, table.row(ids[i]), out + i * n, n);
}

}  // namespace latent::kernels::ref
