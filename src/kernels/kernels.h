// THE kernels interface: every numeric primitive the model code calls. Kernels know nothing of
// models or GGUF keys; they see float buffers and TensorViews. Implementations: ref/ (scalar,
// formula-commented, the test oracle) and cpu/ (threaded; SIMD lives only there). Selection happens
// here, not in models. Shapes are outermost-first; the one matmul convention is out[M,N] = x[M,K] ·
// w[N,K]ᵀ.
#pragma once

#include <cstdint>

#include "tensor/tensor_view.h"

namespace latent::kernels {

// Threads used by the threaded kernels (default: all hardware threads). Not thread-safe to change
// while kernels run.
void set_num_threads(int n);
int num_threads();

// out[M,N] = x[M,K] · w[N,K]ᵀ for a weight of any dequantizable dtype (w.cols() == K, w.rows() ==
// N).
void matmul(const float* x, int64_t m, const TensorView& w, float* out);

// out[i,:] = dequantized row ids[i] of table (an embedding lookup). table is [n_rows, n].
void get_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out);

// RMSNorm over rows of length n: out = x / sqrt(mean(x²) + eps) ⊙ weight. In-place allowed.
void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* out);

// x[r,:] += bias[:] for rows of length n.
void add_bias(float* x, const float* bias, int64_t rows, int64_t n);
// out[i] = a[i] + b[i]. In-place allowed.
void add(const float* a, const float* b, int64_t n, float* out);
// out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^{−g}). In-place allowed.
void swiglu(const float* gate, const float* up, int64_t n, float* out);

enum class RopeMode {
  kNorm,
  kNeox
};  // adjacent pairs (x[2i], x[2i+1]) vs halves (x[i], x[i+n_rot/2])

struct RopeParams {
  RopeMode mode = RopeMode::kNorm;
  int32_t n_rot = 0;           // rotated dims per head (≤ head_dim); the rest pass through
  float freq_base = 10000.0f;  // θ_i = p · freq_scale · base^(−2i/n_rot) / freq_factors[i]
  float freq_scale = 1.0f;     // 1/factor for linear scaling
  const float* freq_factors = nullptr;  // [n_rot/2] or null (Llama 3 rope_freqs)
};
// Rotates x[t, h, 0..n_rot) in place for T tokens of n_heads heads of head_dim values at positions
// pos[t].
void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& params);

struct AttentionParams {
  int64_t n_tokens = 0;  // query rows
  int64_t n_head = 0;
  int64_t n_head_kv =
      0;  // n_head % n_head_kv == 0 (GQA: query head h reads kv head h / (n_head/n_head_kv))
  int64_t head_dim = 0;
  int64_t kv_stride =
      0;  // floats between consecutive positions in k/v (n_head_kv · head_dim for a dense cache)
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
};
// Causal attention against a cache: for token t (at absolute position pos[t]) and head h,
// out[t,h,:] = Σ_{j ≤ pos[t]} softmax_j(scale · q[t,h,:]·k[j,g,:]) · v[j,g,:]. k and v hold
// positions 0..max(pos) already written. Never materialises a [T×T] score matrix.
void attention(const float* q, const float* k, const float* v, const int32_t* pos, float* out,
               const AttentionParams& params);

}  // namespace latent::kernels
