// AVX2+FMA elementwise rows: RMSNorm (sum of squares in double, like ref/, then the same x·scale·w
// products), residual add, and SwiGLU with a vector e^x; tails are scalar. This ISA's FloatOps.
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/avx2/exp_avx2.h"
#include "kernels/cpu/float_ops.h"

namespace latent::kernels::cpu {
namespace {

void rms_norm_row(const float* x, const float* w, int64_t n, float eps, float* out) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    s0 = _mm256_fmadd_pd(lo, lo, s0);
    s1 = _mm256_fmadd_pd(hi, hi, s1);
  }
  alignas(32) double part[4];
  _mm256_store_pd(part, _mm256_add_pd(s0, s1));
  double sum = (part[0] + part[1]) + (part[2] + part[3]);
  for (; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
  const __m256 sv = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _mm256_loadu_ps(w + i)));
  for (; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void add(const float* a, const float* b, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

// out = g / (1 + e^{−g}) · u
void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = avx2::exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(
        out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  // The tail goes through the same vector e^x (a scalar std::exp would round differently), so an
  // element's value does not depend on where a call's range ends: batch invariance.
  if (i < n) {
    alignas(32) float g8[8] = {}, u8[8] = {}, o8[8];
    for (int64_t j = i; j < n; ++j) g8[j - i] = gate[j], u8[j - i] = up[j];
    const __m256 g = _mm256_load_ps(g8);
    const __m256 e = avx2::exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_store_ps(o8, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_load_ps(u8)));
    for (int64_t j = i; j < n; ++j) out[j] = o8[j - i];
  }
}

}  // namespace

const FloatOps& float_ops_avx2() {
  static constexpr FloatOps ops{rms_norm_row, add, swiglu, attention_head_avx2,
                                attention_heads_wide_avx2};
  return ops;
}

}  // namespace latent::kernels::cpu
