// Fused attention for one (token, head) on AVX-512, flash-attention style: positions are taken 16
// at a time; each block's scores update a running max m and sum l, the output accumulator is
// rescaled by e^{m_old − m_new}, and the block's e^{s − m} weight V rows straight away. One pass
// over K and V, O(1) scratch. q and the accumulator live in NV zmm registers (head_dim ≤ 16·NV).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/avx512/exp_avx512.h"
#include "kernels/cpu/float_ops.h"

namespace latent::kernels::cpu {
namespace {

float hsum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The online softmax's running max m and sum l over groups of 16 scores.
struct RunningSoftmax {
  float max = -INFINITY, sum = 0.0f;
  // For the scores s of a group (lanes past the group hold −∞): m' = max(m, max_j s_j),
  // l' = l·e^{m−m'} + Σ e^{s_j−m'}. Writes e^{s_j−m'} to e and returns α = e^{m−m'}, by which
  // the caller scales its accumulator (1 when the max did not move, 0 on the first group).
  float update(__m512 sv, float* e) {
    const float new_max = std::fmax(max, hmax(sv));
    const __m512 ev = avx512::exp_ps(_mm512_sub_ps(sv, _mm512_set1_ps(new_max)));
    float alpha = 1.0f;
    if (new_max != max) {
      alpha = std::exp(max - new_max);
      sum *= alpha;
      max = new_max;
    }
    sum += hsum(ev);
    _mm512_store_ps(e, ev);
    return alpha;
  }
};

template <int NV>
void attention_head_nv(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                       int64_t kv_head, float* out, const AttentionParams& p) {
  const int64_t d = p.head_dim;
  // Lanes of the last vector that hold head dims (all 16 when d is a multiple of 16).
  const __mmask16 tail = static_cast<__mmask16>((1u << (d - 16 * (NV - 1))) - 1);
  const __mmask16 full = 0xffff;
  __m512 qv[NV], acc[NV];
  for (int i = 0; i < NV; ++i) {
    const __mmask16 m = i == NV - 1 ? tail : full;
    qv[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q + 16 * i), _mm512_set1_ps(p.scale));
    acc[i] = _mm512_setzero_ps();
  }
  const float* kh = kv.k + kv_head * d;
  const float* vh = kv.v + kv_head * d;
  // Groups of 16 logical positions whatever the block size: the same arithmetic for a token however
  // its sequence is paged.
  PagedRowCursor rows(table, kv.block_size, p.kv_stride);
  int64_t off[16];
  RunningSoftmax sm;
  alignas(64) float s[16];
  const int64_t n_pos = int64_t{pos} + 1;
  for (int64_t j0 = 0; j0 < n_pos; j0 += 16) {
    const int nb = static_cast<int>(n_pos - j0 < 16 ? n_pos - j0 : 16);
    // s_j = (scale·q)·k_j for the block's positions
    for (int b = 0; b < nb; ++b) {
      const float* kj = kh + (off[b] = rows.next());
      __m512 dot = _mm512_mul_ps(qv[0], _mm512_maskz_loadu_ps(NV == 1 ? tail : full, kj));
      for (int i = 1; i < NV; ++i)
        dot = _mm512_fmadd_ps(qv[i], _mm512_maskz_loadu_ps(i == NV - 1 ? tail : full, kj + 16 * i),
                              dot);
      s[b] = hsum(dot);
    }
    const __mmask16 live = static_cast<__mmask16>((1u << nb) - 1);
    // acc' = acc·e^{m−m'} + Σ e^{s_j−m'}·v_j
    const float alpha = sm.update(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), live, s), s);
    if (alpha != 1.0f)
      for (int i = 0; i < NV; ++i) acc[i] = _mm512_mul_ps(acc[i], _mm512_set1_ps(alpha));
    for (int b = 0; b < nb; ++b) {
      const float* vj = vh + off[b];
      const __m512 w = _mm512_set1_ps(s[b]);
      for (int i = 0; i < NV; ++i)
        acc[i] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(i == NV - 1 ? tail : full, vj + 16 * i),
                                 acc[i]);
    }
  }
  const __m512 inv = _mm512_set1_ps(1.0f / sm.sum);
  for (int i = 0; i < NV; ++i)
    _mm512_mask_storeu_ps(out + 16 * i, i == NV - 1 ? tail : full, _mm512_mul_ps(acc[i], inv));
}

}  // namespace

namespace {

// Scores of NH heads (q rows dp floats apart) against NB rows: s_{h,b} = Σ_i q_{h,i}·k_{b,i}, one
// FMA chain per (h, b) over the 16-float slices i, then a horizontal sum. Each slice loaded feeds
// several FMAs (NH + NB loads per NH·NB FMAs), and a score's arithmetic is the same whatever NH
// and NB, so a head's result does not depend on how many heads or rows share the call.
// The unroll pragmas (here and in wide_values) are what keeps the accumulator arrays in registers:
// without them GCC 12 stores them to the stack every iteration (MLA decode 73 → 160 GFLOP/s).
template <int NH, int NB>
void wide_scores(const float* q, int64_t dp, const float* kh, const int64_t* off, int64_t nv,
                 __mmask16 tail, float* s) {
  __m512 dot[NH][NB];
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) dot[h][b] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nv; ++i) {
    const __mmask16 m = i == nv - 1 ? tail : 0xffff;
    __m512 k[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) k[b] = _mm512_maskz_loadu_ps(m, kh + off[b] + 16 * i);
#pragma GCC unroll 4
    for (int h = 0; h < NH; ++h) {
      const __m512 qv = _mm512_load_ps(q + h * dp + 16 * i);
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) dot[h][b] = _mm512_fmadd_ps(qv, k[b], dot[h][b]);
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) s[16 * h + b] = hsum(dot[h][b]);  // rows of 16 scores
}

// Slices i..i+NI of NH heads' accumulators (rows dp floats apart): a_h' = a_h·α_h + Σ_b
// e_{h,b}·v_b, in b order, all NH·NI accumulators in registers, so each V slice and each weight
// broadcast serve several FMAs. A head's arithmetic does not depend on NH or NI.
template <int NH, int NI>
void wide_values(float* acc, int64_t dp, const float* vh, const int64_t* off, int nb,
                 const __mmask16* m, const float (*e)[16], const float* alpha) {
  __m512 a[NH][NI];
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i)
      a[h][i] = _mm512_mul_ps(_mm512_load_ps(acc + h * dp + 16 * i), _mm512_set1_ps(alpha[h]));
  for (int b = 0; b < nb; ++b) {
    __m512 v[NI];
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i) v[i] = _mm512_maskz_loadu_ps(m[i], vh + off[b] + 16 * i);
#pragma GCC unroll 4
    for (int h = 0; h < NH; ++h) {
      const __m512 w = _mm512_set1_ps(e[h][b]);
#pragma GCC unroll 4
      for (int i = 0; i < NI; ++i) a[h][i] = _mm512_fmadd_ps(w, v[i], a[h][i]);
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i) _mm512_store_ps(acc + h * dp + 16 * i, a[h][i]);
}

constexpr int kWideBlock = 4;  // heads × rows (scores) and heads × slices (values) per call
using WideScoresFn = void (*)(const float*, int64_t, const float*, const int64_t*, int64_t,
                              __mmask16, float*);
using WideValuesFn = void (*)(float*, int64_t, const float*, const int64_t*, int, const __mmask16*,
                              const float (*)[16], const float*);
// [NH − 1][NB − 1] and [NH − 1][NI − 1].
constexpr WideScoresFn kWideScores[kWideBlock][kWideBlock] = {
    {wide_scores<1, 1>, wide_scores<1, 2>, wide_scores<1, 3>, wide_scores<1, 4>},
    {wide_scores<2, 1>, wide_scores<2, 2>, wide_scores<2, 3>, wide_scores<2, 4>},
    {wide_scores<3, 1>, wide_scores<3, 2>, wide_scores<3, 3>, wide_scores<3, 4>},
    {wide_scores<4, 1>, wide_scores<4, 2>, wide_scores<4, 3>, wide_scores<4, 4>}};
constexpr WideValuesFn kWideValues[kWideBlock][kWideBlock] = {
    {wide_values<1, 1>, wide_values<1, 2>, wide_values<1, 3>, wide_values<1, 4>},
    {wide_values<2, 1>, wide_values<2, 2>, wide_values<2, 3>, wide_values<2, 4>},
    {wide_values<3, 1>, wide_values<3, 2>, wide_values<3, 3>, wide_values<3, 4>},
    {wide_values<4, 1>, wide_values<4, 2>, wide_values<4, 3>, wide_values<4, 4>}};

}  // namespace

// The same recurrence as attention_head_nv for heads too wide for the register file, for n_q query
// heads that share one KV head (MLA: all heads attend over the same latent rows): each group of 16
// rows is read from memory once and serves every head from L1. Per group, the scores are taken in
// blocks of 4 heads × 4 rows (wide_scores), then the accumulators in blocks of 4 heads × 4 slices
// (wide_values), each block in registers. A head's arithmetic does not depend on n_q.
void attention_heads_wide_avx512(const float* q, const PagedKvView& kv, const int32_t* table,
                                 int32_t pos, int64_t kv_head, int64_t n_q, float* out,
                                 const AttentionParams& p) {
  const int64_t d = p.head_dim, nv = (d + 15) / 16, dp = 16 * nv;
  const __mmask16 tail = static_cast<__mmask16>((1u << (d - 16 * (nv - 1))) - 1);
  auto mask = [&](int64_t i) -> __mmask16 { return i == nv - 1 ? tail : 0xffff; };
  // Scaled queries and accumulators, [n_q][dp] each (64-byte aligned rows: dp is a multiple of 16).
  static thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(2 * n_q * dp + 16));
  float* const qs =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  float* const acc = qs + n_q * dp;
  for (int64_t h = 0; h < n_q; ++h)
    for (int64_t i = 0; i < nv; ++i) {
      _mm512_store_ps(qs + h * dp + 16 * i,
                      _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(i), q + h * d + 16 * i),
                                    _mm512_set1_ps(p.scale)));
      _mm512_store_ps(acc + h * dp + 16 * i, _mm512_setzero_ps());
    }
  const float* kh = kv.k + kv_head * d;
  const float* vh = kv.v + kv_head * d;
  PagedRowCursor rows(table, kv.block_size, p.kv_stride);
  int64_t off[16];
  RunningSoftmax sm[kMaxWideGroup];
  alignas(64) float s[kMaxWideGroup][16];
  float alpha[kMaxWideGroup];
  const int64_t n_pos = int64_t{pos} + 1;
  for (int64_t j0 = 0; j0 < n_pos; j0 += 16) {
    const int nb = static_cast<int>(n_pos - j0 < 16 ? n_pos - j0 : 16);
    for (int b = 0; b < nb; ++b) off[b] = rows.next();
    const __mmask16 live = static_cast<__mmask16>((1u << nb) - 1);
    // s_j = (scale·q)·k_j
    for (int64_t h0 = 0; h0 < n_q; h0 += kWideBlock) {
      const int64_t nh = std::min<int64_t>(kWideBlock, n_q - h0);
      for (int b0 = 0; b0 < nb; b0 += kWideBlock)
        kWideScores[nh - 1][std::min(kWideBlock, nb - b0) - 1](qs + h0 * dp, dp, kh, off + b0, nv,
                                                               tail, &s[h0][b0]);
    }
    for (int64_t h = 0; h < n_q; ++h)
      alpha[h] = sm[h].update(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), live, s[h]), s[h]);
    // acc' = acc·e^{m−m'} + Σ e^{s_j−m'}·v_j
    for (int64_t h0 = 0; h0 < n_q; h0 += kWideBlock) {
      const int64_t nh = std::min<int64_t>(kWideBlock, n_q - h0);
      for (int64_t i = 0; i < nv; i += kWideBlock) {
        const int64_t ni = std::min<int64_t>(kWideBlock, nv - i);
        __mmask16 m[kWideBlock];
        for (int64_t u = 0; u < ni; ++u) m[u] = mask(i + u);
        kWideValues[nh - 1][ni - 1](acc + h0 * dp + 16 * i, dp, vh + 16 * i, off, nb, m, s + h0,
                                    alpha + h0);
      }
    }
  }
  for (int64_t h = 0; h < n_q; ++h) {
    const __m512 inv = _mm512_set1_ps(1.0f / sm[h].sum);
    for (int64_t i = 0; i < nv; ++i)
      _mm512_mask_storeu_ps(out + h * d + 16 * i, mask(i),
                            _mm512_mul_ps(_mm512_load_ps(acc + h * dp + 16 * i), inv));
  }
}

// head_dim ≤ 256; cpu_kernels.cpp sends larger heads to the wide kernel or the reference path.
void attention_head_avx512(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                           int64_t kv_head, float* out, const AttentionParams& p) {
  using Fn = void (*)(const float*, const PagedKvView&, const int32_t*, int32_t, int64_t, float*,
                      const AttentionParams&);
  static constexpr Fn fns[16] = {
      attention_head_nv<1>,  attention_head_nv<2>,  attention_head_nv<3>,  attention_head_nv<4>,
      attention_head_nv<5>,  attention_head_nv<6>,  attention_head_nv<7>,  attention_head_nv<8>,
      attention_head_nv<9>,  attention_head_nv<10>, attention_head_nv<11>, attention_head_nv<12>,
      attention_head_nv<13>, attention_head_nv<14>, attention_head_nv<15>, attention_head_nv<16>};
  fns[(p.head_dim + 15) / 16 - 1](q, kv, table, pos, kv_head, out, p);
}

}  // namespace latent::kernels::cpu
