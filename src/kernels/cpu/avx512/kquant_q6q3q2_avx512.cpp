// AVX-512 (VNNI) tiles for Q6_K, Q3_K and Q2_K weights against Q8_K activations: 16 groups of 16
// with one scale each (Q2_K also a min). Levels are unpacked to unsigned bytes in element order
// (chunk j holds elements 64j..64j+63); signed levels q − 32 (Q6_K) and q − 4 (Q3_K) become an
// unsigned level and a min of 32·sc or 4·sc, so the min term of every format uses the Q8_K bsums.
#include "kernels/cpu/avx512/kquant_tile_avx512.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {
namespace {

using namespace kq512;

// Group scales sc[g] (16 signed bytes) as int16 chunk vectors, and mf[g] = mul · sc[g] (or the
// given mins).
inline void set_scales(__m128i sc8, __m512i sc[4]) {
  const __m512i s16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc8));
  for (int j = 0; j < 4; ++j) sc[j] = _mm512_permutexvar_epi16(scale_index(4 * j, 8), s16);
}
inline __m512 scaled_i8(__m128i v8, float mul) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v8)), _mm512_set1_ps(mul));
}

// 2-bit planes of Q2_K/Q3_K: byte 32h + l holds elements 128h + 32p + l in bits 2p (p = 0..3).
// Chunk j covers planes 2(j%2), 2(j%2)+1 of half j/2.
inline __m512i two_bit_chunk(const uint8_t* qs, int j) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * (j / 2)));
  const int s = 4 * (j % 2);
  const __m256i lo = _mm256_srl_epi16(x, _mm_cvtsi32_si128(s));
  const __m256i hi = _mm256_srl_epi16(x, _mm_cvtsi32_si128(s + 2));
  return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                          _mm512_set1_epi8(3));
}

// Q6_K: ql[128] at 0, qh[64] at 128, int8 scales[16] at 192, d at 208. Element 128h + 32k + l has
// low nibble (k < 2 ? lo : hi) of ql[64h + 32(k&1) + l] and 2 high bits (qh[32h + l] >> 2k) & 3.
struct Q6K : NaturalOrder {
  static constexpr int kBytes = 210;
  struct State {
    __m512i w[4], sc[4];
    __m512 mf;
    float d;
    explicit State(const uint8_t* blk) {
      d = load_f16(blk + 208);
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
      set_scales(sc8, sc);
      mf = scaled_i8(sc8, 32.0f * d);
      const __m512i lo4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
        const __m512i qh =
            _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);
        w[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, lo4),
                                   _mm512_and_si512(_mm512_slli_epi16(qh, 4), bits45));
        w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), lo4),
                                       _mm512_and_si512(qh, bits45));
      }
    }
  };
};

// Q3_K: hmask[32] at 0, qs[64] at 32, 12 scale bytes at 96, d at 108. Level = 2-bit plane value +
// 4 · (bit e/32 of hmask[e%32]); value d · (s6 − 32) · (level − 4).
struct Q3K : NaturalOrder {
  static constexpr int kBytes = 110;
  // s6 of the 16 groups minus 32 (q3k_scale, sixteen at a time): low nibbles from bytes 0..7
  // (groups 0..7 low, 8..15 high), high 2 bits from bytes 8..11 (group g: bits 2(g/4) of byte 8 +
  // g%4).
  static __m128i scales(const uint8_t* p) {
    uint64_t a;
    std::memcpy(&a, p, 8);
    const uint32_t b = load_u32(p + 8);
    const uint64_t m2 = 0x03030303, m4 = 0x0f0f0f0f0f0f0f0full;
    const uint64_t h0 = (b & m2) | ((b >> 2) & m2) << 32, h1 = ((b >> 4) & m2) | ((b >> 6) & m2)
                                                                                     << 32;
    const uint64_t g0 = (a & m4) | h0 << 4, g1 = ((a >> 4) & m4) | h1 << 4;
    return _mm_sub_epi8(_mm_set_epi64x(static_cast<long long>(g1), static_cast<long long>(g0)),
                        _mm_set1_epi8(32));
  }
  struct State {
    __m512i w[4], sc[4];
    __m512 mf;
    float d;
    explicit State(const uint8_t* blk) {
      d = load_f16(blk + 108);
      const __m128i sc8 = scales(blk + 96);
      set_scales(sc8, sc);
      mf = scaled_i8(sc8, 4.0f * d);
      const __m512i hm =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
      const __m512i four = _mm512_set1_epi8(4);
      for (int j = 0; j < 4; ++j) {
        const __m512i bit =
            _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * j))),
                               _mm256_set1_epi8(static_cast<char>(2 << (2 * j))), 1);
        const __m512i lo = two_bit_chunk(blk + 32, j);
        w[j] = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(hm, bit), lo, four);
      }
    }
  };
};

// Q2_K: scales[16] at 0 (low nibble scale, high nibble min), qs[64] at 16, d at 80, dmin at 82.
struct Q2K : NaturalOrder {
  static constexpr int kBytes = 84;
  struct State {
    __m512i w[4], sc[4];
    __m512 mf;
    float d;
    explicit State(const uint8_t* blk) {
      d = load_f16(blk + 80);
      const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
      const __m128i lo4 = _mm_set1_epi8(0x0f);
      set_scales(_mm_and_si128(s, lo4), sc);
      mf = scaled_i8(_mm_and_si128(_mm_srli_epi16(s, 4), lo4), load_f16(blk + 82));
      for (int j = 0; j < 4; ++j) w[j] = two_bit_chunk(blk + 16, j);
    }
  };
};

}  // namespace

KquantTile q6q3q2_tile_avx512(DType weight) {
  switch (weight) {
    case DType::Q6_K:
      return &kq512::tile<Q6K>;
    case DType::Q3_K:
      return &kq512::tile<Q3K>;
    case DType::Q2_K:
      return &kq512::tile<Q2K>;
    default:
      return nullptr;
  }
}

}  // namespace latent::kernels::cpu
