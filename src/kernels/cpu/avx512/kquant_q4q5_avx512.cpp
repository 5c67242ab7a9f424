// AVX-512 (VNNI) tiles for Q4_K and Q5_K weights against Q8_K activations: 8 groups of 32 with a
// 6-bit scale and min each. Chunk 2h is the low nibbles of qs[64h..64h+64) (groups 4h and 4h+2),
// chunk 2h+1 the high nibbles (groups 4h+1, 4h+3), so one load and one shift unpack 128 weights;
// the activations are regrouped to match. The min term uses the Q8_K bsums (two per group).
#include "kernels/cpu/avx512/kquant_tile_avx512.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {
namespace {

using namespace kq512;

// Scales and mins of the 8 groups (k4_scale_min, eight at a time): bytes 0..3 hold sc[0..3] and the
// top bits of sc[4..7]; bytes 4..7 the same for the mins; bytes 8..11 the low nibbles of
// sc/min 4..7.
struct ScalesMins {
  uint64_t sc, mn;
};
inline ScalesMins unpack_scales(const uint8_t* p) {
  const uint32_t w0 = load_u32(p), w1 = load_u32(p + 4), w2 = load_u32(p + 8);
  const uint32_t sc_hi = (w2 & 0x0f0f0f0f) | ((w0 >> 2) & 0x30303030);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0f) | ((w1 >> 2) & 0x30303030);
  return {(w0 & 0x3f3f3f3f) | uint64_t{sc_hi} << 32, (w1 & 0x3f3f3f3f) | uint64_t{mn_hi} << 32};
}

// Shared by Q4_K and Q5_K: d, dmin, the 12 scale bytes at offset 4, and 128 nibble bytes at qs.
struct K4Common {
  __m512i w[4], sc[4];
  __m512 mf;
  float d;
  K4Common(const uint8_t* blk, const uint8_t* qs) {
    d = load_f16(blk);
    const float dmin = load_f16(blk + 2);
    const ScalesMins sm = unpack_scales(blk + 4);
    const __m512i sc16 = _mm512_castsi256_si512(
        _mm256_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(sm.sc))));
    for (int j = 0; j < 4; ++j)
      sc[j] = _mm512_permutexvar_epi16(scale_index(4 * (j / 2) + j % 2, 16, 2), sc16);
    const __m128i m = _mm_cvtsi64_si128(static_cast<long long>(sm.mn));
    const __m512i m32 = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(m, m));  // lane i: min of group i/2
    mf = _mm512_mul_ps(_mm512_cvtepi32_ps(m32), _mm512_set1_ps(dmin));
    const __m512i lo4 = _mm512_set1_epi8(0x0f);
    for (int h = 0; h < 2; ++h) {
      const __m512i x = _mm512_loadu_si512(qs + 64 * h);
      w[2 * h] = _mm512_and_si512(x, lo4);
      w[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(x, 4), lo4);
    }
  }
  // Activations of chunk j: elements 128(j/2) + 32(j%2) + [0, 32) and + [64, 96).
  static __m512i act(const uint8_t* aq, int j) {
    const __m512i a0 = _mm512_loadu_si512(aq + 128 * (j / 2));
    const __m512i a1 = _mm512_loadu_si512(aq + 128 * (j / 2) + 64);
    return j % 2 ? _mm512_shuffle_i64x2(a0, a1, 0xee) : _mm512_shuffle_i64x2(a0, a1, 0x44);
  }
};

struct Q4K {
  static constexpr int kBytes = 144;
  static __m512i act(const uint8_t* aq, int j) { return K4Common::act(aq, j); }
  struct State : K4Common {
    explicit State(const uint8_t* blk) : K4Common(blk, blk + 16) {}
  };
};

// Q5_K: qh[32] at 16, qs at 48. Element 32g + l takes bit g of qh[l], worth 16; chunk j holds
// groups g0 = 4(j/2) + j%2 and g0 + 2.
struct Q5K {
  static constexpr int kBytes = 176;
  static __m512i act(const uint8_t* aq, int j) { return K4Common::act(aq, j); }
  struct State : K4Common {
    explicit State(const uint8_t* blk) : K4Common(blk, blk + 48) {
      const __m512i qh =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
      const __m512i sixteen = _mm512_set1_epi8(16);
      for (int j = 0; j < 4; ++j) {
        const int g0 = 4 * (j / 2) + j % 2;
        const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << g0)),
                                               _mm256_set1_epi8(static_cast<char>(4 << g0)), 1);
        w[j] = _mm512_mask_add_epi8(w[j], _mm512_test_epi8_mask(qh, bit), w[j], sixteen);
      }
    }
  };
};

}  // namespace

KquantTile q4q5_tile_avx512(DType weight) {
  switch (weight) {
    case DType::Q4_K:
      return &kq512::tile<Q4K>;
    case DType::Q5_K:
      return &kq512::tile<Q5K>;
    default:
      return nullptr;
  }
}

}  // namespace latent::kernels::cpu
