// Reference DeepSeekMoE routing (kernels.h moe_route): probabilities, biased selection scores,
// group limiting and a tie-stable top-k, one token at a time. Does not run the experts.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace latent::kernels::ref {
namespace {

// Indices of the k largest values of s[0..n), descending, ties → lowest index.
void top_k(const float* s, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& idx) {
  idx.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = static_cast<int32_t>(i);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [s](int32_t a, int32_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  std::copy(idx.begin(), idx.begin() + k, out);
}

// p = softmax(x) (max-subtracted) or σ(x) = 1 / (1 + e^{−x}).
void probabilities(const float* x, int64_t n, MoeGating g, float* p) {
  if (g == MoeGating::kSigmoid) {
    for (int64_t i = 0; i < n; ++i) p[i] = 1.0f / (1.0f + std::exp(-x[i]));
    return;
  }
  const float mx = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += (p[i] = std::exp(x[i] - mx));
  for (int64_t i = 0; i < n; ++i) p[i] /= sum;
}

}  // namespace

void moe_route(const float* logits, int64_t n_tokens, const MoeRouteParams& p, int32_t* ids,
               float* weights) {
  const int64_t E = p.n_expert, K = p.n_used, G = p.n_group, per = E / G;
  std::vector<float> prob(E), sel(E), group(G);
  std::vector<int32_t> idx, best_groups(G);
  std::vector<char> keep(static_cast<size_t>(G));
  for (int64_t t = 0; t < n_tokens; ++t) {
    probabilities(logits + t * E, E, p.gating, prob.data());
    // s = p + bias: the bias steers the choice only; weights come from p
    for (int64_t e = 0; e < E; ++e) sel[e] = prob[e] + (p.bias ? p.bias[e] : 0.0f);
    if (G > 1) {
      // group score: max (V2) or sum of the two largest (V3)
      for (int64_t g = 0; g < G; ++g) {
        const float* s = sel.data() + g * per;
        float a = -INFINITY, b = -INFINITY;  // a ≥ b: the two largest
        for (int64_t i = 0; i < per; ++i) {
          if (s[i] > a) {
            b = a;
            a = s[i];
          } else if (s[i] > b) {
            b = s[i];
          }
        }
        group[g] = p.group_score == MoeGroupScore::kMax ? a : a + (per > 1 ? b : 0.0f);
      }
      top_k(group.data(), G, p.n_group_used, best_groups.data(), idx);
      std::fill(keep.begin(), keep.end(), 0);
      for (int64_t i = 0; i < p.n_group_used; ++i) keep[best_groups[i]] = 1;
      for (int64_t e = 0; e < E; ++e)
        if (!keep[e / per]) sel[e] = -INFINITY;
    }
    int32_t* id = ids + t * K;
    float* w = weights + t * K;
    top_k(sel.data(), E, K, id, idx);
    float sum = 0.0f;
    for (int64_t i = 0; i < K; ++i) sum += (w[i] = prob[id[i]]);
    // w = p / max(Σp, 2^−14) when normalised, then × scale
    const float div = p.norm_weights ? std::max(sum, 6.103515625e-5f) : 1.0f;
    for (int64_t i = 0; i < K; ++i) w[i] = w[i] / div * p.scale;
  }
}

}  // namespace latent::kernels::ref
