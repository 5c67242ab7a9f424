// AVX-512 VNNI kernels for row-interleaved (packed.h) Q4_0 and Q8_0 weights against Q8_0
// activations, and Q4_K against Q8_K. Int32 lane r of every vector belongs to weight row r of the
// 16-row group, so a block's eight VPDPBUSDs (each: 4 bytes of every row × the same 4 activation
// bytes, broadcast) leave each row's integer block dot in its own lane: no horizontal sums, one
// int→float conversion and one FMA per block per activation row. A group-block's weights are
// unpacked once and reused by every activation row of the tile. Each (row, activation row) result
// is computed by
// the same operations in the same order whatever the tile shape, so matmul stays batch invariant.
// GCC 12 flags _mm512_undefined_*() inside its own intrinsic headers (false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/cpu/packed.h"
#include "kernels/cpu/packed_tiles.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

constexpr int64_t kActBytes = sizeof(BlockQ8_0);

__m512i bcast_u32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

// One group × NC activation rows. Why one group and not two sharing each broadcast activation
// word: two groups read two weight streams 16 rows apart, and measured on this machine the
// hardware prefetcher then keeps each core at ~60% of the read bandwidth in decode (one stream:
// ~90%); with many activation rows, where the tile is compute-bound, one group was no slower.
template <bool kQ4, int NC>
void tile_nc(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
             const void* info_v, int64_t info_stride, float* out, int64_t out_stride, int n_rows) {
  const auto* info = static_cast<const ActBlockInfo*>(info_v);
  static_assert(NC <= 8);
  constexpr int64_t kChunk = kPackRows * (2 + (kQ4 ? kQK / 2 : kQK));
  const int64_t nb = n / kQK;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    // With several activation rows the tile computes long enough per block that the hardware
    // prefetcher falls behind; fetching 8 blocks ahead measured ~5% off a batch-8 decode step
    // (and slowed the memory-bound single row, which is left to the hardware).
    if constexpr (NC >= 4)
      for (int64_t l = 0; l < kChunk; l += 64)
        _mm_prefetch(reinterpret_cast<const char*>(ch + 8 * kChunk + l), _MM_HINT_T0);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ch)));
    // u[v], lane r: row r's elements 4v..4v+3 (unsigned).
    __m512i u[8];
    const uint8_t* q = ch + 2 * kPackRows;
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
      for (int v = 0; v < 8; v += 2) {
        s0 = _mm512_dpbusd_epi32(s0, u[v], bcast_u32(a + 4 * v));
        s1 = _mm512_dpbusd_epi32(s1, u[v + 1], bcast_u32(a + 4 * v + 4));
      }
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(inf.d));
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), scale, acc[c]);
    }
  }
  const __mmask16 keep = static_cast<__mmask16>((1u << n_rows) - 1);
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(out + c * out_stride, keep, acc[c]);
}

// Q4_K: per super-block, the four 64-element halves h (groups 2h, 2h+1) are unpacked once and
// reused by every activation row; a group's integer dot is scaled by its 6-bit scale in the lane
// (VPMULLD) and summed exactly over the super-block, the mins enter through VPDPWSSD against the
// group sums, and one FMA per term applies d·d_a and dmin·d_a.
template <int NC>
void tile_q4k_nc(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
                 const void* info_v, int64_t info_stride, float* out, int64_t out_stride,
                 int n_rows) {
  const auto* info = static_cast<const ActSuperInfo*>(info_v);
  static_assert(NC <= 4);
  constexpr int64_t kChunk = kPackRows * (4 + 16 + kQK_K / 2);
  constexpr int64_t kSc = 4 * kPackRows, kMin = 12 * kPackRows, kQ = 20 * kPackRows;
  constexpr int64_t kAct = sizeof(BlockQ8_K);
  const int64_t nb = n / kQK_K;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    __m512i isum[NC];
    for (int c = 0; c < NC; ++c) isum[c] = _mm512_setzero_si512();
    for (int h = 0; h < 4; ++h) {
      const __m512i sc0 = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(ch + kSc + (2 * h) * kPackRows)));
      const __m512i sc1 = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(ch + kSc + (2 * h + 1) * kPackRows)));
      __m512i u[16];
      for (int t = 0; t < 8; ++t) {
        const __m512i raw = _mm512_loadu_si512(ch + kQ + (8 * h + t) * 64);
        u[t] = _mm512_and_si512(raw, m4);
        u[8 + t] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
      }
      for (int c = 0; c < NC; ++c) {
        const uint8_t* a = act + c * act_stride + b * kAct + 4 + 64 * h;
        __m512i d0 = _mm512_setzero_si512(), d1 = _mm512_setzero_si512();
        if constexpr (NC <= 2) {
          // Few activation rows leave the VPDPBUSD chains' latency exposed: four chains instead
          // of two (integer sums, so the split changes no result).
          __m512i e0 = _mm512_setzero_si512(), e1 = _mm512_setzero_si512();
          for (int t = 0; t < 4; ++t) {
            d0 = _mm512_dpbusd_epi32(d0, u[t], bcast_u32(a + 4 * t));
            e0 = _mm512_dpbusd_epi32(e0, u[4 + t], bcast_u32(a + 16 + 4 * t));
            d1 = _mm512_dpbusd_epi32(d1, u[8 + t], bcast_u32(a + 32 + 4 * t));
            e1 = _mm512_dpbusd_epi32(e1, u[12 + t], bcast_u32(a + 48 + 4 * t));
          }
          d0 = _mm512_add_epi32(d0, e0);
          d1 = _mm512_add_epi32(d1, e1);
        } else {
          for (int t = 0; t < 8; ++t) {
            d0 = _mm512_dpbusd_epi32(d0, u[t], bcast_u32(a + 4 * t));
            d1 = _mm512_dpbusd_epi32(d1, u[8 + t], bcast_u32(a + 32 + 4 * t));
          }
        }
        isum[c] = _mm512_add_epi32(
            isum[c], _mm512_add_epi32(_mm512_mullo_epi32(d0, sc0), _mm512_mullo_epi32(d1, sc1)));
      }
    }
    __m512i mp[4];  // lane r: m_{2p} | m_{2p+1} << 16
    for (int p = 0; p < 4; ++p) {
      const __m512i lo = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(ch + kMin + (2 * p) * kPackRows)));
      const __m512i hi = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(ch + kMin + (2 * p + 1) * kPackRows)));
      mp[p] = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ch)));
    const __m512 dm =
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ch + 2 * kPackRows)));
    for (int c = 0; c < NC; ++c) {
      const ActSuperInfo& inf = info[c * info_stride + b];
      __m512i ms = _mm512_setzero_si512();
      for (int p = 0; p < 4; ++p) ms = _mm512_dpwssd_epi32(ms, mp[p], _mm512_set1_epi32(inf.bs[p]));
      const __m512 da = _mm512_set1_ps(inf.d);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(dw, da), acc[c]);
      acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(dm, da), acc[c]);
    }
  }
  const __mmask16 keep = static_cast<__mmask16>((1u << n_rows) - 1);
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(out + c * out_stride, keep, acc[c]);
}

// Q6_K: per 16-element sub-block j the four 4-byte words of each row are rebuilt as unsigned
// 6-bit values (low nibble from ql, top two bits from qh, as ggml lays them out), their VPDPBUSDs
// with the activation bytes summed exactly, and scaled by the row's int8 scale in the lane
// (VPMULLD). The −32 offset of every value enters once per super-block as 32·Σ_j s_j·bsum_j
// (VPDPWSSD of the scale pairs against the Q8_K block's 16-element sums). Exact in int32: |Σ| ≤
// 16·(16·63·128·128 + 32·128·2048). One FMA per super-block applies d·d_a.
template <int NC>
void tile_q6k_nc(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
                 const void* /*info: the Q8_K blocks hold what it needs*/, int64_t /*info_stride*/,
                 float* out, int64_t out_stride, int n_rows) {
  static_assert(NC <= 8);
  constexpr int64_t kChunk = kPackRows * static_cast<int64_t>(sizeof(BlockQ6_K));
  constexpr int64_t kAct = sizeof(BlockQ8_K);
  const int64_t nb = n / kQK_K;
  const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    // A sub-block's words sit in three regions of the chunk, visited back and forth, which the
    // hardware prefetcher does not follow: fetch the chunk after next explicitly (decode streamed
    // at ~0.45 of the read bandwidth without this, ~0.9 with; one chunk ahead or four: less).
    for (int64_t l = 0; l < kChunk; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ch + 2 * kChunk + l), _MM_HINT_T0);
    __m512i isum[NC];
    for (int c = 0; c < NC; ++c) isum[c] = _mm512_setzero_si512();
    for (int j = 0; j < kQK_K / 16; ++j) {
      // Sub-block j: elements 128h + 32q + 16i .. +15 for h = j/8, q = (j%8)/2, i = j%2; word t of
      // the four (t = 4i..4i+3) is ql word 16h + 8(q%2) + t (nibble q/2) and qh word 8h + t
      // (bits 2q, 2q+1).
      const int h = j / 8, q = j % 8 / 2, i = j % 2;
      __m512i u[4];
      for (int t = 0; t < 4; ++t) {
        const int64_t tw = 4 * i + t;
        const __m512i lo = _mm512_loadu_si512(ch + kQ6KLow + (16 * h + 8 * (q % 2) + tw) * 64);
        const __m512i hi = _mm512_loadu_si512(ch + kQ6KHigh + (8 * h + tw) * 64);
        const __m512i nib = _mm512_and_si512(q < 2 ? lo : _mm512_srli_epi16(lo, 4), m4);
        // bits 2q, 2q+1 of each qh byte moved to bits 4, 5
        const __m512i top = q == 0   ? _mm512_slli_epi16(hi, 4)
                            : q == 1 ? _mm512_slli_epi16(hi, 2)
                            : q == 2 ? hi
                                     : _mm512_srli_epi16(hi, 2);
        u[t] = _mm512_or_si512(nib, _mm512_and_si512(top, m30));
      }
      const __m512i sc = _mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(ch + kQ6KScales + j * kPackRows)));
      const int64_t e0 = 128 * h + 32 * q + 16 * i;
      for (int c = 0; c < NC; ++c) {
        const uint8_t* a = act + c * act_stride + b * kAct + 4 + e0;
        __m512i d = _mm512_setzero_si512();
        for (int t = 0; t < 4; ++t) d = _mm512_dpbusd_epi32(d, u[t], bcast_u32(a + 4 * t));
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(d, sc));
      }
    }
    // sp[p], lane r: s_{2p} | s_{2p+1} << 16 (int16 pairs for VPDPWSSD)
    __m512i sp[8];
    for (int p = 0; p < 8; ++p) {
      const __m512i s0 = _mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(ch + kQ6KScales + 2 * p * kPackRows)));
      const __m512i s1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(
          reinterpret_cast<const __m128i*>(ch + kQ6KScales + (2 * p + 1) * kPackRows)));
      sp[p] = _mm512_or_si512(_mm512_and_si512(s0, _mm512_set1_epi32(0xFFFF)),
                              _mm512_slli_epi32(s1, 16));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ch)));
    for (int c = 0; c < NC; ++c) {
      const uint8_t* blk = act + c * act_stride + b * kAct;
      const uint8_t* bsums = blk + 4 + kQK_K;  // int16[16]
      __m512i off = _mm512_setzero_si512();
      for (int p = 0; p < 8; ++p) off = _mm512_dpwssd_epi32(off, sp[p], bcast_u32(bsums + 4 * p));
      float da;
      std::memcpy(&da, blk, sizeof da);
      const __m512i total = _mm512_sub_epi32(isum[c], _mm512_slli_epi32(off, 5));
      acc[c] =
          _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc[c]);
    }
  }
  const __mmask16 keep = static_cast<__mmask16>((1u << n_rows) - 1);
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(out + c * out_stride, keep, acc[c]);
}

// Each kernel family's instantiations by activation-row count: K::fn<NC>.
struct Q4_0Tiles {
  template <int NC>
  static constexpr PackedTileNc fn = tile_nc<true, NC>;
};
struct Q8_0Tiles {
  template <int NC>
  static constexpr PackedTileNc fn = tile_nc<false, NC>;
};
struct Q4_KTiles {
  template <int NC>
  static constexpr PackedTileNc fn = tile_q4k_nc<NC>;
};
struct Q6_KTiles {
  template <int NC>
  static constexpr PackedTileNc fn = tile_q6k_nc<NC>;
};

static_assert(kPackRows == 16);

}  // namespace

const PackedKernelSet& packed_kernels_avx512() {
  static const PackedKernelSet set{{DType::Q8_0, 8, 8, packed_tile<Q4_0Tiles, 8>},
                                   {DType::Q8_0, 128, 8, packed_tile<Q8_0Tiles, 8>},
                                   {DType::Q8_K, 0, 4, packed_tile<Q4_KTiles, 4>},
                                   {DType::Q8_K, 0, 8, packed_tile<Q6_KTiles, 8>}};
  return set;
}

}  // namespace latent::kernels::cpu
