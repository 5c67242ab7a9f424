// Logit bias, token counting and the repeat/frequency/presence penalties (see penalties.h).
// Hot path: O(window + distinct tokens) per call, no allocation after TokenCounts is built.
#include "sample/penalties.h"

#include <string>

#include "base/check.h"
#include "base/error.h"

namespace latent {

TokenCounts::TokenCounts(int32_t n_vocab) : counts_(static_cast<size_t>(n_vocab), 0) {
  // At most n_vocab distinct ids can ever be recorded, so distinct_ never reallocates later.
  distinct_.reserve(static_cast<size_t>(n_vocab));
}

void TokenCounts::clear() {
  for (TokenId id : distinct_) counts_[static_cast<size_t>(id)] = 0;
  distinct_.clear();
}

void TokenCounts::count(std::span<const TokenId> window) {
  clear();
  const auto n_vocab = static_cast<TokenId>(counts_.size());
  for (TokenId id : window) {
    if (id < 0 || id >= n_vocab) {
      clear();
      throw Error::field("sampler", "history", "token ids in [0, " + std::to_string(n_vocab) + ")",
                         std::to_string(id));
    }
    if (counts_[static_cast<size_t>(id)]++ == 0) distinct_.push_back(id);
  }
}

std::span<const TokenId> penalty_window(std::span<const TokenId> history, int32_t last_n) {
  if (last_n == 0) return {};
  if (last_n < 0 || static_cast<size_t>(last_n) >= history.size()) return history;
  return history.last(static_cast<size_t>(last_n));
}

void apply_logit_bias(std::span<Candidate> cands,
                      std::span<const std::pair<TokenId, float>> logit_bias) {
  for (const auto& [id, bias] : logit_bias) {
    LATENT_CHECK(id >= 0 && static_cast<size_t>(id) < cands.size());
    Candidate& c = cands[static_cast<size_t>(id)];
    LATENT_CHECK(c.id == id);  // vocabulary order
    c.logit += bias;
  }
}

void apply_penalties(std::span<Candidate> cands, std::span<const TokenId> window,
                     const PenaltyParams& params, TokenCounts& counts) {
  if (!params.active()) return;
  counts.count(window);
  for (TokenId id : counts.distinct()) {
    LATENT_CHECK(static_cast<size_t>(id) < cands.size());
    Candidate& c = cands[static_cast<size_t>(id)];
    LATENT_CHECK(c.id == id);  // vocabulary order
    // Repeat penalty (CTRL paper, with llama.cpp's sign fix): dividing a negative logit would raise
    // it, so negative logits are multiplied instead. Both push the logit away from being chosen.
    if (c.logit > 0.0f) {
      c.logit /= params.repeat;
    } else {
      c.logit *= params.repeat;
    }
    // OpenAI: μ_t ← μ_t − c_t · α_frequency − 1[c_t > 0] · α_presence  (c_t > 0 for every id here).
    const int32_t n = counts[id];
    c.logit -= static_cast<float>(n) * params.frequency + params.presence;
  }
}

}  // namespace latent
