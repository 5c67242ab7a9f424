// AVX-512 VNNI kernels for row-interleaved (packed.h) Q4_0 and Q8_0 weights against Q8_0
// activations. Int32 lane r of every vector belongs to weight row r of the 16-row group, so a
// block's eight VPDPBUSDs (each: 4 bytes of every row × the same 4 activation bytes, broadcast)
// leave each row's integer block dot in its own lane: no horizontal sums, one int→float conversion
// and one FMA per block per activation row. A group-block's weights are unpacked once and reused by
// every activation row of the tile. Each (row, activation row) result is computed by the same
// operations in the same order whatever the tile width, so matmul stays batch invariant.
// GCC 12 flags _mm512_undefined_*() inside its own intrinsic headers (false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "kernels/cpu/packed.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

constexpr int64_t kActBytes = sizeof(BlockQ8_0);

__m512i bcast_u32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

template <bool kQ4, int NC>
void tile_nc(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
             const ActBlockInfo* info, int64_t info_stride, float* out, int64_t out_stride,
             int n_rows) {
  constexpr int64_t kChunk = kPackRows * (2 + (kQ4 ? kQK / 2 : kQK));
  const int64_t nb = n / kQK;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ch)));
    const uint8_t* q = ch + 2 * kPackRows;
    // u[v], lane r: row r's elements 4v..4v+3 (unsigned).
    __m512i u[8];
    if constexpr (kQ4) {
      for (int j = 0; j < 4; ++j) {
        const __m512i raw = _mm512_loadu_si512(q + 64 * j);
        u[j] = _mm512_and_si512(raw, m4);
        u[j + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
      }
    } else {
      for (int j = 0; j < 8; ++j) u[j] = _mm512_loadu_si512(q + 64 * j);
    }
    for (int c = 0; c < NC; ++c) {
      const uint8_t* a = act + c * act_stride + b * kActBytes + 2;
      const ActBlockInfo inf = info[c * info_stride + b];
      // Two chains of four: the integer sum is exact, so the split changes nothing.
      __m512i s0 = _mm512_set1_epi32(inf.bias), s1 = _mm512_setzero_si512();
      s0 = _mm512_dpbusd_epi32(s0, u[0], bcast_u32(a));
      s1 = _mm512_dpbusd_epi32(s1, u[1], bcast_u32(a + 4));
      s0 = _mm512_dpbusd_epi32(s0, u[2], bcast_u32(a + 8));
      s1 = _mm512_dpbusd_epi32(s1, u[3], bcast_u32(a + 12));
      s0 = _mm512_dpbusd_epi32(s0, u[4], bcast_u32(a + 16));
      s1 = _mm512_dpbusd_epi32(s1, u[5], bcast_u32(a + 20));
      s0 = _mm512_dpbusd_epi32(s0, u[6], bcast_u32(a + 24));
      s1 = _mm512_dpbusd_epi32(s1, u[7], bcast_u32(a + 28));
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(inf.d));
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), scale, acc[c]);
    }
  }
  const __mmask16 keep = static_cast<__mmask16>((1u << n_rows) - 1);
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(out + c * out_stride, keep, acc[c]);
}

template <bool kQ4>
void tile(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
          const ActBlockInfo* info, int64_t info_stride, int n_cols, float* out,
          int64_t out_stride, int n_rows) {
  switch (n_cols) {
#define LATENT_CASE(NC)                                                                           \
  case NC:                                                                                        \
    return tile_nc<kQ4, NC>(n, w, act, act_stride, info, info_stride, out, out_stride, n_rows);
    LATENT_CASE(1)
    LATENT_CASE(2)
    LATENT_CASE(3)
    LATENT_CASE(4)
    LATENT_CASE(5)
    LATENT_CASE(6)
    LATENT_CASE(7)
    default:
      return tile_nc<kQ4, 8>(n, w, act, act_stride, info, info_stride, out, out_stride, n_rows);
#undef LATENT_CASE
  }
}

static_assert(kPackCols == 8 && kPackRows == 16);

const PackedKernel kQ4_0{8, tile<true>};
const PackedKernel kQ8_0{128, tile<false>};

}  // namespace

const PackedKernel* packed_kernel_avx512(DType weight) {
  switch (weight) {
    case DType::Q4_0:
      return &kQ4_0;
    case DType::Q8_0:
      return &kQ8_0;
    default:
      return nullptr;
  }
}

}  // namespace latent::kernels::cpu
