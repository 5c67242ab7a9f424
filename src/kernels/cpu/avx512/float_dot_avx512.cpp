// AVX-512 dot kernels for float weights: F32, F16 (two strategies) and BF16 (two strategies). Each
// tile keeps R×C zmm accumulators (R ≤ 4 weight rows × C ≤ 4 activation rows), so a converted
// weight vector feeds C FMAs; tails use masked loads (zero lanes add nothing). Horizontal sums
// happen once per output.
// GCC 12's intrinsic headers self-initialise "undefined" vectors, which -Wuninitialized flags at
// every inlined use (GCC bug 105593); the warnings are about the header, not this code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "kernels/cpu/float_ops.h"

namespace latent::kernels::cpu {
namespace {

// Weight loaders: 16 elements at index k of a row, widened to f32 (exact for all three types).
struct LoadF32 {
  static __m512 full(const uint8_t* p, int64_t k) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + k);
  }
  static __m512 part(const uint8_t* p, int64_t k, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + k);
  }
};
struct LoadF16 {
  static __m512 full(const uint8_t* p, int64_t k) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * k)));
  }
  static __m512 part(const uint8_t* p, int64_t k, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * k));
  }
};
// bf16 → f32 is a 16-bit left shift of the bit pattern.
struct LoadBF16 {
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 full(const uint8_t* p, int64_t k) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * k)));
  }
  static __m512 part(const uint8_t* p, int64_t k, __mmask16 m) {
    return widen(_mm256_maskz_loadu_epi16(m, p + 2 * k));
  }
};

// Sum of 16 lanes.
float hsum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

using TileFn = void (*)(int64_t, const uint8_t*, int64_t, const uint8_t*, int64_t, float*, int64_t);

// Widened weights against activations loaded by A (f32 rows, or f16 rows followed by their
// power-of-two scale): acc[r][c] += w_r[k..k+16) · a_c[k..k+16), then × the row's scale.
template <class L, class A, int R, int C>
void tile_widened(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t os) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m512 av[C];
    for (int c = 0; c < C; ++c) av[c] = A::full(a + c * as, k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = L::full(w + r * ws, k);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, av[c], acc[r][c]);
    }
  }
  if (k < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - k)) - 1);
    __m512 av[C];
    for (int c = 0; c < C; ++c) av[c] = A::part(a + c * as, k, m);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = L::part(w + r * ws, k, m);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, av[c], acc[r][c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    float scale = 1.0f;
    if constexpr (A::kScaled) std::memcpy(&scale, a + c * as + 2 * n, sizeof scale);
    for (int r = 0; r < R; ++r)
      out[c * os + r] = A::kScaled ? hsum(acc[r][c]) * scale : hsum(acc[r][c]);
  }
}

// Activation rows per vdpbf16ps tile: 4 weight rows × 6 = 24 accumulators, each weight vector
// feeding 6 instructions (prefill 2–8% over 4 × 4, the activation rows then come from L1).
constexpr int kBf16Cols = 6;

// bf16 activations × bf16 weights with vdpbf16ps: 32 products per instruction, exact in f32 and
// summed pairwise into 16 f32 lanes.
template <int R, int C>
void tile_dpbf16(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                 int64_t os) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    __m512bh av[C];
    for (int c = 0; c < C; ++c) av[c] = (__m512bh)_mm512_loadu_si512(a + c * as + 2 * k);
    for (int r = 0; r < R; ++r) {
      const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + r * ws + 2 * k);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], wv, av[c]);
    }
  }
  if (k < n) {
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (n - k)) - 1);
    __m512bh av[C];
    for (int c = 0; c < C; ++c) av[c] = (__m512bh)_mm512_maskz_loadu_epi16(m, a + c * as + 2 * k);
    for (int r = 0; r < R; ++r) {
      const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, w + r * ws + 2 * k);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], wv, av[c]);
    }
  }
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) out[c * os + r] = hsum(acc[r][c]);
}

struct ActF32 : LoadF32 {
  static constexpr bool kScaled = false;
};
struct ActF16Scaled : LoadF16 {
  static constexpr bool kScaled = true;
};
template <class L>
struct F32Act {
  template <int R, int C>
  static constexpr TileFn fn = tile_widened<L, ActF32, R, C>;
};
struct F16Act {
  template <int R, int C>
  static constexpr TileFn fn = tile_widened<LoadF16, ActF16Scaled, R, C>;
};
struct BF16Act {
  template <int R, int C>
  static constexpr TileFn fn = tile_dpbf16<R, C>;
};

// [R-1][C-1] table of the instantiations, R ≤ kTileRows, C ≤ MaxC.
template <class K, int MaxC = kTileCols>
struct TileTable {
  template <int R, size_t... C>
  static constexpr std::array<TileFn, MaxC> row(std::index_sequence<C...>) {
    return {K::template fn<R, static_cast<int>(C) + 1>...};
  }
  static constexpr std::array<TileFn, MaxC> fns[kTileRows] = {
      row<1>(std::make_index_sequence<MaxC>()), row<2>(std::make_index_sequence<MaxC>()),
      row<3>(std::make_index_sequence<MaxC>()), row<4>(std::make_index_sequence<MaxC>())};
  static void tile(int64_t n, const uint8_t* w, int64_t ws, int nr, const uint8_t* a, int64_t as,
                   int nc, float* out, int64_t os) {
    if (nr <= 0 || nc <= 0) return;
    fns[nr - 1][nc - 1](n, w, ws, a, as, out, os);
  }
};

void copy_f32(const float* x, void* out, int64_t n) {
  std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
}

// f32 → bf16, round to nearest even (vcvtne2ps2bf16), as fp32_to_bf16 for every finite input.
void convert_bf16(const float* x, void* out, int64_t n) {
  auto* o = static_cast<uint8_t*>(out);
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
    _mm512_storeu_si512(o + 2 * k, (__m512i)v);
  }
  for (; k < n; k += 16) {
    const int64_t left = n - k < 16 ? n - k : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1);
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + k));
    _mm256_mask_storeu_epi16(o + 2 * k, m, (__m256i)v);
  }
}

// F16 activations: x·2^-e rounded to f16 (nearest even). e puts the row's largest |x| in
// [2^14, 2^15): no value overflows f16's 65504 and every value down to 2^-28 of the largest keeps
// f16's 11 significant bits, whatever the row's magnitude. Scaling by a power of two is exact, so
// the only rounding is f16's (≤ 2^-11 relative per element). A NaN or inf in the row leaves e = 0
// and makes the row's results non-finite, as in f32.
int f16_row_exponent(const float* x, int64_t n) {
  __m512 vmax = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
  if (k < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - k)) - 1);
    vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + k)));
  }
  const float amax = _mm512_reduce_max_ps(vmax);
  return amax > 0 && std::isfinite(amax) ? std::ilogb(amax) - 14 : 0;
}
__m256i to_f16(__m512 v) {
  return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// The decode format: the f16 row, then 2^e as a float (act_tail).
void convert_f16_scaled(const float* x, void* out, int64_t n) {
  auto* o = static_cast<uint8_t*>(out);
  const int e = f16_row_exponent(x, n);
  const __m512 down = _mm512_set1_ps(std::ldexp(1.0f, -e));
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2 * k),
                        to_f16(_mm512_mul_ps(_mm512_loadu_ps(x + k), down)));
  if (k < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - k)) - 1);
    _mm256_mask_storeu_epi16(o + 2 * k, m,
                             to_f16(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), down)));
  }
  const float scale = std::ldexp(1.0f, e);
  std::memcpy(o + 2 * n, &scale, sizeof scale);
}

// The batch format: the same f16 values scaled back by 2^e, as f32 (exact), so tile_widened's
// products are the decode tile's times 2^e exactly and every sum rounds the same way: equal
// results bit for bit (unless a sum leaves f32's normal range, i.e. below 2^-126).
void round_f16_scaled(const float* x, void* out, int64_t n) {
  auto* o = static_cast<float*>(out);
  const int e = f16_row_exponent(x, n);
  const __m512 down = _mm512_set1_ps(std::ldexp(1.0f, -e)),
               up = _mm512_set1_ps(std::ldexp(1.0f, e));
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512 v = _mm512_cvtph_ps(to_f16(_mm512_mul_ps(_mm512_loadu_ps(x + k), down)));
    _mm512_storeu_ps(o + k, _mm512_mul_ps(v, up));
  }
  if (k < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - k)) - 1);
    const __m512 v = _mm512_cvtph_ps(to_f16(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), down)));
    _mm512_mask_storeu_ps(o + k, m, _mm512_mul_ps(v, up));
  }
}

}  // namespace

DotKernel f16_dot_avx512_f16act() {
  static const DotKernel one_row{DType::F16, convert_f16_scaled, TileTable<F16Act>::tile,
                                 sizeof(float)};
  return {DType::F32, round_f16_scaled, TileTable<F32Act<LoadF16>>::tile, 0, &one_row};
}
DotKernel f16_dot_avx512_f32act() {
  return {DType::F32, copy_f32, TileTable<F32Act<LoadF16>>::tile};
}

DotKernel bf16_dot_avx512_dpbf16() {
  return {DType::BF16, convert_bf16, TileTable<BF16Act, kBf16Cols>::tile, 0, nullptr, kBf16Cols};
}
DotKernel bf16_dot_avx512_widen() {
  return {DType::F32, copy_f32, TileTable<F32Act<LoadBF16>>::tile};
}

DotKernel float_dot_avx512(DType weight) {
  switch (weight) {
    case DType::F32:
      return {DType::F32, copy_f32, TileTable<F32Act<LoadF32>>::tile};
    case DType::F16:
      // Activations rounded to f16, as ggml pairs with F16 weights, and read as f16 in decode: a
      // decode row of f32 activations (4 bytes per weight's 2) kept a 5632-wide single-row product
      // at ~0.5 of the read bandwidth (the activation row and the weight rows streaming past it
      // overflow L1), f16 ones at ~1.0. Batches read them widened to f32 (prefill ~10% faster
      // than converting in the tile).
      return f16_dot_avx512_f16act();
    case DType::BF16:
      // bf16 activations: 2× the products per instruction and half the activation bytes; prefill
      // measured ~2× faster than widening, decode equal (memory-bound). Cost: activations rounded
      // to 8 significant bits (≤ 2^-8 relative each), as ggml does for BF16 weights.
      return bf16_dot_avx512_dpbf16();
    default:
      return {};
  }
}

}  // namespace latent::kernels::cpu
