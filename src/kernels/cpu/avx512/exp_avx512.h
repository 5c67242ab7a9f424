// e^x for 16 floats (AVX-512): Cephes-style range reduction x = n·ln2 + r, |r| ≤ ln2/2, a degree-6
// polynomial for e^r (≤ ~2 ulp on [-87, 88]) and vscalefps for 2^n, which also gives 0 below the
// range and inf above it. Shared by the attention and elementwise files of this directory only.
#pragma once

#include <immintrin.h>

namespace latent::kernels::cpu::avx512 {

inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // e^-104 = 0 in f32; also maps −inf → 0
  x = _mm512_min_ps(x, _mm512_set1_ps(89.0f));    // e^89 = inf in f32
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  // e^r ≈ 1 + r + r²·p(r)
  const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(e, n);
}

}  // namespace latent::kernels::cpu::avx512
