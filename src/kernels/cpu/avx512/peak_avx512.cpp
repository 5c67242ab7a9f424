// AVX-512 loops for kernels/peak.h: zmm FP32 FMA, VNNI VPDPBUSD and BF16 VDPBF16PS throughput, and
// a zmm-load sum for read bandwidth. Twelve independent accumulators cover the instructions'
// latency on two pipes; an empty asm marks the inputs as changed each iteration so the compiler
// cannot hoist or fold the work.
#include <immintrin.h>

#include "kernels/cpu/peak_loops.h"

namespace latent::kernels::cpu::avx512 {
namespace {

// Horizontal sums through memory (GCC 12's _mm512_reduce_add_* warn with -Wuninitialized).
float hsum(__m512 v) {
  alignas(64) float f[16];
  _mm512_store_ps(f, v);
  float s = 0.0f;
  for (float x : f) s += x;
  return s;
}

int32_t hsum(__m512i v) {
  alignas(64) int32_t f[16];
  _mm512_store_si512(f, v);
  uint32_t s = 0;
  for (int32_t x : f) s += static_cast<uint32_t>(x);
  return static_cast<int32_t>(s);
}

}  // namespace

float peak_fp32(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it) {
    asm volatile("" : "+v"(a), "+v"(b));
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return hsum(s);
}

int32_t peak_int8(int64_t iters) {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int64_t it = 0; it < iters; ++it) {
    asm volatile("" : "+v"(a), "+v"(b));
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  }
  __m512i s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, acc[i]);
  return hsum(s);
}

float peak_bf16(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(1e-3f);
  __m512bh a = _mm512_cvtne2ps_pbh(x, x), b = _mm512_cvtne2ps_pbh(x, x);
  for (int64_t it = 0; it < iters; ++it) {
    asm volatile("" : "+v"(a), "+v"(b));
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return hsum(s);
}

float sum_f32(const float* p, int64_t n) {
  __m512 acc[8];
  for (auto& v : acc) v = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 128 <= n; i += 128) {
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(p + i + 16 * j));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  float s = hsum(acc[0]);
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace latent::kernels::cpu::avx512
