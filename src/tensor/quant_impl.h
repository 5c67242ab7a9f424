// Internal to src/tensor: the per-format row functions behind quant.h's dispatchers (quant.cpp) and
// the float rules the format files follow; other layers use quant.h. Bit-exactness with ggml needs
// every a*b+c rounded twice, as ggml-base (built without -march, so without FMA) computes it; GCC
// fuses a*b+c under -march=native even with -std=c++20, so including this header turns that off.
#pragma once

#include <cstdint>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace latent::detail {

// Round to the nearest int, ties to even, by ggml's nearest_int trick (valid for |x| < 2^22): the
// sum x + 1.5*2^23 lands where the float spacing is 1, so its low mantissa bits hold round(x) +
// 2^22. Unlike roundf, an exact .5 goes to the even neighbour.
inline int nearest_int(float x) {
  float v = x + 12582912.f;
  uint32_t bits;
  __builtin_memcpy(&bits, &v, sizeof bits);
  return static_cast<int>(bits & 0x007fffff) - 0x00400000;
}

// a * b + c compiled under this header's rules; tests assert it rounds twice (no FMA).
float contraction_probe(float a, float b, float c);

// quant_k_search.cpp: the scale searches of the K-quant quantizers (see there).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);
struct QkxParams {
  int n;         // group size, <= 32
  int nmax;      // largest level
  float rmin;    // first trial iscale offset
  float rdelta;  // step between trial offsets
  int nstep;     // number of steps after the first trial
  bool use_mad;  // absolute instead of squared error
};
float make_qkx2_quants(const QkxParams& p, const float* x, const float* weights, uint8_t* L,
                       float* the_min);

// fp16.cpp
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
// dequant.cpp
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

// quantize_legacy.cpp
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
// quantize_k.cpp
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

}  // namespace latent::detail
