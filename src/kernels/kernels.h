// THE kernels interface: every numeric primitive the model code calls. Kernels know nothing of
// models or GGUF keys; they see float buffers and TensorViews. Implementations: ref/ (scalar,
// formula-commented, the test oracle) and cpu/ (threaded; SIMD lives only there). Selection happens
// here, not in models. Shapes are outermost-first; the one matmul convention is out[M,N] = x[M,K] ·
// w[N,K]ᵀ.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "tensor/tensor_view.h"

namespace latent::kernels {

// Threads used by the threaded kernels (default: all hardware threads). Not thread-safe to change
// while kernels run.
void set_num_threads(int n);
int num_threads();
// Ends the calling thread's kernel worker threads (the next kernel call on it starts new ones).
// Call it on a thread that ran kernels (e.g. load-time repacking) before another thread takes over
// the kernel work: OpenMP workers spin between parallel regions only while no more of them exist
// than cores, so a second idle team would make every region of the working team sleep and wake.
void release_worker_threads();

// out[M,N] = x[M,K] · w[N,K]ᵀ for a weight of any dequantizable dtype (w.cols() == K, w.rows() ==
// N).
void matmul(const float* x, int64_t m, const TensorView& w, float* out);

// Several independent products out_i = x_i · w_iᵀ at once, as matmul computes each (bitwise the
// same results), sharing one fork/join: the many small products of per-head and per-expert weights
// would otherwise pay a thread wake-up and a barrier each. Outputs must not overlap any input.
struct MatmulJob {
  const float* x = nullptr;
  int64_t m = 0;
  const TensorView* w = nullptr;
  float* out = nullptr;
};
void matmul_batch(std::span<const MatmulJob> jobs);

// Optional, at load: re-lays out a 2-D matmul weight for the active ISA's fastest kernel (Q4_0,
// Q8_0, Q4_K and Q6_K on AVX-512: rows interleaved in groups of 16), or copies it as it is where
// there is no such layout, and points w.data at the new buffer, which the returned handle owns (the
// view is valid while it lives). Returns nullptr and leaves w alone if w is not a 2-D weight with
// data. Every kernel still accepts the view at any ISA (matmul and get_rows read a prepared buffer
// through an exact unpack where they lack a packed path), but the results of the packed kernel are
// its own: prepare a weight for all its calls or none.
std::shared_ptr<const void> prepare_weights(TensorView& w);
// The same for many weights at once, all copies in one buffer the returned handle owns, on 2 MiB
// pages where the OS allows (decode streams every weight once per token; 4 KiB pages cost it TLB
// misses). done(original view) runs after each weight is copied, so the caller can release the
// original's pages before the next one is read. Returns nullptr and changes nothing when the
// copies would take more than 80% of the machine's RAM.
std::shared_ptr<const void> prepare_weights(
    std::span<TensorView* const> weights,
    const std::function<void(const TensorView& original)>& done);

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
  // YaRN (ggml's rope_yarn): with ext_factor ≠ 0, pair i blends the interpolated angle θ_i and the
  // extrapolated one θ_i/freq_scale by r_i = ext_factor·(1 − clamp((i − yarn_low)/max(0.001,
  // yarn_high − yarn_low), 0, 1)): θ = θ_interp·(1 − r_i) + θ_extrap·r_i. cos and sin are scaled by
  // mscale (1 unless the caller folds an attention factor into the rotation).
  float ext_factor = 0.0f;
  float yarn_low = 0.0f, yarn_high = 0.0f;
  float mscale = 1.0f;
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

// One layer of a paged KV cache as attention reads it: position j of query token t's sequence is
// row j % block_size of block tables[t][j / block_size], and block b's rows start at
// k + b·block_size·kv_stride (v likewise; v may equal k). Rows inside a block are kv_stride floats
// apart. Each token names its own table, so one call serves tokens of many sequences.
struct PagedKvView {
  const float* k = nullptr;
  const float* v = nullptr;
  const int32_t* const* tables = nullptr;  // [n_tokens]: the block table of each token's sequence
  int32_t block_size = 0;
};

// Causal attention against a paged cache: for token t (at absolute position pos[t] of its sequence)
// and head h, out[t,h,:] = Σ_{j ≤ pos[t]} softmax_j(scale · q[t,h,:]·k[j,g,:]) · v[j,g,:] with k_j,
// v_j read through t's block table. Positions 0..pos[t] must be written. Never materialises a
// [T×T] score matrix. A token's result depends only on its own q, position and cache rows — not
// on the other tokens of the call nor on where its blocks sit or how large they are (the softmax
// runs over fixed groups of logical positions), which is what makes batching invisible.
void attention(const float* q, const PagedKvView& kv, const int32_t* pos, float* out,
               const AttentionParams& params);
// The same over one dense cache (k, v hold positions 0..max(pos) kv_stride apart): a single block.
void attention(const float* q, const float* k, const float* v, const int32_t* pos, float* out,
               const AttentionParams& params);

// DeepSeekMoE routing (DeepSeek-V2/V3 papers; llama.cpp build_moe_ffn). Per token: probabilities p
// = softmax(logits) or sigmoid(logits); selection scores s = p + bias (bias only chooses, V3); with
// n_group > 1 the experts form n_group equal groups, each scored by its max (V2) or the sum of its
// top two (V3), and all but the best n_group_used groups are masked to −∞; the n_used highest s are
// chosen (ties → lowest index), in descending order. Weights are p of the chosen, divided by their
// sum when norm_weights (sum clamped to ≥ 2^−14 as llama.cpp does), times scale.
enum class MoeGating { kSoftmax, kSigmoid };
enum class MoeGroupScore { kMax, kTop2Sum };
struct MoeRouteParams {
  int64_t n_expert = 0;
  int64_t n_used = 0;
  int64_t n_group = 1;  // 1: no group limit
  int64_t n_group_used = 1;
  MoeGating gating = MoeGating::kSoftmax;
  MoeGroupScore group_score = MoeGroupScore::kMax;
  const float* bias = nullptr;  // [n_expert] selection bias or null
  bool norm_weights = false;
  float scale = 1.0f;
};
// logits [n_tokens, n_expert] → ids [n_tokens, n_used], weights [n_tokens, n_used].
void moe_route(const float* logits, int64_t n_tokens, const MoeRouteParams& params, int32_t* ids,
               float* weights);

}  // namespace latent::kernels
