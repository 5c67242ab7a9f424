// Fused attention for one (token, head) on AVX2+FMA, the same online-softmax scheme as the AVX-512
// file: 8 positions per block, running max and sum, the accumulator rescaled when the max moves,
// one pass over K and V. q and the accumulator are NV ymm vectors (head_dim ≤ 8·NV).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cpu/avx2/exp_avx2.h"
#include "kernels/cpu/float_ops.h"

namespace latent::kernels::cpu {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lane mask with the first n (0..8) lanes set.
__m256i lanes(int64_t n) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - (n > 8 ? 8 : n)));
}

template <int NV>
void attention_head_nv(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                       int64_t kv_head, float* out, const AttentionParams& p) {
  const int64_t d = p.head_dim;
  const __m256i tail = lanes(d - 8 * (NV - 1)), full = lanes(8);
  __m256 qv[NV], acc[NV];
  for (int i = 0; i < NV; ++i) {
    qv[i] = _mm256_mul_ps(_mm256_maskload_ps(q + 8 * i, i == NV - 1 ? tail : full),
                          _mm256_set1_ps(p.scale));
    acc[i] = _mm256_setzero_ps();
  }
  const float* kh = kv.k + kv_head * d;
  const float* vh = kv.v + kv_head * d;
  // Groups of 8 logical positions whatever the block size: the same arithmetic for a token however
  // its sequence is paged.
  PagedRowCursor rows(table, kv.block_size, p.kv_stride);
  int64_t off[8];
  float run_max = -INFINITY, run_sum = 0.0f;
  alignas(32) float s[8];
  const int64_t n_pos = int64_t{pos} + 1;
  for (int64_t j0 = 0; j0 < n_pos; j0 += 8) {
    const int nb = static_cast<int>(n_pos - j0 < 8 ? n_pos - j0 : 8);
    for (int b = 0; b < 8; ++b) s[b] = -INFINITY;
    for (int b = 0; b < nb; ++b) {
      const float* kj = kh + (off[b] = rows.next());
      __m256 dot = _mm256_setzero_ps();
      for (int i = 0; i < NV; ++i)
        dot =
            _mm256_fmadd_ps(qv[i], _mm256_maskload_ps(kj + 8 * i, i == NV - 1 ? tail : full), dot);
      s[b] = hsum(dot);
    }
    const __m256 sv = _mm256_load_ps(s);
    const float new_max = std::fmax(run_max, hmax(sv));
    const __m256 e = avx2::exp_ps(_mm256_sub_ps(sv, _mm256_set1_ps(new_max)));
    if (new_max != run_max) {
      const float alpha = std::exp(run_max - new_max);  // 0 on the first block
      run_sum *= alpha;
      for (int i = 0; i < NV; ++i) acc[i] = _mm256_mul_ps(acc[i], _mm256_set1_ps(alpha));
      run_max = new_max;
    }
    _mm256_store_ps(s, e);
    for (int b = 0; b < nb; ++b) {  // lanes past nb hold e^-87 ≈ 1e-38 (exp_ps clamps): skip them
      run_sum += s[b];
      const float* vj = vh + off[b];
      const __m256 w = _mm256_set1_ps(s[b]);
      for (int i = 0; i < NV; ++i)
        acc[i] =
            _mm256_fmadd_ps(w, _mm256_maskload_ps(vj + 8 * i, i == NV - 1 ? tail : full), acc[i]);
    }
  }
  const __m256 inv = _mm256_set1_ps(1.0f / run_sum);
  for (int i = 0; i < NV; ++i)
    _mm256_maskstore_ps(out + 8 * i, i == NV - 1 ? tail : full, _mm256_mul_ps(acc[i], inv));
}

// The wide kernel's blocks (cf. the AVX-512 file): scores in NH heads × NB rows, values in NH heads
// × NI 8-float slices, sized so accumulators, loads and a broadcast fit the 16 ymm registers.
constexpr int kScoreHeads = 4, kScoreRows = 2, kValueHeads = 4, kValueSlices = 2;

// Scores of NH heads (q rows dp floats apart) against NB rows: one FMA chain per (h, b) over the
// 8-float slices, then a horizontal sum; a score's arithmetic does not depend on NH or NB.
template <int NH, int NB>
void wide_scores(const float* q, int64_t dp, const float* kh, const int64_t* off, int64_t nv,
                 __m256i tail, float* s) {
  const __m256i full = lanes(8);
  __m256 dot[NH][NB];
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) dot[h][b] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nv; ++i) {
    const __m256i m = i == nv - 1 ? tail : full;
    __m256 k[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) k[b] = _mm256_maskload_ps(kh + off[b] + 8 * i, m);
#pragma GCC unroll 4
    for (int h = 0; h < NH; ++h) {
      const __m256 qv = _mm256_load_ps(q + h * dp + 8 * i);
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) dot[h][b] = _mm256_fmadd_ps(qv, k[b], dot[h][b]);
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) s[8 * h + b] = hsum(dot[h][b]);  // rows of 8 scores
}

// Slices i..i+NI of NH heads' accumulators: a_h' = a_h·α_h + Σ_b e_{h,b}·v_b in b order.
template <int NH, int NI>
void wide_values(float* acc, int64_t dp, const float* vh, const int64_t* off, int nb,
                 const __m256i* m, const float (*e)[8], const float* alpha) {
  __m256 a[NH][NI];
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i)
      a[h][i] = _mm256_mul_ps(_mm256_load_ps(acc + h * dp + 8 * i), _mm256_set1_ps(alpha[h]));
  for (int b = 0; b < nb; ++b) {
    __m256 v[NI];
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i) v[i] = _mm256_maskload_ps(vh + off[b] + 8 * i, m[i]);
#pragma GCC unroll 4
    for (int h = 0; h < NH; ++h) {
      const __m256 w = _mm256_set1_ps(e[h][b]);
#pragma GCC unroll 4
      for (int i = 0; i < NI; ++i) a[h][i] = _mm256_fmadd_ps(w, v[i], a[h][i]);
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int i = 0; i < NI; ++i) _mm256_store_ps(acc + h * dp + 8 * i, a[h][i]);
}

using WideScoresFn = void (*)(const float*, int64_t, const float*, const int64_t*, int64_t, __m256i,
                              float*);
using WideValuesFn = void (*)(float*, int64_t, const float*, const int64_t*, int, const __m256i*,
                              const float (*)[8], const float*);
constexpr WideScoresFn kWideScores[kScoreHeads][kScoreRows] = {
    {wide_scores<1, 1>, wide_scores<1, 2>},
    {wide_scores<2, 1>, wide_scores<2, 2>},
    {wide_scores<3, 1>, wide_scores<3, 2>},
    {wide_scores<4, 1>, wide_scores<4, 2>}};
constexpr WideValuesFn kWideValues[kValueHeads][kValueSlices] = {
    {wide_values<1, 1>, wide_values<1, 2>},
    {wide_values<2, 1>, wide_values<2, 2>},
    {wide_values<3, 1>, wide_values<3, 2>},
    {wide_values<4, 1>, wide_values<4, 2>}};

}  // namespace

// n_q query heads sharing one KV head (grouped-query attention; MLA's latent rows), the same
// recurrence as attention_head_nv over groups of 8 positions: each group's rows are read from
// memory once and serve every head from L1, with q and the accumulators in L1 scratch. A head's
// arithmetic does not depend on n_q.
void attention_heads_wide_avx2(const float* q, const PagedKvView& kv, const int32_t* table,
                               int32_t pos, int64_t kv_head, int64_t n_q, float* out,
                               const AttentionParams& p) {
  const int64_t d = p.head_dim, nv = (d + 7) / 8, dp = 8 * nv;
  const __m256i tail = lanes(d - 8 * (nv - 1)), full = lanes(8);
  auto mask = [&](int64_t i) { return i == nv - 1 ? tail : full; };
  static thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(2 * n_q * dp + 8));
  float* const qs =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 31) & ~uintptr_t{31});
  float* const acc = qs + n_q * dp;
  for (int64_t h = 0; h < n_q; ++h)
    for (int64_t i = 0; i < nv; ++i) {
      _mm256_store_ps(
          qs + h * dp + 8 * i,
          _mm256_mul_ps(_mm256_maskload_ps(q + h * d + 8 * i, mask(i)), _mm256_set1_ps(p.scale)));
      _mm256_store_ps(acc + h * dp + 8 * i, _mm256_setzero_ps());
    }
  const float* kh = kv.k + kv_head * d;
  const float* vh = kv.v + kv_head * d;
  PagedRowCursor rows(table, kv.block_size, p.kv_stride);
  int64_t off[8];
  float run_max[kMaxWideGroup], run_sum[kMaxWideGroup], alpha[kMaxWideGroup];
  std::fill_n(run_max, n_q, -INFINITY);
  std::fill_n(run_sum, n_q, 0.0f);
  alignas(32) float s[kMaxWideGroup][8];
  const int64_t n_pos = int64_t{pos} + 1;
  for (int64_t j0 = 0; j0 < n_pos; j0 += 8) {
    const int nb = static_cast<int>(n_pos - j0 < 8 ? n_pos - j0 : 8);
    for (int b = 0; b < nb; ++b) off[b] = rows.next();
    // s_j = (scale·q)·k_j
    for (int64_t h0 = 0; h0 < n_q; h0 += kScoreHeads) {
      const int64_t nh = std::min<int64_t>(kScoreHeads, n_q - h0);
      for (int b0 = 0; b0 < nb; b0 += kScoreRows)
        kWideScores[nh - 1][std::min(kScoreRows, nb - b0) - 1](qs + h0 * dp, dp, kh, off + b0, nv,
                                                               tail, &s[h0][b0]);
    }
    // m' = max(m, max_j s_j), l' = l·e^{m−m'} + Σ_j e^{s_j−m'} (lanes past nb: −∞, not summed)
    for (int64_t h = 0; h < n_q; ++h) {
      for (int b = nb; b < 8; ++b) s[h][b] = -INFINITY;
      const __m256 sv = _mm256_load_ps(s[h]);
      const float new_max = std::fmax(run_max[h], hmax(sv));
      _mm256_store_ps(s[h], avx2::exp_ps(_mm256_sub_ps(sv, _mm256_set1_ps(new_max))));
      alpha[h] = 1.0f;
      if (new_max != run_max[h]) {
        alpha[h] = std::exp(run_max[h] - new_max);  // 0 on the first group
        run_sum[h] *= alpha[h];
        run_max[h] = new_max;
      }
      for (int b = 0; b < nb; ++b) run_sum[h] += s[h][b];
    }
    // acc' = acc·e^{m−m'} + Σ e^{s_j−m'}·v_j
    for (int64_t h0 = 0; h0 < n_q; h0 += kValueHeads) {
      const int64_t nh = std::min<int64_t>(kValueHeads, n_q - h0);
      for (int64_t i = 0; i < nv; i += kValueSlices) {
        const int64_t ni = std::min<int64_t>(kValueSlices, nv - i);
        __m256i m[kValueSlices];
        for (int64_t u = 0; u < ni; ++u) m[u] = mask(i + u);
        kWideValues[nh - 1][ni - 1](acc + h0 * dp + 8 * i, dp, vh + 8 * i, off, nb, m, s + h0,
                                    alpha + h0);
      }
    }
  }
  for (int64_t h = 0; h < n_q; ++h) {
    const __m256 inv = _mm256_set1_ps(1.0f / run_sum[h]);
    for (int64_t i = 0; i < nv; ++i)
      _mm256_maskstore_ps(out + h * d + 8 * i, mask(i),
                          _mm256_mul_ps(_mm256_load_ps(acc + h * dp + 8 * i), inv));
  }
}

namespace {

template <int... I>
constexpr auto make_table(std::integer_sequence<int, I...>) {
  using Fn = void (*)(const float*, const PagedKvView&, const int32_t*, int32_t, int64_t, float*,
                      const AttentionParams&);
  return std::array<Fn, sizeof...(I)>{attention_head_nv<I + 1>...};
}

}  // namespace

void attention_head_avx2(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                         int64_t kv_head, float* out, const AttentionParams& p) {
  static constexpr auto fns = make_table(std::make_integer_sequence<int, 32>{});
  fns[(p.head_dim + 7) / 8 - 1](q, kv, table, pos, kv_head, out, p);
}

}  // namespace latent::kernels::cpu
