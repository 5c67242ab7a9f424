// The three matrix products of a linear layer's forward and backward pass, in latent's convention
// out[T,N] = x[T,K]·w[N,K]ᵀ (a weight's rows are output features). Loops over small register
// tiles written so the compiler vectorises them (no intrinsics); each is compiled for x86-64-v4
// (AVX-512), v3 (AVX2+FMA) and the baseline and picked at load time (GCC target_clones), since the
// project builds for the baseline ISA by default. Single-threaded: training parallelises over the
// sequences of a batch instead.
#pragma once

#include <cstdint>

namespace latent::train {

// out[t,n] = Σ_k x[t,k]·w[n,k]
void matmul_forward(float* out, const float* x, const float* w, int64_t T, int64_t N, int64_t K);
// dx[t,k] += Σ_n dout[t,n]·w[n,k]
void matmul_backward_x(float* dx, const float* dout, const float* w, int64_t T, int64_t N,
                       int64_t K);
// dw[n,k] += Σ_t dout[t,n]·x[t,k]
void matmul_backward_w(float* dw, const float* dout, const float* x, int64_t T, int64_t N,
                       int64_t K);

}  // namespace latent::train
