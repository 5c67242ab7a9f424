// Reference causal attention against a paged KV cache, one (token, head) at a time with a score
// vector of length pos+1 — O(T) scratch, never a [T×T] matrix. Rows are located with the paging
// formula itself (block table[j / B], row j % B), the definition the fast paths' cursors follow.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace latent::kernels::ref {

void attention_head(const float* q, const PagedKvView& kv, const int32_t* table, int32_t pos,
                    int64_t kv_head, float* out, float* scores, const AttentionParams& p) {
  const int64_t d = p.head_dim, B = kv.block_size;
  // row(j) = table[j / B]·B·stride + (j mod B)·stride + kv_head·d
  auto row = [&](int32_t j) {
    return (int64_t{table[j / B]} * B + j % B) * p.kv_stride + kv_head * d;
  };
  // s_j = scale · q·k_j for j = 0..pos
  float max_score = -INFINITY;
  for (int32_t j = 0; j <= pos; ++j) {
    scores[j] = p.scale * dot(q, kv.k + row(j), d);
    max_score = std::max(max_score, scores[j]);
  }
  // a_j = e^{s_j − max} / Σ e^{s − max}
  float sum = 0.0f;
  for (int32_t j = 0; j <= pos; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  // out = Σ_j a_j · v_j
  for (int64_t i = 0; i < d; ++i) out[i] = 0.0f;
  for (int32_t j = 0; j <= pos; ++j) {
    const float a = scores[j] / sum;
    const float* vj = kv.v + row(j);
    for (int64_t i = 0; i < d; ++i) out[i] += a * vj[i];
  }
}

void attention(const float* q, const PagedKvView& kv, const int32_t* pos, float* out,
               const AttentionParams& p) {
  int32_t max_pos = 0;
  for (int64_t t = 0; t < p.n_tokens; ++t) max_pos = std::max(max_pos, pos[t]);
  std::vector<float> scores(static_cast<size_t>(max_pos) + 1);
  const int64_t group = p.n_head / p.n_head_kv;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t h = 0; h < p.n_head; ++h) {
      const int64_t off = (t * p.n_head + h) * p.head_dim;
      attention_head(q + off, kv, kv.tables[t], pos[t], h / group, out + off, scores.data(), p);
    }
  }
}

void attention(const float* q, const float* k, const float* v, const int32_t* pos, float* out,
               const AttentionParams& p) {
  // A dense cache is one block holding every position.
  int32_t max_pos = 0;
  for (int64_t t = 0; t < p.n_tokens; ++t) max_pos = std::max(max_pos, pos[t]);
  const int32_t block0 = 0;
  const std::vector<const int32_t*> tables(static_cast<size_t>(p.n_tokens), &block0);
  ref::attention(q, PagedKvView{k, v, tables.data(), max_pos + 1}, pos, out, p);
}

}  // namespace latent::kernels::ref
