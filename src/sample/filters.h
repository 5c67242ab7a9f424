// Truncation and shaping steps over a candidate list: top-k, top-p (nucleus), min-p, temperature.
// Each keeps at least one row (the top-ranked one) and matches llama.cpp's samplers of the same
// name (src/llama-sampler.cpp) in what survives. None renormalises: call softmax() afterwards for
// the survivors' probabilities. Penalties live in penalties.h, the draw in rng.h.
#pragma once

#include <cstdint>
#include <vector>

#include "sample/candidates.h"

namespace latent {

// Keeps the k top-ranked rows (ranks_before: logit desc, ties → lower id), leaving them in ranked
// order. k <= 0 or k >= size: no-op (the list is left as it was, unsorted).
// Cost: nth_element O(n) + sort of the kept prefix O(k log k); never a full sort of the vocabulary.
void apply_top_k(std::vector<Candidate>& cands, int32_t k);

// Nucleus: with p_i = softmax(logits) over the current rows, in ranked order, keeps the smallest
// prefix whose cumulative probability Σ_{j<=i} p_j >= top_p (at least one row). top_p >= 1: no-op.
// Leaves the survivors in ranked order, `p` still the pre-truncation softmax (not renormalised).
// Cost: one softmax pass, then, if the list is not already ranked: below 4096 rows partial_sort
// ranks a growing prefix (256, 512, 1024 …); above, a histogram of probability mass over logit
// buckets finds which rows can be in the nucleus and only those are sorted (never the vocabulary).
void apply_top_p(std::vector<Candidate>& cands, float top_p);

// Keeps rows with p_i >= min_p · p_max, computed on logits without a softmax:
//   p_i / p_max = exp(l_i - l_max) >= min_p  ⇔  l_i >= l_max + ln(min_p).
// The max row always survives. min_p <= 0: no-op. Stable: the relative order of rows is kept.
void apply_min_p(std::vector<Candidate>& cands, float min_p);

// l_i ← l_i / T for T > 0 (so softmax gives p_i ∝ exp(l_i / T)). T <= 0 means greedy: keeps only
// the top-ranked row (ties → lower id), as llama.cpp's temp sampler does with T <= 0.
void apply_temperature(std::vector<Candidate>& cands, float temperature);

}  // namespace latent
