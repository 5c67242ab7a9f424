// AVX2 kernels for row-interleaved (packed.h) Q4_0 and Q8_0 weights against Q8_0 activations, and
// Q4_K and Q6_K against Q8_K: the same layout the AVX-512 kernels read, so weights are repacked
// once whatever the ISA. Int32 lane r of a 256-bit vector belongs to weight row r of one half (8
// rows) of a 16-row group; each activation word (4 bytes) is broadcast to all lanes, so a row's
// integer dot stays in its lane with no horizontal sum. Without VNNI, VPMADDUBSW multiplies the
// unsigned weight bytes by the signed activation bytes into int16 pairs and VPMADDWD widens them
// (against ones, or against the row's int16 scale, which also applies it). The int16 partial sums
// are kept in range by construction (bounds at each use), so every integer is exact and equals the
// AVX-512 kernel's; the float steps are the same too (one cvt and one FMA per block and row),
// which makes the two ISAs' results bitwise equal and every result independent of the tile shape
// (batch invariance). A half's weights are unpacked once per block and reused by every
// activation row of the tile.
#include <immintrin.h>

#include <array>
#include <cstring>
#include <utility>

#include "kernels/cpu/packed.h"
#include "kernels/cpu/packed_tiles.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

constexpr int kHalf = 8;  // rows per 256-bit vector of int32 lanes
static_assert(kPackRows == 2 * kHalf);

__m256i bcast_u32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}
__m256i load256(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
// Eight rows' fp16 scales (16 bytes) as f32.
__m256 load_f16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__m128i load64(const uint8_t* p) {
  return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
}
// Lane r: a[r] | b[r] << 16 for two rows of 8 bytes, unsigned or signed into 16 bits (bytes
// interleaved, then widened: one shuffle and one extension, no mask register).
__m256i pair16_u8(const uint8_t* a, const uint8_t* b) {
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(load64(a), load64(b)));
}
__m256i pair16_i8(const uint8_t* a, const uint8_t* b) {
  return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(load64(a), load64(b)));
}
// Eight rows' byte scales as int32 lanes holding the scale in both 16-bit halves (VPMADDWD's
// second operand: s_lo·sc + s_hi·sc).
// (Each byte doubled by a shuffle: GCC 12 sent the x of VPUNPCKLBW x, x through the stack.)
__m128i double_bytes(const uint8_t* p) {
  return _mm_shuffle_epi8(load64(p), _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
}
__m256i scale_pairs_u8(const uint8_t* p) {
  return _mm256_cvtepu8_epi16(double_bytes(p));
}
__m256i scale_pairs_i8(const uint8_t* p) {
  return _mm256_cvtepi8_epi16(double_bytes(p));
}

// The value as computed here, kept in a register: an empty asm the compiler cannot move
// arithmetic across, which fixes the order of an accumulation it would otherwise reschedule.
__m256i pin(__m256i v) {
  asm("" : "+x"(v));
  return v;
}

// Weight chunks to fetch ahead: about 2.3 KB. Measured on two Zen 3 cores (TinyLlama decode, 2
// threads): the hardware prefetcher alone kept Q4_0 at ~0.65 of the read bandwidth and Q8_0 at
// ~0.65; 8 Q4_0 / 4 Q8_0 chunks ahead 0.75–0.8 (+10–20% t/s); twice as far gained nothing.
constexpr int64_t prefetch_chunks(int64_t chunk) {
  return (2304 + chunk - 1) / chunk;
}

template <int NC>
void store_rows(const __m256 (&acc)[2][NC], float* out, int64_t out_stride, int n_rows) {
  for (int c = 0; c < NC; ++c) {
    float* o = out + c * out_stride;
    if (n_rows == kPackRows) {
      _mm256_storeu_ps(o, acc[0][c]);
      _mm256_storeu_ps(o + kHalf, acc[1][c]);
    } else {
      alignas(32) float tmp[kPackRows];
      _mm256_store_ps(tmp, acc[0][c]);
      _mm256_store_ps(tmp + kHalf, acc[1][c]);
      std::memcpy(o, tmp, sizeof(float) * static_cast<size_t>(n_rows));
    }
  }
}

// Q4_0 (kQ4) and Q8_0 × Q8_0 activations, NC activation rows.
// Q4_0: a VPMADDUBSW pair is at most 2·15·127 = 3810, so the eight words of a block sum in int16
// (≤ 30480) before one VPMADDWD. Q8_0 is stored as q + 128, which VPMADDUBSW would overflow; the
// sign trick (|q| against a·sign(q), pairs ≤ 2·128·127) restores q and the kernel's offset is 0.
template <bool kQ4, int NC>
void tile_legacy(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
                 const void* info_v, int64_t info_stride, float* out, int64_t out_stride,
                 int n_rows) {
  const auto* info = static_cast<const ActBlockInfo*>(info_v);
  constexpr int64_t kChunk = kPackRows * (2 + (kQ4 ? kQK / 2 : kQK));
  constexpr int64_t kActBytes = sizeof(BlockQ8_0);
  const int64_t nb = n / kQK;
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[2][NC];
  for (auto& half : acc)
    for (auto& a : half) a = _mm256_setzero_ps();
  // Both halves per activation word: each broadcast serves 16 rows (with one half at a time the
  // broadcasts were kept for the second half and spilled). The int16 sums are pinned in order:
  // unpinned, GCC spilled the products of 4 activation rows (llvm-mca, Zen 3: 98 → 66 cycles per
  // block; Q4_0 M=512 one thread 139 → 79 ms, best of 3 alternating runs).
  constexpr int64_t kAhead = prefetch_chunks(kChunk);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    for (int64_t l = 0; l < kChunk; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ch + kAhead * kChunk + l), _MM_HINT_T0);
    const uint8_t* q = ch + 2 * kPackRows;
    __m256i s[2][NC];
    if constexpr (kQ4) {
      __m256i s16[2][NC];
      for (auto& half : s16)
        for (auto& v : half) v = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        __m256i lo[2], hi[2];
        for (int hf = 0; hf < 2; ++hf) {
          const __m256i raw = load256(q + 64 * j + 32 * hf);
          lo[hf] = _mm256_and_si256(raw, m4);
          hi[hf] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
        }
        for (int c = 0; c < NC; ++c) {
          const uint8_t* a = act + c * act_stride + b * kActBytes + 2;
          const __m256i al = bcast_u32(a + 4 * j), ah = bcast_u32(a + 16 + 4 * j);
          for (int hf = 0; hf < 2; ++hf) {
            s16[hf][c] = pin(_mm256_add_epi16(s16[hf][c], _mm256_maddubs_epi16(lo[hf], al)));
            s16[hf][c] = pin(_mm256_add_epi16(s16[hf][c], _mm256_maddubs_epi16(hi[hf], ah)));
          }
        }
      }
      for (int hf = 0; hf < 2; ++hf)
        for (int c = 0; c < NC; ++c) s[hf][c] = _mm256_madd_epi16(s16[hf][c], ones);
    } else {
      for (auto& half : s)
        for (auto& v : half) v = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        __m256i qv[2], mag[2];
        for (int hf = 0; hf < 2; ++hf) {
          qv[hf] = _mm256_xor_si256(load256(q + 64 * j + 32 * hf), flip);
          mag[hf] = _mm256_abs_epi8(qv[hf]);
        }
        for (int c = 0; c < NC; ++c) {
          const __m256i av = bcast_u32(act + c * act_stride + b * kActBytes + 2 + 4 * j);
          for (int hf = 0; hf < 2; ++hf) {
            const __m256i p = _mm256_maddubs_epi16(mag[hf], _mm256_sign_epi8(av, qv[hf]));
            s[hf][c] = _mm256_add_epi32(s[hf][c], _mm256_madd_epi16(p, ones));
            if constexpr (NC == 1) s[hf][c] = pin(s[hf][c]);  // with 4 rows pinned is slower
          }
        }
      }
    }
    for (int hf = 0; hf < 2; ++hf) {
      const __m256 dw = load_f16x8(ch + 2 * kHalf * hf);
      for (int c = 0; c < NC; ++c) {
        const ActBlockInfo inf = info[c * info_stride + b];
        const __m256i total = _mm256_add_epi32(s[hf][c], _mm256_set1_epi32(inf.bias));
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(inf.d));
        acc[hf][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), scale, acc[hf][c]);
      }
    }
  }
  store_rows<NC>(acc, out, out_stride, n_rows);
}

// Q4_K × Q8_K: per 64-element half h of a super-block, a group's eight VPMADDUBSW pairs sum in
// int16 (≤ 8·2·15·127 = 30480) and one VPMADDWD against the rows' 6-bit scales widens and scales
// them; the mins enter through VPMADDWD of the min pairs against the activation's group sums.
constexpr int64_t kQ4KChunk = kPackRows * (4 + 16 + kQK_K / 2);
constexpr int64_t kQ4KSc = 4 * kPackRows, kQ4KMin = 12 * kPackRows, kQ4KQ = 20 * kPackRows;

// Group h's two scales of rows r0..r0+7, as VPMADDWD pairs.
void q4k_scales(const uint8_t* ch, int h, int64_t r0, __m256i& sc0, __m256i& sc1) {
  sc0 = scale_pairs_u8(ch + kQ4KSc + (2 * h) * kPackRows + r0);
  sc1 = scale_pairs_u8(ch + kQ4KSc + (2 * h + 1) * kPackRows + r0);
}

// acc += d·d_a·isum − dmin·d_a·Σ_g m_g·s_g for rows r0..r0+7 of super-block chunk ch, activation
// row info (its d and group sums).
__m256 q4k_finish(const uint8_t* ch, int64_t r0, const ActSuperInfo& inf, __m256i isum,
                  __m256 acc) {
  __m256i ms = _mm256_setzero_si256();
  for (int p = 0; p < 4; ++p) {  // lane r: m_{2p} | m_{2p+1} << 16
    const __m256i mp = pair16_u8(ch + kQ4KMin + (2 * p) * kPackRows + r0,
                                 ch + kQ4KMin + (2 * p + 1) * kPackRows + r0);
    ms = _mm256_add_epi32(ms, _mm256_madd_epi16(mp, _mm256_set1_epi32(inf.bs[p])));
  }
  const __m256 da = _mm256_set1_ps(inf.d);
  const __m256 dw = load_f16x8(ch + 2 * r0), dm = load_f16x8(ch + 2 * kPackRows + 2 * r0);
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, da), acc);
  return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_mul_ps(dm, da), acc);
}

// NC activation rows, one half (8 rows) at a time: the int16 sums of both halves would not fit
// the 16 registers.
template <int NC>
void tile_q4k(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
              const void* info_v, int64_t info_stride, float* out, int64_t out_stride, int n_rows) {
  const auto* info = static_cast<const ActSuperInfo*>(info_v);
  constexpr int64_t kAct = sizeof(BlockQ8_K);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[2][NC];
  for (auto& half : acc)
    for (auto& a : half) a = _mm256_setzero_ps();
  constexpr int64_t kAhead = prefetch_chunks(kQ4KChunk);  // one chunk (Q4_K_M decode +6%)
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kQ4KChunk;
    for (int64_t l = 0; l < kQ4KChunk; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ch + kAhead * kQ4KChunk + l), _MM_HINT_T0);
    for (int hf = 0; hf < 2; ++hf) {
      const int64_t r0 = kHalf * hf;
      __m256i isum[NC];
      for (int c = 0; c < NC; ++c) isum[c] = _mm256_setzero_si256();
      for (int h = 0; h < 4; ++h) {
        __m256i s_lo[NC], s_hi[NC];
        for (int c = 0; c < NC; ++c) s_lo[c] = s_hi[c] = _mm256_setzero_si256();
        for (int t = 0; t < 8; ++t) {
          const __m256i raw = load256(ch + kQ4KQ + (8 * h + t) * 64 + 4 * r0);
          const __m256i lo = _mm256_and_si256(raw, m4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
          for (int c = 0; c < NC; ++c) {
            const uint8_t* a = act + c * act_stride + b * kAct + 4 + 64 * h;
            s_lo[c] = _mm256_add_epi16(s_lo[c], _mm256_maddubs_epi16(lo, bcast_u32(a + 4 * t)));
            s_hi[c] =
                _mm256_add_epi16(s_hi[c], _mm256_maddubs_epi16(hi, bcast_u32(a + 32 + 4 * t)));
          }
        }
        __m256i sc0, sc1;
        q4k_scales(ch, h, r0, sc0, sc1);
        for (int c = 0; c < NC; ++c)
          isum[c] = _mm256_add_epi32(isum[c], _mm256_add_epi32(_mm256_madd_epi16(s_lo[c], sc0),
                                                               _mm256_madd_epi16(s_hi[c], sc1)));
      }
      for (int c = 0; c < NC; ++c)
        acc[hf][c] = q4k_finish(ch, r0, info[c * info_stride + b], isum[c], acc[hf][c]);
    }
  }
  store_rows<NC>(acc, out, out_stride, n_rows);
}

// One activation row (decode): both halves per pass, so each broadcast serves 16 rows, with the
// int16 sums pinned in order: GCC otherwise hoisted all 32 products of a group ahead of their sums
// and spilled them (llvm-mca, Zen 3: 51 → 39 cycles per group). 5632 × 2048, one thread, best of
// 6 alternating runs: cache-resident 0.31 → 0.20 ms; from DRAM (BM_MatmulPreparedDram) 10.8 →
// 12.7 GB/s.
void tile_q4k_one(int64_t n, const uint8_t* w, const uint8_t* act, int64_t /*act_stride*/,
                  const void* info_v, int64_t /*info_stride*/, float* out, int64_t /*out_stride*/,
                  int n_rows) {
  const auto* info = static_cast<const ActSuperInfo*>(info_v);
  constexpr int64_t kAct = sizeof(BlockQ8_K);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[2][1] = {{_mm256_setzero_ps()}, {_mm256_setzero_ps()}};
  constexpr int64_t kAhead = prefetch_chunks(kQ4KChunk);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kQ4KChunk;
    for (int64_t l = 0; l < kQ4KChunk; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ch + kAhead * kQ4KChunk + l), _MM_HINT_T0);
    __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int h = 0; h < 4; ++h) {
      const uint8_t* a = act + b * kAct + 4 + 64 * h;
      __m256i s_lo[2], s_hi[2];
      for (int hf = 0; hf < 2; ++hf) s_lo[hf] = s_hi[hf] = _mm256_setzero_si256();
      for (int t = 0; t < 8; ++t) {
        const __m256i al = bcast_u32(a + 4 * t), ah = bcast_u32(a + 32 + 4 * t);
        for (int hf = 0; hf < 2; ++hf) {
          const __m256i raw = load256(ch + kQ4KQ + (8 * h + t) * 64 + 4 * kHalf * hf);
          const __m256i lo = _mm256_and_si256(raw, m4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
          s_lo[hf] = pin(_mm256_add_epi16(s_lo[hf], _mm256_maddubs_epi16(lo, al)));
          s_hi[hf] = pin(_mm256_add_epi16(s_hi[hf], _mm256_maddubs_epi16(hi, ah)));
        }
      }
      for (int hf = 0; hf < 2; ++hf) {
        __m256i sc0, sc1;
        q4k_scales(ch, h, kHalf * hf, sc0, sc1);
        isum[hf] = _mm256_add_epi32(isum[hf], _mm256_add_epi32(_mm256_madd_epi16(s_lo[hf], sc0),
                                                               _mm256_madd_epi16(s_hi[hf], sc1)));
      }
    }
    for (int hf = 0; hf < 2; ++hf)
      acc[hf][0] = q4k_finish(ch, kHalf * hf, info[b], isum[hf], acc[hf][0]);
  }
  store_rows<1>(acc, out, 0, n_rows);
}

// Sub-block part q's 6-bit levels (0..63) from a word of low nibbles and one of top bit pairs.
template <int q>
__m256i q6k_levels(__m256i lo, __m256i hi, __m256i m4, __m256i m30) {
  __m256i nib, top;
  if constexpr (q < 2) {
    nib = _mm256_and_si256(lo, m4);
  } else {
    nib = _mm256_and_si256(_mm256_srli_epi16(lo, 4), m4);
  }
  if constexpr (q == 0) {
    top = _mm256_slli_epi16(hi, 4);
  } else if constexpr (q == 1) {
    top = _mm256_slli_epi16(hi, 2);
  } else if constexpr (q == 2) {
    top = hi;
  } else {
    top = _mm256_srli_epi16(hi, 2);
  }
  return _mm256_or_si256(nib, _mm256_and_si256(top, m30));
}

// acc += d·d_a·(isum − 32·Σ_j s_j·bsum_j) for rows r0..r0+7 of super-block chunk ch against
// the Q8_K block blk (d, then the quants, then the 16-element sums bsum_j).
__m256 q6k_finish(const uint8_t* ch, int64_t r0, const uint8_t* blk, __m256i isum, __m256 acc) {
  const uint8_t* bsums = blk + 4 + kQK_K;  // int16[16]
  __m256i off = _mm256_setzero_si256();
  for (int p = 0; p < 8; ++p) {  // lane r: s_{2p} | s_{2p+1} << 16, the rows' signed scales
    const __m256i sp = pair16_i8(ch + kQ6KScales + 2 * p * kPackRows + r0,
                                 ch + kQ6KScales + (2 * p + 1) * kPackRows + r0);
    off = _mm256_add_epi32(off, _mm256_madd_epi16(sp, bcast_u32(bsums + 4 * p)));
  }
  float da;
  std::memcpy(&da, blk, sizeof da);
  const __m256i total = _mm256_sub_epi32(isum, _mm256_slli_epi32(off, 5));
  const __m256 dw = load_f16x8(ch + 2 * r0);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc);
}

// Q6_K × Q8_K: a 16-element sub-block's four words are rebuilt as unsigned 6-bit levels (as the
// AVX-512 kernel does); two VPMADDUBSW pairs sum in int16 (≤ 2·2·63·127 = 32004) and VPMADDWD
// against the row's int8 scale widens and scales them. The −32 offset enters once per super-block
// as 32·Σ_j s_j·bsum_j.
template <int NC>
void tile_q6k(int64_t n, const uint8_t* w, const uint8_t* act, int64_t act_stride,
              const void* /*info: the Q8_K blocks hold what it needs*/, int64_t /*info_stride*/,
              float* out, int64_t out_stride, int n_rows) {
  constexpr int64_t kChunk = kPackRows * static_cast<int64_t>(sizeof(BlockQ6_K));
  constexpr int64_t kAct = sizeof(BlockQ8_K);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[2][NC];
  for (auto& half : acc)
    for (auto& a : half) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    // The words of a sub-block sit in three regions of the chunk, visited back and forth, which
    // the hardware prefetcher does not follow (as on AVX-512): fetch the chunk after next.
    for (int64_t l = 0; l < kChunk; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ch + 2 * kChunk + l), _MM_HINT_T0);
    for (int hf = 0; hf < 2; ++hf) {
      const int64_t r0 = kHalf * hf;
      __m256i isum[NC];
      for (int c = 0; c < NC; ++c) isum[c] = _mm256_setzero_si256();
      // Sub-block j as a compile-time constant: its word offsets and the shift of its bits are
      // then immediates (a run-time j cost ~30% of the single-row product). isum is pinned as in
      // tile_legacy (llvm-mca: 423 → 375 cycles per half super-block at 4 rows; M=64 34 → 25 ms).
      auto sub_block = [&]<int j>() {
        constexpr int h = j / 8, q = j % 8 / 2, i = j % 2;
        __m256i u[4];
        for (int t = 0; t < 4; ++t) {
          const int64_t tw = 4 * i + t;
          u[t] = q6k_levels<q>(load256(ch + kQ6KLow + (16 * h + 8 * (q % 2) + tw) * 64 + 4 * r0),
                               load256(ch + kQ6KHigh + (8 * h + tw) * 64 + 4 * r0), m4, m30);
        }
        const __m256i sc = scale_pairs_i8(ch + kQ6KScales + j * kPackRows + r0);
        constexpr int64_t e0 = 128 * h + 32 * q + 16 * i;
        for (int c = 0; c < NC; ++c) {
          const uint8_t* a = act + c * act_stride + b * kAct + 4 + e0;
          const __m256i p0 = _mm256_add_epi16(_mm256_maddubs_epi16(u[0], bcast_u32(a)),
                                              _mm256_maddubs_epi16(u[1], bcast_u32(a + 4)));
          const __m256i p1 = _mm256_add_epi16(_mm256_maddubs_epi16(u[2], bcast_u32(a + 8)),
                                              _mm256_maddubs_epi16(u[3], bcast_u32(a + 12)));
          isum[c] = pin(_mm256_add_epi32(
              isum[c], _mm256_add_epi32(_mm256_madd_epi16(p0, sc), _mm256_madd_epi16(p1, sc))));
        }
      };
      [&]<int... J>(std::integer_sequence<int, J...>) {
        (sub_block.template operator()<J>(), ...);
      }
      (std::make_integer_sequence<int, kQK_K / 16>{});
      for (int c = 0; c < NC; ++c)
        acc[hf][c] = q6k_finish(ch, r0, act + c * act_stride + b * kAct, isum[c], acc[hf][c]);
    }
  }
  store_rows<NC>(acc, out, out_stride, n_rows);
}

// One activation row (decode): both halves per sub-block, so each broadcast serves 16 rows, and
// each sub-block's sums pinned in order (in tile_q6k<1> GCC kept every broadcast of a super-block
// on the stack and spilled the products). llvm-mca, Zen 3: 338 → 311 cycles per super-block, now
// at the four vector pipes' limit; from DRAM, best of 6 alternating runs, 8.5 → 9.0 GB/s (1
// thread), 15.1 → 16.6 (2 threads).
void tile_q6k_one(int64_t n, const uint8_t* w, const uint8_t* act, int64_t /*act_stride*/,
                  const void* /*info*/, int64_t /*info_stride*/, float* out, int64_t /*out_stride*/,
                  int n_rows) {
  constexpr int64_t kChunk = kPackRows * static_cast<int64_t>(sizeof(BlockQ6_K));
  constexpr int64_t kAct = sizeof(BlockQ8_K);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[2][1] = {{_mm256_setzero_ps()}, {_mm256_setzero_ps()}};
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* ch = w + b * kChunk;
    for (int64_t l = 0; l < kChunk; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ch + 2 * kChunk + l), _MM_HINT_T0);
    const uint8_t* blk = act + b * kAct;
    __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    auto sub_block = [&]<int j>() {
      constexpr int h = j / 8, q = j % 8 / 2, i = j % 2;
      constexpr int64_t e0 = 128 * h + 32 * q + 16 * i;
      __m256i a[4];
      for (int t = 0; t < 4; ++t) a[t] = bcast_u32(blk + 4 + e0 + 4 * t);
      for (int hf = 0; hf < 2; ++hf) {
        const int64_t r0 = kHalf * hf;
        __m256i p[2];
        for (int t2 = 0; t2 < 2; ++t2) {
          __m256i u[2];
          for (int tt = 0; tt < 2; ++tt) {
            const int64_t tw = 4 * i + 2 * t2 + tt;
            u[tt] = q6k_levels<q>(load256(ch + kQ6KLow + (16 * h + 8 * (q % 2) + tw) * 64 + 4 * r0),
                                  load256(ch + kQ6KHigh + (8 * h + tw) * 64 + 4 * r0), m4, m30);
          }
          p[t2] = _mm256_add_epi16(_mm256_maddubs_epi16(u[0], a[2 * t2]),
                                   _mm256_maddubs_epi16(u[1], a[2 * t2 + 1]));
        }
        const __m256i sc = scale_pairs_i8(ch + kQ6KScales + j * kPackRows + r0);
        isum[hf] = pin(_mm256_add_epi32(
            isum[hf], _mm256_add_epi32(_mm256_madd_epi16(p[0], sc), _mm256_madd_epi16(p[1], sc))));
      }
    };
    [&]<int... J>(std::integer_sequence<int, J...>) {
      (sub_block.template operator()<J>(), ...);
    }
    (std::make_integer_sequence<int, kQK_K / 16>{});
    for (int hf = 0; hf < 2; ++hf)
      acc[hf][0] = q6k_finish(ch, kHalf * hf, blk, isum[hf], acc[hf][0]);
  }
  store_rows<1>(acc, out, 0, n_rows);
}

struct Q4_0Tiles {
  template <int NC>
  static constexpr PackedTileNc fn = tile_legacy<true, NC>;
};
struct Q8_0Tiles {
  template <int NC>
  static constexpr PackedTileNc fn = tile_legacy<false, NC>;
};
struct Q4_KTiles {
  template <int NC>
  static constexpr PackedTileNc fn = NC == 1 ? tile_q4k_one : tile_q4k<NC>;
};
struct Q6_KTiles {
  template <int NC>
  static constexpr PackedTileNc fn = NC == 1 ? tile_q6k_one : tile_q6k<NC>;
};

}  // namespace

// Four activation rows per tile: with 16 vector registers, more would spill the accumulators.
const PackedKernelSet& packed_kernels_avx2() {
  static const PackedKernelSet set{{DType::Q8_0, 8, 4, packed_tile<Q4_0Tiles, 4>},
                                   {DType::Q8_0, 0, 4, packed_tile<Q8_0Tiles, 4>},
                                   {DType::Q8_K, 0, 4, packed_tile<Q4_KTiles, 4>},
                                   {DType::Q8_K, 0, 4, packed_tile<Q6_KTiles, 4>}};
  return set;
}

}  // namespace latent::kernels::cpu
