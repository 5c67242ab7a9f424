// Scalar reference kernels: one loop per formula, single-threaded. They are the oracle the fast
// paths in cpu/ are tested against and the fallback for any shape the fast paths do not take. Same
// contracts as kernels.h.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace latent::kernels::ref {

// Σ_k a[k]·b[k] in f32.
float dot(const float* a, const float* b, int64_t n);
// out[m, n0..n1) of out[M,N] = x[M,K] · w[N,K]ᵀ; row_buf holds K floats of scratch.
void matmul_rows(const float* x, int64_t m, const TensorView& w, int64_t n0, int64_t n1, float* out,
                 float* row_buf);
void matmul(const float* x, int64_t m, const TensorView& w, float* out);
void get_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out);
void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* out);
void add_bias(float* x, const float* bias, int64_t rows, int64_t n);
void add(const float* a, const float* b, int64_t n, float* out);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// cs[2i], cs[2i+1] = mscale·cos θ_i, mscale·sin θ_i of position pos for the n_rot/2 pairs.
void rope_cos_sin(const RopeParams& p, int32_t pos, float* cs);
// Rotates one token's n_heads heads (head_dim apart) by the pairs' cs.
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, const float* cs, const RopeParams& p);
void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& params);
// One (token, head) of attention through block table `table`; scores holds pos+1 floats of
// scratch.
void attention_head(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                    int64_t kv_head, float* out, float* scores, const AttentionParams& params);
void attention(const float* q, const PagedKvView& kv, const int32_t* pos, float* out,
               const AttentionParams& params);
void attention(const float* q, const float* k, const float* v, const int32_t* pos, float* out,
               const AttentionParams& params);
void moe_route(const float* logits, int64_t n_tokens, const MoeRouteParams& params, int32_t* ids,
               float* weights);

}  // namespace latent::kernels::ref
