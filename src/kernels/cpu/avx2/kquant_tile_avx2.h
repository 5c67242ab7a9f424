// The AVX2 K-quant tile driver, shared by the per-format files in this folder (included only there:
// it uses intrinsics). A format's State unpacks one super-block: w(j), 32 unsigned levels of
// elements 32j..32j+31 (j < 8); sc(j), their int16 group scales aligned with maddubs pairs; d; and
// the float min vectors mf_lo/mf_hi (lane i pairs with bsums[i] / bsums[8 + i]).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace latent::kernels::cpu::kq256 {

// Q8_K activation block: float d at 0, int8 qs[256] at 4, int16 bsums[16] at 260.
inline constexpr int kActBytes = 292;
inline constexpr int kActQs = 4;
inline constexpr int kActBsums = 260;

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
inline float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline __m256i load256(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// int16 scale vector of a chunk spanning two 16-element groups with scales a, b.
inline __m256i two_scales(int a, int b) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(b)),
                          _mm_set1_epi16(static_cast<int16_t>(a)));
}
// f32 lanes of 8 signed bytes times mul.
inline __m256 scaled_i8x8(__m128i v8, float mul) {
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v8)), _mm256_set1_ps(mul));
}

// out[c·out_stride + r] for NR weight rows × NC activation rows; each weight chunk is unpacked once
// and multiplied with all NC activation rows (maddubs pairs ≤ 2·63·128 < 2^15; madd with the scale
// and 8 chunks stay below 2^31).
template <class K, int NR, int NC>
void tile_impl(int64_t n, const uint8_t* w, int64_t w_stride, const uint8_t* act,
               int64_t act_stride, float* out, int64_t out_stride) {
  __m256 acc[NR][NC];
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_setzero_ps();
  const int64_t nb = n / 256;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ab[NC];
    float da[NC];
    __m256 fa_lo[NC], fa_hi[NC];  // d_a · bsums
    for (int c = 0; c < NC; ++c) {
      ab[c] = act + c * act_stride + b * kActBytes;
      da[c] = load_f32(ab[c]);
      const __m256i bs = load256(ab[c] + kActBsums);
      const __m256 dv = _mm256_set1_ps(da[c]);
      fa_lo[c] =
          _mm256_mul_ps(dv, _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(bs))));
      fa_hi[c] = _mm256_mul_ps(
          dv, _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(bs, 1))));
    }
    for (int r = 0; r < NR; ++r) {
      const typename K::State s(w + r * w_stride + b * K::kBytes);
      __m256i isum[NC];
      for (int c = 0; c < NC; ++c) isum[c] = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i wj = s.w(j), scj = s.sc(j);
        for (int c = 0; c < NC; ++c) {
          const __m256i p = _mm256_maddubs_epi16(wj, load256(ab[c] + kActQs + 32 * j));
          isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, scj));
        }
      }
      for (int c = 0; c < NC; ++c) {
        __m256 a =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_set1_ps(s.d * da[c]), acc[r][c]);
        a = _mm256_fnmadd_ps(s.mf_lo, fa_lo[c], a);
        acc[r][c] = _mm256_fnmadd_ps(s.mf_hi, fa_hi[c], a);
      }
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) out[c * out_stride + r] = hsum(acc[r][c]);
}

template <class K, int NC>
void tile_cols(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
               int64_t act_stride, float* out, int64_t out_stride) {
  if (n_rows == 4) {
    tile_impl<K, 4, NC>(n, w, w_stride, act, act_stride, out, out_stride);
    return;
  }
  for (int r = 0; r < n_rows; ++r)
    tile_impl<K, 1, NC>(n, w + r * w_stride, w_stride, act, act_stride, out + r, out_stride);
}

// The DotKernel::tile entry for format K.
template <class K>
void tile(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
          int64_t act_stride, int n_cols, float* out, int64_t out_stride) {
  switch (n_cols) {
    case 1:
      return tile_cols<K, 1>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    case 2:
      return tile_cols<K, 2>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    case 3:
      return tile_cols<K, 3>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    default:
      return tile_cols<K, 4>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
  }
}

}  // namespace latent::kernels::cpu::kq256
