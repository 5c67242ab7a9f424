// AVX2 tiles for Q4_K and Q5_K weights against Q8_K activations: 8 groups of 32 with a 6-bit scale
// and min each; chunk j of the driver is group j (the low or high nibbles of qs[32(j/2)..+32)).
#include "kernels/cpu/avx2/kquant_tile_avx2.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {
namespace {

using namespace kq256;

// Shared by Q4_K and Q5_K: d, dmin, the 12 scale bytes at 4 (k4_scale_min, eight at a time: bytes
// 0..3 hold sc[0..3] and the top bits of sc[4..7], bytes 4..7 the same for the mins, bytes 8..11
// the low nibbles of sc/min 4..7), and 128 nibble bytes at qs.
struct K4Common {
  const uint8_t* qs;
  uint64_t scales;
  __m256 mf_lo, mf_hi;
  float d;
  K4Common(const uint8_t* blk, const uint8_t* q) : qs(q) {
    d = load_f16(blk);
    const uint32_t w0 = load_u32(blk + 4), w1 = load_u32(blk + 8), w2 = load_u32(blk + 12);
    const uint32_t sc_hi = (w2 & 0x0f0f0f0f) | ((w0 >> 2) & 0x30303030);
    const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0f) | ((w1 >> 2) & 0x30303030);
    scales = (w0 & 0x3f3f3f3f) | uint64_t{sc_hi} << 32;
    const uint64_t mins = (w1 & 0x3f3f3f3f) | uint64_t{mn_hi} << 32;
    const __m128i m = _mm_cvtsi64_si128(static_cast<long long>(mins));
    const __m128i mm = _mm_unpacklo_epi8(m, m);  // byte i: min of group i/2
    const __m256 dmin = _mm256_set1_ps(load_f16(blk + 2));
    mf_lo = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mm)), dmin);
    mf_hi = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(mm, 8))), dmin);
  }
  __m256i nibbles(int j) const {
    const __m256i x = load256(qs + 32 * (j / 2));
    return _mm256_and_si256(j % 2 ? _mm256_srli_epi16(x, 4) : x, _mm256_set1_epi8(0x0f));
  }
  __m256i sc(int j) const {
    return _mm256_set1_epi16(static_cast<int16_t>((scales >> (8 * j)) & 0xff));
  }
};

struct Q4K {
  static constexpr int kBytes = 144;
  struct State : K4Common {
    explicit State(const uint8_t* blk) : K4Common(blk, blk + 16) {}
    __m256i w(int j) const { return nibbles(j); }
  };
};

// Q5_K: qh[32] at 16, qs at 48; element 32j + l takes bit j of qh[l], worth 16.
struct Q5K {
  static constexpr int kBytes = 176;
  struct State : K4Common {
    __m256i qh;
    explicit State(const uint8_t* blk) : K4Common(blk, blk + 48), qh(load256(blk + 16)) {}
    __m256i w(int j) const {
      const __m256i bit = _mm256_and_si256(_mm256_srli_epi16(qh, j), _mm256_set1_epi8(1));
      return _mm256_or_si256(nibbles(j), _mm256_slli_epi16(bit, 4));
    }
  };
};

}  // namespace

KquantTile q4q5_tile_avx2(DType weight) {
  switch (weight) {
    case DType::Q4_K:
      return &kq256::tile<Q4K>;
    case DType::Q5_K:
      return &kq256::tile<Q5K>;
    default:
      return nullptr;
  }
}

}  // namespace latent::kernels::cpu
