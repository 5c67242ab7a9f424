// AVX-512 conversion of f32 activation rows to Q8_K (byte-identical to quantize_row(Q8_K): the same
// first signed extreme, the same f32 products, and vcvtps2dq's round-to-nearest-even equals ggml's
// nearest_int for |v| ≤ 127).
#include "kernels/cpu/avx512/kquant_tile_avx512.h"
#include "kernels/cpu/kquant_ops.h"

namespace latent::kernels::cpu {

void q8k_convert_avx512(const float* x, void* out, int64_t n) {
  auto* o = static_cast<uint8_t*>(out);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 256; ++b, x += 256, o += kq512::kActBytes) {
    __m512 vmax = _mm512_setzero_ps();
    for (int i = 0; i < 16; ++i)
      vmax = _mm512_max_ps(vmax, _mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * i)));
    const float amax = _mm512_reduce_max_ps(vmax);
    if (!(amax > 0.0f)) {
      std::memset(o, 0, kq512::kActBytes);
      continue;
    }
    // The scalar spec keeps the first element whose |x| is the maximum, with its sign.
    const __m512 vam = _mm512_set1_ps(amax);
    int first = 0;
    for (int i = 0; i < 16; ++i) {
      const __mmask16 m =
          _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * i)), vam, _CMP_EQ_OQ);
      if (m) {
        first = 16 * i + __builtin_ctz(m);
        break;
      }
    }
    const float iscale = -127.f / x[first];
    const __m512 vs = _mm512_set1_ps(iscale);
    const __m512i top = _mm512_set1_epi32(127);
    int16_t bsums[16];
    for (int i = 0; i < 16; ++i) {
      const __m512i q =
          _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), vs)), top);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + kq512::kActQs + 16 * i),
                       _mm512_cvtsepi32_epi8(q));
      bsums[i] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    const float d = 1 / iscale;
    std::memcpy(o, &d, 4);
    std::memcpy(o + kq512::kActBsums, bsums, sizeof bsums);
  }
}

}  // namespace latent::kernels::cpu
