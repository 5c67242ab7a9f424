// Sampler: the per-sequence sampling chain from logits to one token, with its parameters, their
// validation, reusable buffers and seeded RNG. Owns the chain order; the steps themselves live in
// penalties.h, filters.h and rng.h and can be used (and tested) on their own. Does not know about
// grammars (grammar/ masks logits before this) or batches (the engine keeps one per sequence).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "sample/candidates.h"
#include "sample/penalties.h"
#include "sample/rng.h"

namespace latent {

struct SamplerParams {
  float temperature = 0.8f;  // <= 0 → greedy (argmax, ties → lowest id); NaN rejected
  int32_t top_k = 40;        // <= 0 → off
  float top_p = 0.95f;       // >= 1 → off; must be >= 0
  float min_p = 0.05f;       // <= 0 → off; must be <= 1
  // llama.cpp semantics: for tokens in the last repeat_last_n of the history,
  // logit > 0 ? logit / repeat_penalty : logit · repeat_penalty. Must be > 0; 1 → off.
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;  // 0 → off, -1 → whole history; the window of all three penalties
  // OpenAI: logit −= count · frequency_penalty + (count > 0) · presence_penalty, count taken over
  // the same window as repeat_penalty (as llama.cpp does). Any finite value; 0 → off.
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  // A FIXED default, unlike llama.cpp where 0xFFFFFFFF means "pick a random seed": a run is
  // reproducible unless the caller passes a seed of its own (cli/ or server/ may take the clock).
  uint64_t seed = 0xFFFFFFFF;
  // Added to the raw logits before every other step; ids must be in [0, n_vocab), biases not NaN
  // and not +inf (-inf bans a token). A repeated id gets the sum of its biases.
  std::vector<std::pair<TokenId, float>> logit_bias;
};

// Throws latent::Error naming the offending field ("sampler: <field>: expected …, found …").
void validate_sampler_params(const SamplerParams& params, int32_t n_vocab);

// Chain, in llama.cpp's default order:
//   logit_bias → penalties (repeat, frequency, presence) → top-k → top-p → min-p → temperature →
//   softmax → draw
// Greedy (temperature <= 0) stops after the penalties and takes the argmax without sorting; the
// filters could not change its answer since each keeps the top-ranked token.
// Reproducibility: the RNG and every ordering decision are specified exactly, so the same seed,
// logits and history give the same tokens on any standard library; only the last ulp of exp() can
// differ between math libraries.
// One Sampler per sequence; not thread-safe. sample() does not allocate after the first call.
class Sampler {
 public:
  Sampler(const SamplerParams& params, int32_t n_vocab);

  // logits: the model's output for the next position, n_vocab values.
  // history: tokens of the sequence so far (prompt + generated), for the penalties.
  // Throws latent::Error if logits has the wrong size, every token is banned (-inf), or a penalty
  // is active and a history id in its window is out of range.
  TokenId sample(std::span<const float> logits, std::span<const TokenId> history);

  // The final distribution the last sample() drew from: the surviving candidates with their
  // probabilities (log p_i for logprobs), in the order the draw walked them. After a greedy
  // sample() it is the single chosen token with p = 1. Empty before the first sample(); valid until
  // the next one.
  std::span<const Candidate> last_distribution() const { return candidates_; }

  // Restarts the random sequence as if constructed with this seed.
  void reseed(uint64_t seed) { rng_.reseed(seed); }

  const SamplerParams& params() const { return params_; }
  int32_t n_vocab() const { return n_vocab_; }

 private:
  TokenId sample_greedy(std::span<const float> logits, std::span<const TokenId> window);

  SamplerParams params_;
  int32_t n_vocab_;
  PenaltyParams penalties_;
  Rng rng_;
  std::vector<Candidate> candidates_;  // reused every call; capacity n_vocab
  TokenCounts counts_;
};

}  // namespace latent
