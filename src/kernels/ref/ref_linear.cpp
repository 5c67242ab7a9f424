// Reference matmul and embedding lookup: dequantize a weight row with the tensor layer's format
// definitions, then plain dot products. Correct for every dtype that dequantize_row supports.
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace latent::kernels::ref {

// Σ_k a[k]·b[k] in eight fixed partial sums (lane k mod 8) combined pairwise. The order depends on
// n only, never on the pointers' alignment (an `omp simd` reduction may peel a misaligned head), so
// a row's product is the same wherever its buffer sits — in a batch of any size or alone.
float dot(const float* a, const float* b, int64_t n) {
  float s[8] = {};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) s[l] += a[k + l] * b[k + l];
  for (int l = 0; k < n; ++k, ++l) s[l] += a[k] * b[k];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
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
