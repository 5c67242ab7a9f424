// Vectorisable loops for the linear-layer products (see linalg.h).
#include "train/linalg.h"

#define LATENT_TRAIN_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace latent::train {

constexpr int64_t kRows = 4, kCols = 16;

namespace {

// out[t,n] = Σ_k x[t,k]·w[n,k] in tiles of R tokens × Q weight rows: R·Q dot products accumulate
// side by side in C-wide partial sums, so each loaded chunk of x serves Q FMAs and each chunk of w
// R; the partial sums are reduced once at the end. Inlined into each clone below, so that it is
// compiled for that clone's instruction set.
template <int64_t R, int64_t Q, int64_t C>
[[gnu::always_inline]] inline void forward_dot_tiles(float* out, const float* x, const float* w,
                                                     int64_t T, int64_t N, int64_t K) {
  const int64_t TR = T - T % R, NQ = N - N % Q, KC = K - K % C;
  for (int64_t t = 0; t < TR; t += R) {
    for (int64_t n = 0; n < NQ; n += Q) {
      float acc[R][Q][C] = {};
      for (int64_t k = 0; k < KC; k += C)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t q = 0; q < Q; ++q) {
            const float *xr = x + (t + r) * K + k, *wq = w + (n + q) * K + k;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) acc[r][q][c] += xr[c] * wq[c];
          }
      for (int64_t r = 0; r < R; ++r)
        for (int64_t q = 0; q < Q; ++q) {
          float s = 0.0f;
          for (int64_t c = 0; c < C; ++c) s += acc[r][q][c];
          for (int64_t k = KC; k < K; ++k) s += x[(t + r) * K + k] * w[(n + q) * K + k];
          out[(t + r) * N + n + q] = s;
        }
    }
  }
  // Edges: tile rows past the last full block of weight rows, then tokens past the last tile.
  auto dot = [&](int64_t t, int64_t n) {
    float s = 0.0f;
    for (int64_t k = 0; k < K; ++k) s += x[t * K + k] * w[n * K + k];
    out[t * N + n] = s;
  };
  for (int64_t t = 0; t < TR; ++t)
    for (int64_t n = NQ; n < N; ++n) dot(t, n);
  for (int64_t t = TR; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) dot(t, n);
}

// 4 × 4 × 16: 16 accumulators, one AVX-512 register each.
LATENT_TRAIN_CLONES
void matmul_forward_wide(float* out, const float* x, const float* w, int64_t T, int64_t N,
                         int64_t K) {
  forward_dot_tiles<kRows, kRows, kCols>(out, x, w, T, N, K);
}

// 4 × 3 × 8: 12 accumulators for AVX2's 16 registers; each step loads 4 chunks of x and 3 of w
// for 12 FMAs.
LATENT_TRAIN_CLONES
void matmul_forward_narrow(float* out, const float* x, const float* w, int64_t T, int64_t N,
                           int64_t K) {
  forward_dot_tiles<4, 3, 8>(out, x, w, T, N, K);
}

}  // namespace

void matmul_forward(float* out, const float* x, const float* w, int64_t T, int64_t N, int64_t K) {
  // The 4 × 4 × 16 tiles keep 16 vector registers of partial sums with AVX-512 (of 32), but 32
  // with AVX2 (of 16), where they spilled and the forward ran at under half the backward's speed
  // per FLOP; without AVX-512 the narrower tiles run instead. AVX-512 keeps its tiles (and the
  // bits of the models trained with them).
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512)
    matmul_forward_wide(out, x, w, T, N, K);
  else
    matmul_forward_narrow(out, x, w, T, N, K);
}

// Both backward products are sums of outer products: a tile of 4 output rows × 16 columns is
// accumulated in registers over the reduced dimension (one 16-wide load and four broadcasts per
// four vector FMAs), then added to memory once. Edges that do not fill a tile take the plain loop.

LATENT_TRAIN_CLONES
void matmul_backward_x(float* dx, const float* dout, const float* w, int64_t T, int64_t N,
                       int64_t K) {
  // dx[t,k] += Σ_n dout[t,n]·w[n,k]
  const int64_t T4 = T - T % kRows, K16 = K - K % kCols;
  for (int64_t t = 0; t < T4; t += kRows) {
    for (int64_t k = 0; k < K16; k += kCols) {
      float acc[kRows][kCols] = {};
      for (int64_t n = 0; n < N; ++n) {
        const float* wn = w + n * K + k;
        for (int64_t r = 0; r < kRows; ++r) {
          const float g = dout[(t + r) * N + n];
#pragma omp simd
          for (int64_t c = 0; c < kCols; ++c) acc[r][c] += g * wn[c];
        }
      }
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t c = 0; c < kCols; ++c) dx[(t + r) * K + k + c] += acc[r][c];
    }
  }
  // Edges: rows past the last full tile (all columns), columns past the last tile (tile rows).
  auto plain = [&](int64_t t, int64_t k0) {
    for (int64_t n = 0; n < N; ++n) {
      const float g = dout[t * N + n];
      for (int64_t k = k0; k < K; ++k) dx[t * K + k] += g * w[n * K + k];
    }
  };
  for (int64_t t = 0; t < T4; ++t)
    if (K16 < K) plain(t, K16);
  for (int64_t t = T4; t < T; ++t) plain(t, 0);
}

LATENT_TRAIN_CLONES
void matmul_backward_w(float* dw, const float* dout, const float* x, int64_t T, int64_t N,
                       int64_t K) {
  // dw[n,k] += Σ_t dout[t,n]·x[t,k]
  const int64_t N4 = N - N % kRows, K16 = K - K % kCols;
  for (int64_t n = 0; n < N4; n += kRows) {
    for (int64_t k = 0; k < K16; k += kCols) {
      float acc[kRows][kCols] = {};
      for (int64_t t = 0; t < T; ++t) {
        const float* xt = x + t * K + k;
        for (int64_t r = 0; r < kRows; ++r) {
          const float g = dout[t * N + n + r];
#pragma omp simd
          for (int64_t c = 0; c < kCols; ++c) acc[r][c] += g * xt[c];
        }
      }
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t c = 0; c < kCols; ++c) dw[(n + r) * K + k + c] += acc[r][c];
    }
  }
  auto plain = [&](int64_t n, int64_t k0) {
    for (int64_t t = 0; t < T; ++t) {
      const float g = dout[t * N + n];
      for (int64_t k = k0; k < K; ++k) dw[n * K + k] += g * x[t * K + k];
    }
  };
  for (int64_t n = 0; n < N4; ++n)
    if (K16 < K) plain(n, K16);
  for (int64_t n = N4; n < N; ++n) plain(n, 0);
}

}  // namespace latent::train
