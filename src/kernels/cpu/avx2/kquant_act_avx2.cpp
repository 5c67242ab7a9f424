// AVX2 conversion of f32 activation rows to Q8_K (byte-identical to quantize_row(Q8_K): the same
// first signed extreme, the same f32 products, and vcvtps2dq's round-to-nearest-even equals ggml's
// nearest_int for |v| ≤ 127).
#include "kernels/cpu/avx2/kquant_tile_avx2.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {
namespace {

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace

void q8k_convert_avx2(const float* x, void* out, int64_t n) {
  auto* o = static_cast<uint8_t*>(out);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 256; ++b, x += 256, o += kq256::kActBytes) {
    __m256 vmax = _mm256_setzero_ps();
    for (int i = 0; i < 32; ++i)
      vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)));
    const float amax = hmax(vmax);
    if (!(amax > 0.0f)) {
      std::memset(o, 0, kq256::kActBytes);
      continue;
    }
    // The scalar spec keeps the first element whose |x| is the maximum, with its sign.
    const __m256 vam = _mm256_set1_ps(amax);
    int first = 0;
    for (int i = 0; i < 32; ++i) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i));
      const int m = _mm256_movemask_ps(_mm256_cmp_ps(a, vam, _CMP_EQ_OQ));
      if (m) {
        first = 8 * i + __builtin_ctz(static_cast<unsigned>(m));
        break;
      }
    }
    const float iscale = -127.f / x[first];
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    int16_t bsums[16];
    for (int g = 0; g < 16; ++g) {
      const __m256i q0 =
          _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g), vs)), top);
      const __m256i q1 = _mm256_min_epi32(
          _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g + 8), vs)), top);
      const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xd8);
      const __m128i p8 =
          _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + kq256::kActQs + 16 * g), p8);
      bsums[g] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q0, q1)));
    }
    const float d = 1 / iscale;
    std::memcpy(o, &d, 4);
    std::memcpy(o + kq256::kActBsums, bsums, sizeof bsums);
  }
}

}  // namespace latent::kernels::cpu
