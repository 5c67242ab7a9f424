// AVX2 dot kernels for the legacy quant weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) against Q8_0
// activations, and the SIMD Q8_0 activation quantizer (bit-identical to quantize_row(Q8_0)). One
// 32-element block per ymm; a tile unpacks each block of its ≤4 weight rows once and reuses it for
// every activation row. VPMADDUBSW multiplies unsigned by signed bytes: Q8_0 uses the sign trick
// (|w|·sign(a, w)), the 4/5-bit formats subtract offset·(a₂ᵢ + a₂ᵢ₊₁) per 16-bit pair.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/legacy.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

constexpr int64_t kActBytes = sizeof(BlockQ8_0);

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

__m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Element j of the block in byte j: low nibbles of qs are elements 0..15, high nibbles 16..31.
__m256i nibbles(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0F));
}

// 16 in byte j where bit j of the little-endian qh is set, else 0.
__m256i fifth_bit(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, sizeof h);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bits = _mm256_set1_epi64x(0x8040201008040201);
  const __m256i x =
      _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)), shuf), bits);
  return _mm256_and_si256(_mm256_cmpeq_epi8(x, bits), _mm256_set1_epi8(0x10));
}

// One block of a weight row: unsigned quants u (value = d·(u − offset) + m); Q8_0 keeps |q| in u
// and q itself in s for the sign trick.
struct Weights {
  __m256i u;
  __m256i s;
  float d;
  float m;
};

struct Q8_0W {
  static constexpr int64_t kBytes = sizeof(BlockQ8_0);
  static constexpr int kOffset = 0;
  static constexpr bool kMin = false, kSigned = true;
  static Weights load(const uint8_t* p) {
    const __m256i q = load32(p + 2);
    return {_mm256_sign_epi8(q, q), q, half_at(p), 0.0f};
  }
};
struct Q4_0W {
  static constexpr int64_t kBytes = sizeof(BlockQ4_0);
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false, kSigned = false;
  static Weights load(const uint8_t* p) {
    return {nibbles(p + 2), _mm256_setzero_si256(), half_at(p), 0.0f};
  }
};
struct Q4_1W {
  static constexpr int64_t kBytes = sizeof(BlockQ4_1);
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static Weights load(const uint8_t* p) {
    return {nibbles(p + 4), _mm256_setzero_si256(), half_at(p), half_at(p + 2)};
  }
};
struct Q5_0W {
  static constexpr int64_t kBytes = sizeof(BlockQ5_0);
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false, kSigned = false;
  static Weights load(const uint8_t* p) {
    return {_mm256_or_si256(nibbles(p + 6), fifth_bit(p + 2)), _mm256_setzero_si256(), half_at(p),
            0.0f};
  }
};
struct Q5_1W {
  static constexpr int64_t kBytes = sizeof(BlockQ5_1);
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static Weights load(const uint8_t* p) {
    return {_mm256_or_si256(nibbles(p + 8), fifth_bit(p + 4)), _mm256_setzero_si256(), half_at(p),
            half_at(p + 2)};
  }
};

// acc[r][c] lanes hold Σ over blocks of d_w·d_a·(Σ u·a − offset·Σ a) (+ m·d_a·Σ a); 16-bit pair
// sums stay within ±2·31·128 + 2·16·128 (no saturation). Rows past n_rows re-read the last row.
template <class W, int NC>
void tile_n(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
            int64_t act_stride, float* out, int64_t out_stride) {
  const uint8_t* wr[kTileRows];
  for (int r = 0; r < kTileRows; ++r) wr[r] = w + std::min(r, n_rows - 1) * w_stride;
  __m256 acc[kTileRows][NC];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(W::kOffset));
  for (int64_t b = 0; b < n / kQK; ++b) {
    Weights wt[kTileRows];
    for (int r = 0; r < kTileRows; ++r) wt[r] = W::load(wr[r] + b * W::kBytes);
    for (int c = 0; c < NC; ++c) {
      const uint8_t* ab = act + c * act_stride + b * kActBytes;
      const __m256i a = load32(ab + 2);
      const float da = half_at(ab);
      __m256i off_pairs = _mm256_setzero_si256();
      if constexpr (W::kOffset != 0) off_pairs = _mm256_maddubs_epi16(offset, a);
      __m256 sum_a = _mm256_setzero_ps();  // Σa per lane
      if constexpr (W::kMin)
        sum_a = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, a), ones16));
      for (int r = 0; r < kTileRows; ++r) {
        __m256i pairs;
        if constexpr (W::kSigned) {
          pairs = _mm256_maddubs_epi16(wt[r].u, _mm256_sign_epi8(a, wt[r].s));
        } else {
          pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(wt[r].u, a), off_pairs);
        }
        const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones16));
        acc[r][c] = _mm256_fmadd_ps(dot, _mm256_set1_ps(wt[r].d * da), acc[r][c]);
        if constexpr (W::kMin)
          acc[r][c] = _mm256_fmadd_ps(sum_a, _mm256_set1_ps(wt[r].m * da), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < n_rows; ++r)
    for (int c = 0; c < NC; ++c) {
      const __m256 v = acc[r][c];
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      s = _mm_add_ss(s, _mm_movehdup_ps(s));
      out[c * out_stride + r] = _mm_cvtss_f32(s);
    }
}

template <class W>
void tile(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
          int64_t act_stride, int n_cols, float* out, int64_t out_stride) {
  switch (n_cols) {
    case 1:
      return tile_n<W, 1>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    case 2:
      return tile_n<W, 2>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    case 3:
      return tile_n<W, 3>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
    default:
      return tile_n<W, 4>(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
  }
}

// round(v) half away from zero, as std::round: trunc(v) plus sign(v) where |v − trunc(v)| ≥ 0.5
// (the difference is exact).
__m256i round_to_i32(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign_bit), _mm256_set1_ps(1.0f));
  return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, one)));
}

// quantize_row(Q8_0) step for step: d = amax/127 (stored as fp16, round to nearest even),
// q = round(x · (1/d)) with the f32 inverse.
void quantize_act(const float* x, void* out, int64_t n) {
  auto* dst = static_cast<uint8_t*>(out);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, dst += kActBytes) {
    __m256 v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
    const __m256 m = _mm256_andnot_ps(
        sign_bit,
        _mm256_max_ps(
            _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[0]), _mm256_andnot_ps(sign_bit, v[1])),
            _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[2]), _mm256_andnot_ps(sign_bit, v[3]))));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float d = _mm_cvtss_f32(m4) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    std::memcpy(dst, &d16, sizeof d16);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = round_to_i32(_mm256_mul_ps(v[i], vid));
    // packs interleave 128-bit lanes; the permute restores element order.
    const __m256i p =
        _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i r = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2), r);
  }
}

}  // namespace

DotKernel legacy_dot_avx2(DType weight) {
  switch (weight) {
    case DType::Q8_0:
      return {DType::Q8_0, quantize_act, tile<Q8_0W>};
    case DType::Q4_0:
      return {DType::Q8_0, quantize_act, tile<Q4_0W>};
    case DType::Q4_1:
      return {DType::Q8_0, quantize_act, tile<Q4_1W>};
    case DType::Q5_0:
      return {DType::Q8_0, quantize_act, tile<Q5_0W>};
    case DType::Q5_1:
      return {DType::Q8_0, quantize_act, tile<Q5_1W>};
    default:
      return {};
  }
}

}  // namespace latent::kernels::cpu
