// AVX2 loops for kernels/peak.h: ymm FP32 FMA throughput, the VPMADDUBSW → VPMADDWD → VPADDD
// int8 dot product that ggml's AVX2 kernels use (no VNNI), and a ymm-load sum for read bandwidth.
// An empty asm marks the inputs as changed each iteration so the compiler cannot hoist or fold the
// work.
#include <immintrin.h>

#include "kernels/cpu/peak_loops.h"

namespace latent::kernels::cpu::avx2 {

float peak_fp32(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
    asm volatile("" : "+x"(a), "+x"(b));
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

int32_t peak_int8(int64_t iters) {
  __m256i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_set1_epi32(i);
  __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 8; ++i) {
      asm volatile("" : "+x"(a), "+x"(b));  // distinct inputs: no common subexpression
      const __m256i p16 = _mm256_maddubs_epi16(a, b);
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(p16, ones));
    }
  }
  __m256i s = acc[0];
  for (int i = 1; i < 8; ++i) s = _mm256_add_epi32(s, acc[i]);
  int32_t out[8];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

float sum_f32(const float* p, int64_t n) {
  __m256 acc[8];
  for (auto& v : acc) v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(p + i + 8 * j));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  float out[8];
  _mm256_storeu_ps(out, acc[0]);
  float s = out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace latent::kernels::cpu::avx2
