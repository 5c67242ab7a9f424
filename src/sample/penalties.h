// Logit bias and repetition penalties (repeat, frequency, presence) over a candidate list in
// vocabulary order (cands[id].id == id, as fill_candidates builds it). Owns the per-token counting
// scratch; does not own the filters (filters.h) or the chain order (sampler.h).
// Behaviour reference: llama.cpp's penalties sampler (src/llama-sampler.cpp) and OpenAI's
// frequency/presence penalty definition.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "sample/candidates.h"

namespace latent {

struct PenaltyParams {
  float repeat = 1.0f;     // 1 → off
  float frequency = 0.0f;  // 0 → off
  float presence = 0.0f;   // 0 → off
  int32_t last_n = 64;     // window of history penalised: 0 → off, -1 → the whole history

  // False when applying the penalties could not change any logit.
  bool active() const {
    return last_n != 0 && (repeat != 1.0f || frequency != 0.0f || presence != 0.0f);
  }
};

// Occurrence counts of token ids within a window, for a fixed vocabulary. Holds one int32 per
// token, allocated once; count() touches only the window's ids and clear() resets only those, so a
// call costs O(window), never O(n_vocab), and never allocates.
class TokenCounts {
 public:
  explicit TokenCounts(int32_t n_vocab);

  // Clears, then counts every id in window. Throws latent::Error naming "history" if an id is not
  // in [0, n_vocab).
  void count(std::span<const TokenId> window);
  void clear();

  int32_t operator[](TokenId id) const { return counts_[static_cast<size_t>(id)]; }
  // Distinct ids seen by the last count(), in order of first appearance.
  std::span<const TokenId> distinct() const { return distinct_; }

 private:
  std::vector<int32_t> counts_;
  std::vector<TokenId> distinct_;
};

// The last `last_n` tokens of history (all of it when last_n == -1 or history is shorter; none when
// last_n == 0).
std::span<const TokenId> penalty_window(std::span<const TokenId> history, int32_t last_n);

// l_id ← l_id + bias for each (id, bias) pair; a repeated id gets the sum of its biases. -inf bans.
// cands must be in vocabulary order; ids must be in range (Sampler validates them up front).
void apply_logit_bias(std::span<Candidate> cands,
                      std::span<const std::pair<TokenId, float>> logit_bias);

// For each distinct token t in the window, with c_t its count there (llama.cpp semantics: one
// window for all three penalties):
//   repeat:              l_t ← l_t > 0 ? l_t / repeat : l_t · repeat
//   frequency, presence: l_t ← l_t − c_t · frequency − (c_t > 0) · presence
// applied in that order. Tokens outside the window are untouched. cands must be in vocabulary
// order. `counts` is scratch (sized for the vocabulary); it is left holding the window's counts.
void apply_penalties(std::span<Candidate> cands, std::span<const TokenId> window,
                     const PenaltyParams& params, TokenCounts& counts);

}  // namespace latent
