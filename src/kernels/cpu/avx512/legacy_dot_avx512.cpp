// AVX-512 VNNI dot kernels for the legacy quant weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) against
// Q8_0 activations, and the SIMD Q8_0 activation quantizer (bit-identical to quantize_row(Q8_0)).
// A zmm holds two 32-element blocks; each tile unpacks a block pair of its ≤4 weight rows once and
// reuses it for every activation row. VPDPBUSD multiplies unsigned by signed bytes, so weights are
// made unsigned (q + offset) and −offset·Σa is computed once per activation block pair.
// GCC 12 flags _mm512_undefined_*() inside its own intrinsic headers (false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstring>

#include "kernels/cpu/legacy.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

constexpr int64_t kActBytes = sizeof(BlockQ8_0);

uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Bytes 0..31 = the 32 bytes at p0, bytes 32..63 = those at p1.
__m512i load_pair(const uint8_t* p0, const uint8_t* p1) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Element j of each block in byte j (block 0) / 32 + j (block 1): low nibbles of qs are elements
// 0..15, high nibbles 16..31.
__m512i nibbles(const uint8_t* qs0, const uint8_t* qs1) {
  const __m512i a = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0)));
  const __m512i b = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)));
  __m512i z = _mm512_mask_blend_epi64(0xF0, a, b);   // [qs0, qs0, qs1, qs1]
  z = _mm512_mask_srli_epi16(z, 0xFF00FF00u, z, 4);  // 128-bit lanes 1 and 3 take the high nibbles
  return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

// Adds 16 to every element whose bit in its block's little-endian qh is set.
__m512i fifth_bit(__m512i q, const uint8_t* qh0, const uint8_t* qh1) {
  const __mmask64 k = static_cast<uint64_t>(u32_at(qh1)) << 32 | u32_at(qh0);
  return _mm512_mask_add_epi8(q, k, q, _mm512_set1_epi8(0x10));
}

// Each format: kBytes per block, kOffset subtracted from the unsigned quants u (value = d·(u −
// offset) + m), kMin when it has an additive m, kD/kM the byte offsets of the fp16 d and m, and
// quants(p0, p1) the u of a block pair in element order.
struct Q8_0W {
  static constexpr int64_t kBytes = sizeof(BlockQ8_0), kD = 0, kM = 0;
  static constexpr int kOffset = 128;  // u = q xor 0x80 = q + 128
  static constexpr bool kMin = false;
  static __m512i quants(const uint8_t* p0, const uint8_t* p1) {
    return _mm512_xor_si512(load_pair(p0 + 2, p1 + 2), _mm512_set1_epi8(-128));
  }
};
struct Q4_0W {
  static constexpr int64_t kBytes = sizeof(BlockQ4_0), kD = 0, kM = 0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m512i quants(const uint8_t* p0, const uint8_t* p1) { return nibbles(p0 + 2, p1 + 2); }
};
struct Q4_1W {
  static constexpr int64_t kBytes = sizeof(BlockQ4_1), kD = 0, kM = 2;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m512i quants(const uint8_t* p0, const uint8_t* p1) { return nibbles(p0 + 4, p1 + 4); }
};
struct Q5_0W {
  static constexpr int64_t kBytes = sizeof(BlockQ5_0), kD = 0, kM = 0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m512i quants(const uint8_t* p0, const uint8_t* p1) {
    return fifth_bit(nibbles(p0 + 6, p1 + 6), p0 + 2, p1 + 2);
  }
};
struct Q5_1W {
  static constexpr int64_t kBytes = sizeof(BlockQ5_1), kD = 0, kM = 2;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m512i quants(const uint8_t* p0, const uint8_t* p1) {
    return fifth_bit(nibbles(p0 + 8, p1 + 8), p0 + 4, p1 + 4);
  }
};

// The fp16 at p0 | the one at p1 << 16; without kPair the second is +0 (the stand-in block of an
// odd block count contributes nothing).
template <bool kPair>
uint32_t half_pair(const uint8_t* p0, const uint8_t* p1) {
  uint16_t h0, h1 = 0;
  std::memcpy(&h0, p0, 2);
  if constexpr (kPair) std::memcpy(&h1, p1, 2);
  return static_cast<uint32_t>(h1) << 16 | h0;
}

// [x_r0b0, x_r0b1, x_r1b0, ..., x_r3b1] as f32 from four half pairs.
__m256 compact(const uint32_t h[kTileRows]) {
  const uint64_t lo = static_cast<uint64_t>(h[1]) << 32 | h[0];
  const uint64_t hi = static_cast<uint64_t>(h[3]) << 32 | h[2];
  return _mm256_cvtph_ps(_mm_set_epi64x(static_cast<int64_t>(hi), static_cast<int64_t>(lo)));
}

template <class W, int NC>
struct Tile {
  const uint8_t* wr[kTileRows];
  const uint8_t* ac[NC];
  __m512 acc[kTileRows][NC];
  __m512i expand[kTileRows];  // permute indices: lanes 0..7 ← 2r, lanes 8..15 ← 2r + 1

  // Block b (and b + 1 with kPair) of every row × every activation row. acc[r][c] lanes gain
  // d_w·d_a·(Σ u·a − offset·Σ a) (+ m·d_a·Σ a) per block.
  template <bool kPair>
  void step(int64_t b) {
    const int64_t b1 = kPair ? b + 1 : b;
    const __m512i zero = _mm512_setzero_si512();
    __m512i u[kTileRows];
    uint32_t hd[kTileRows], hm[kTileRows];
    for (int r = 0; r < kTileRows; ++r) {
      const uint8_t* p0 = wr[r] + b * W::kBytes;
      const uint8_t* p1 = wr[r] + b1 * W::kBytes;
      u[r] = W::quants(p0, p1);
      hd[r] = half_pair<kPair>(p0 + W::kD, p1 + W::kD);
      if constexpr (W::kMin) hm[r] = half_pair<kPair>(p0 + W::kM, p1 + W::kM);
    }
    const __m256 wd = compact(hd);
    __m256 wm = _mm256_setzero_ps();
    if constexpr (W::kMin) wm = compact(hm);
    for (int c = 0; c < NC; ++c) {
      const uint8_t* a0 = ac[c] + b * kActBytes;
      const uint8_t* a1 = ac[c] + b1 * kActBytes;
      const __m512i a = load_pair(a0 + 2, a1 + 2);
      // [d_a0, d_a1] × 4, times the compact weight scales: every d_w·d_a of this step.
      const __m256 da = _mm256_cvtph_ps(_mm_set1_epi32(static_cast<int>(half_pair<true>(a0, a1))));
      const __m512 sd = _mm512_castps256_ps512(_mm256_mul_ps(wd, da));
      __m512i base = zero;
      if constexpr (W::kOffset != 0) {
        const __m512i off = _mm512_set1_epi8(static_cast<char>(W::kOffset));
        base = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, off, a));
      }
      __m512 sum_a = _mm512_setzero_ps(), sm = _mm512_setzero_ps();  // Σa per lane, m·d_a
      if constexpr (W::kMin) {
        sum_a = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, _mm512_set1_epi8(1), a));
        sm = _mm512_castps256_ps512(_mm256_mul_ps(wm, da));
      }
      for (int r = 0; r < kTileRows; ++r) {
        const __m512i dot = _mm512_dpbusd_epi32(base, u[r], a);
        const __m512 scale = _mm512_permutexvar_ps(expand[r], sd);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[r][c]);
        if constexpr (W::kMin)
          acc[r][c] = _mm512_fmadd_ps(sum_a, _mm512_permutexvar_ps(expand[r], sm), acc[r][c]);
      }
    }
  }

  // Rows past n_rows re-read the last row and are not stored; 4·NC independent accumulators.
  void run(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
           int64_t act_stride, float* out, int64_t out_stride) {
    for (int r = 0; r < kTileRows; ++r) {
      wr[r] = w + std::min(r, n_rows - 1) * w_stride;
      expand[r] = _mm512_inserti64x4(_mm512_set1_epi32(2 * r), _mm256_set1_epi32(2 * r + 1), 1);
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
    }
    for (int c = 0; c < NC; ++c) ac[c] = act + c * act_stride;
    const int64_t nb = n / kQK;
    for (int64_t b = 0; b + 1 < nb; b += 2) step<true>(b);
    if (nb % 2) step<false>(nb - 1);
    for (int r = 0; r < n_rows; ++r)
      for (int c = 0; c < NC; ++c) out[c * out_stride + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
};

template <class W, int NC>
void tile_n(int64_t n, const uint8_t* w, int64_t w_stride, int n_rows, const uint8_t* act,
            int64_t act_stride, float* out, int64_t out_stride) {
  Tile<W, NC> t;
  t.run(n, w, w_stride, n_rows, act, act_stride, out, out_stride);
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
// (the difference is exact), then saturated to int8.
__m128i round_to_i8(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 up =
      _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
  const __m512 one = _mm512_castsi512_ps(_mm512_or_si512(sign, _mm512_set1_epi32(0x3f800000)));
  return _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one)));
}

// quantize_row(Q8_0) step for step: d = amax/127 (stored as fp16, round to nearest even),
// q = round(x · (1/d)) with the f32 inverse.
void quantize_act(const float* x, void* out, int64_t n) {
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, dst += kActBytes) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    std::memcpy(dst, &d16, sizeof d16);
    const __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2), round_to_i8(_mm512_mul_ps(x0, vid)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 18), round_to_i8(_mm512_mul_ps(x1, vid)));
  }
}

}  // namespace

DotKernel legacy_dot_avx512(DType weight) {
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
