// AVX2+FMA+F16C dot kernels for float weights: F32, F16 (vcvtph2ps) and BF16 (by a shift or a
// mask), all against f32 activations, so every product is exact and sums are f32. A tile holds up
// to 4 × 3 accumulators (16 ymm registers); 4 columns run as 2-row halves; tails go through
// zero-padded stack copies.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/float_ops.h"

namespace latent::kernels::cpu {
namespace {

// Weight loaders: 8 elements at index k of a row, widened to f32.
struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m256 at(const uint8_t* p, int64_t k) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + k);
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 at(const uint8_t* p, int64_t k) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * k)));
  }
};
// BF16 also reads 16 elements at a time (kPairs): a 32-bit lane holds elements 2i (low half) and
// 2i + 1 (high half), so one shift gives the even ones as f32 and one mask the odd ones, against
// activations stored in that order (convert_bf16_pairs). Half the work of widening 8 at a time.
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static constexpr bool kPairs = true;
  static __m256 at(const uint8_t* p, int64_t k) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m256 even(const uint8_t* p, int64_t k) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
  }
  static __m256 odd(const uint8_t* p, int64_t k) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * k));
    return _mm256_castsi256_ps(
        _mm256_and_si256(x, _mm256_set1_epi32(static_cast<int32_t>(0xFFFF0000u))));
  }
};
template <class L>
concept PairLoader = L::kPairs;

// Activations for LoadBF16: each whole block of 16 as its 8 even elements, then its 8 odd ones; a
// tail of fewer than 16 stays in order (the tile takes it 8 at a time).
void convert_bf16_pairs(const float* x, void* out, int64_t n) {
  auto* o = static_cast<float*>(out);
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    for (int i = 0; i < 8; ++i) {
      o[k + i] = x[k + 2 * i];
      o[k + 8 + i] = x[k + 2 * i + 1];
    }
  for (; k < n; ++k) o[k] = x[k];
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

using TileFn = void (*)(int64_t, const uint8_t*, int64_t, const uint8_t*, int64_t, float*, int64_t);

template <class L, int R, int C>
void tile_rc(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
             int64_t os) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* ac[C];
  for (int c = 0; c < C; ++c) ac[c] = reinterpret_cast<const float*>(a + c * as);
  int64_t k = 0;
  if constexpr (PairLoader<L>) {
    // Evens for every row, then odds: 12 accumulators, 3 activation vectors and one weight vector
    // fill the 16 registers, so the odd pass loads the weights again (from L1).
    for (; k + 16 <= n; k += 16) {
#pragma GCC unroll 2
      for (int odd = 0; odd < 2; ++odd) {
        __m256 av[C];
        for (int c = 0; c < C; ++c) av[c] = _mm256_loadu_ps(ac[c] + k + 8 * odd);
        for (int r = 0; r < R; ++r) {
          const __m256 wv = odd ? L::odd(w + r * ws, k) : L::even(w + r * ws, k);
          for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
        }
      }
    }
  }
  for (; k + 8 <= n; k += 8) {
    __m256 av[C];
    for (int c = 0; c < C; ++c) av[c] = _mm256_loadu_ps(ac[c] + k);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = L::at(w + r * ws, k);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
    }
  }
  if (k < n) {  // the last n−k < 8 elements, zero-padded
    const int64_t left = n - k;
    __m256 av[C];
    for (int c = 0; c < C; ++c) {
      float buf[8] = {};
      std::memcpy(buf, ac[c] + k, static_cast<size_t>(left) * sizeof(float));
      av[c] = _mm256_loadu_ps(buf);
    }
    for (int r = 0; r < R; ++r) {
      alignas(32) uint8_t buf[32] = {};
      std::memcpy(buf, w + r * ws + k * L::kBytes, static_cast<size_t>(left) * L::kBytes);
      const __m256 wv = L::at(buf, 0);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
    }
  }
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) out[c * os + r] = hsum(acc[r][c]);
}

template <class L>
struct Tiles {
  static constexpr TileFn fns[4][4] = {
      {tile_rc<L, 1, 1>, tile_rc<L, 1, 2>, tile_rc<L, 1, 3>, tile_rc<L, 1, 4>},
      {tile_rc<L, 2, 1>, tile_rc<L, 2, 2>, tile_rc<L, 2, 3>, tile_rc<L, 2, 4>},
      {tile_rc<L, 3, 1>, tile_rc<L, 3, 2>, tile_rc<L, 3, 3>, nullptr},
      {tile_rc<L, 4, 1>, tile_rc<L, 4, 2>, tile_rc<L, 4, 3>, nullptr}};
  // Up to 12 accumulators per call (4 rows × 3 columns, with 3 activation vectors and one weight
  // vector: all 16 registers); 4 columns take the rows two at a time.
  static void tile(int64_t n, const uint8_t* w, int64_t ws, int nr, const uint8_t* a, int64_t as,
                   int nc, float* out, int64_t os) {
    if (nr <= 0 || nc <= 0) return;
    if (nc <= 3) {
      fns[nr - 1][nc - 1](n, w, ws, a, as, out, os);
      return;
    }
    for (int r = 0; r < nr; r += 2) {
      const int rows = nr - r < 2 ? nr - r : 2;
      fns[rows - 1][nc - 1](n, w + r * ws, ws, a, as, out + r, os);
    }
  }
};

void copy_f32(const float* x, void* out, int64_t n) {
  std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
}

// Activation rows per tile: 4×3 keeps 12 products per weight vector and 4 per activation vector
// in flight, against 8 and 2 for the 2×4 halves.
constexpr int kCols = 3;

}  // namespace

DotKernel float_dot_avx2(DType weight) {
  switch (weight) {
    case DType::F32:
      return {DType::F32, copy_f32, Tiles<LoadF32>::tile, 0, nullptr, kCols};
    case DType::F16:
      return {DType::F32, copy_f32, Tiles<LoadF16>::tile, 0, nullptr, kCols};
    case DType::BF16:
      return {DType::F32, convert_bf16_pairs, Tiles<LoadBF16>::tile, 0, nullptr, kCols};
    default:
      return {};
  }
}

}  // namespace latent::kernels::cpu
