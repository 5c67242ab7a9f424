// Fused attention for one (token, head) on AVX2+FMA, the same online-softmax scheme as the AVX-512
// file: 8 positions per block, running max and sum, the accumulator rescaled when the max moves,
// one pass over K and V. q and the accumulator are NV ymm vectors (head_dim ≤ 8·NV).
#include <immintrin.h>

#include <array>
#include <cmath>
#include <utility>

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
