// Declarations of the float fast paths compiled per ISA (cpu/avx512/, cpu/avx2/): dot kernels for
// F32/F16/BF16 weights, one (token, head) of fused online-softmax attention, and the elementwise
// rows. No intrinsics here; register_float.cpp and cpu_kernels.cpp choose by active_isa().
#pragma once

#include <cstdint>

#include "kernels/cpu/dot_kernels.h"
#include "kernels/kernels.h"

namespace latent::kernels::cpu {

// Float-weight dot kernels (F32: f32 activations; F16 and BF16: see float_dot_avx512.cpp). A type
// without a kernel at that ISA returns a DotKernel with tile == nullptr.
DotKernel float_dot_avx512(DType weight);
DotKernel float_dot_avx2(DType weight);
// The two BF16 strategies on AVX-512, exposed for bench_float: bf16 activations + vdpbf16ps, and
// bf16 weights widened to f32 against f32 activations (exact products).
DotKernel bf16_dot_avx512_dpbf16();
// The two F16 strategies on AVX-512: activations rounded to f16 (scaled per row by a power of two;
// the default; its one_row kernel reads them as f16), and f32 activations.
DotKernel f16_dot_avx512_f16act();
DotKernel f16_dot_avx512_f32act();
DotKernel bf16_dot_avx512_widen();

// Row-wise float ops for one ISA; every pointer is set.
struct FloatOps {
  // out = x / sqrt(mean(x²) + eps) ⊙ w for one row of n (sum of squares in double, as ref/).
  void (*rms_norm_row)(const float* x, const float* w, int64_t n, float eps, float* out);
  void (*add)(const float* a, const float* b, int64_t n, float* out);
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);
  // One (token, head): out = Σ_{j ≤ pos} softmax_j(scale · q·k_j) · v_j with a running max and sum
  // (one pass over K and V, no score vector), rows j found through `table` in kv (kv.tables is
  // not read). The running max/sum advance over fixed groups of logical positions, so the result
  // does not depend on the block size or on which blocks hold the rows.
  void (*attention_head)(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                         int64_t kv_head, float* out, const AttentionParams& p);
  // Optional (null: the reference path): the same for n_q ≤ kMaxWideGroup consecutive query heads
  // sharing kv_head (q and out point at the first, head_dim apart), with q and the accumulator in
  // L1 scratch instead of registers: each row is read once for all of them. Used for heads wider
  // than kMaxFastHeadDim (deepseek2's MLA attends over 576-float latent rows) and for grouped-query
  // attention. A head's result does not depend on n_q.
  void (*attention_heads_wide)(const float* q, const PagedKvView& kv, const int32_t* table,
                               int32_t pos, int64_t kv_head, int64_t n_q, float* out,
                               const AttentionParams& p) = nullptr;
};
inline constexpr int64_t kMaxWideHeadDim = 1024;
inline constexpr int64_t kMaxWideGroup = 16;
void attention_heads_wide_avx512(const float* q, const PagedKvView& kv, const int32_t* table,
                                 int32_t pos, int64_t kv_head, int64_t n_q, float* out,
                                 const AttentionParams& p);
void attention_heads_wide_avx2(const float* q, const PagedKvView& kv, const int32_t* table,
                               int32_t pos, int64_t kv_head, int64_t n_q, float* out,
                               const AttentionParams& p);
void attention_head_avx512(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                           int64_t kv_head, float* out,
                           const AttentionParams& p);  // head_dim ≤ 256
void attention_head_avx2(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                         int64_t kv_head, float* out, const AttentionParams& p);  // head_dim ≤ 256
// Offsets (floats from the layer base) of one sequence's cache rows in position order, walked
// block by block: a block's rows are contiguous, so the next row costs an add, and the table is
// read only when a new block starts (never past the block of the last position asked for).
class PagedRowCursor {
 public:
  PagedRowCursor(const int32_t* table, int32_t block_size, int64_t stride)
      : table_(table),
        block_size_(block_size),
        stride_(stride),
        block_floats_(int64_t{block_size} * stride),
        base_(int64_t{table[0]} * block_floats_) {}
  int64_t next() {
    if (row_ == block_size_) {
      row_ = 0;
      base_ = int64_t{table_[++block_]} * block_floats_;
    }
    return base_ + int64_t{row_++} * stride_;
  }

 private:
  const int32_t* table_;
  int32_t block_size_, block_ = 0, row_ = 0;
  int64_t stride_, block_floats_, base_;
};

inline constexpr int64_t kMaxFastHeadDim = 256;
const FloatOps& float_ops_avx512();
const FloatOps& float_ops_avx2();

}  // namespace latent::kernels::cpu
