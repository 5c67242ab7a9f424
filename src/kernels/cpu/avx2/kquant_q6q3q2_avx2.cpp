// AVX2 tiles for Q6_K, Q3_K and Q2_K weights against Q8_K activations: 16 groups of 16 with one
// scale each (Q2_K also a min); chunk j of the driver is groups 2j and 2j+1. Signed levels q − 32
// (Q6_K) and q − 4 (Q3_K) become an unsigned level and a min of 32·sc or 4·sc on the Q8_K bsums.
#include "kernels/cpu/avx2/kquant_tile_avx2.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {
namespace {

using namespace kq256;

// Signed group scales and mf = mul · v[g] for the 16 groups.
struct GroupScales {
  alignas(16) int8_t s[16];
  __m256 mf_lo, mf_hi;
  void set(__m128i sc8, __m128i min8, float mul) {
    _mm_store_si128(reinterpret_cast<__m128i*>(s), sc8);
    mf_lo = scaled_i8x8(min8, mul);
    mf_hi = scaled_i8x8(_mm_srli_si128(min8, 8), mul);
  }
  __m256i sc(int j) const { return two_scales(s[2 * j], s[2 * j + 1]); }
};

// 2-bit plane p of half h (Q2_K/Q3_K): byte 32h + l holds element 128h + 32p + l in bits 2p.
inline __m256i two_bit(const uint8_t* qs, int j) {
  const __m256i x = load256(qs + 32 * (j / 4));
  return _mm256_and_si256(_mm256_srli_epi16(x, 2 * (j % 4)), _mm256_set1_epi8(3));
}

// Q6_K: ql[128] at 0, qh[64] at 128, int8 scales[16] at 192, d at 208. Element 128h + 32k + l has
// low nibble (k < 2 ? lo : hi) of ql[64h + 32(k&1) + l] and high bits (qh[32h + l] >> 2k) & 3.
struct Q6K {
  static constexpr int kBytes = 210;
  struct State : GroupScales {
    const uint8_t* blk;
    float d;
    explicit State(const uint8_t* p) : blk(p), d(load_f16(p + 208)) {
      const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192));
      set(sc8, sc8, 32.0f * d);
    }
    __m256i w(int j) const {
      const int h = j / 4, k = j % 4;
      const __m256i l = load256(blk + 64 * h + 32 * (k & 1));
      const __m256i lo =
          _mm256_and_si256(k < 2 ? l : _mm256_srli_epi16(l, 4), _mm256_set1_epi8(0x0f));
      const __m256i qh = _mm256_srli_epi16(load256(blk + 128 + 32 * h), 2 * k);
      const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(3)), 4);
      return _mm256_or_si256(lo, hi);
    }
  };
};

// Q3_K: hmask[32] at 0, qs[64] at 32, 12 scale bytes at 96, d at 108. Level = 2-bit plane value +
// 4 · (bit j of hmask[l]) for element 32j + l; value d · (s6 − 32) · (level − 4).
struct Q3K {
  static constexpr int kBytes = 110;
  // s6 − 32 of the 16 groups (q3k_scale, sixteen at a time): low nibbles from bytes 0..7, high 2
  // bits of group g from bits 2(g/4) of byte 8 + g%4.
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
  struct State : GroupScales {
    const uint8_t* blk;
    float d;
    explicit State(const uint8_t* p) : blk(p), d(load_f16(p + 108)) {
      const __m128i sc8 = scales(p + 96);
      set(sc8, sc8, 4.0f * d);
    }
    __m256i w(int j) const {
      const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(load256(blk), j), _mm256_set1_epi8(1));
      return _mm256_or_si256(two_bit(blk + 32, j), _mm256_slli_epi16(hb, 2));
    }
  };
};

// Q2_K: scales[16] at 0 (low nibble scale, high nibble min), qs[64] at 16, d at 80, dmin at 82.
struct Q2K {
  static constexpr int kBytes = 84;
  struct State : GroupScales {
    const uint8_t* blk;
    float d;
    explicit State(const uint8_t* p) : blk(p), d(load_f16(p + 80)) {
      const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i lo4 = _mm_set1_epi8(0x0f);
      set(_mm_and_si128(s, lo4), _mm_and_si128(_mm_srli_epi16(s, 4), lo4), load_f16(p + 82));
    }
    __m256i w(int j) const { return two_bit(blk + 16, j); }
  };
};

}  // namespace

KquantTile q6q3q2_tile_avx2(DType weight) {
  switch (weight) {
    case DType::Q6_K:
      return &kq256::tile<Q6K>;
    case DType::Q3_K:
      return &kq256::tile<Q3K>;
    case DType::Q2_K:
      return &kq256::tile<Q2K>;
    default:
      return nullptr;
  }
}

}  // namespace latent::kernels::cpu
