// Candidate lists: the (token, logit, probability) rows every sampling step works on, their one
// sort order, softmax and argmax. Owns the representation, not the filters (filters.h), the
// penalties (penalties.h) or the random draw (rng.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/ids.h"

namespace latent {

// One row of the distribution being shaped. `p` is meaningful only after softmax() (or after a step
// that documents that it leaves `p` normalised); the filters themselves only move and drop rows.
struct Candidate {
  TokenId id;
  float logit;
  float p;
};

// The one ranking used by every step: higher logit first, equal logits broken by lower id. It is a
// strict total order on NaN-free rows, so which token survives a tie (and the order rows end up in)
// is the same with every standard library and every sort algorithm.
inline bool ranks_before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// out[i] = {i, logits[i], 0} for the whole vocabulary ("vocabulary order": out[i].id == i).
// NaN logits become -inf so that the sort order above stays total. Reuses out's capacity: after the
// first call with a given vocabulary size this does not allocate.
void fill_candidates(std::span<const float> logits, std::vector<Candidate>& out);

// p_i = exp(l_i - l_max) / Σ_j exp(l_j - l_max), max-subtracted for range, Σ kept in double.
// Throws latent::Error when every logit is -inf (every token banned: nothing to sample).
void softmax(std::span<Candidate> cands);

// Index into cands of the top-ranked row (highest logit, ties → lowest id). Never sorts.
// Throws latent::Error when cands is empty or every logit is -inf.
size_t argmax(std::span<const Candidate> cands);

// Token id with the highest logit, ties → lowest id (the first one met scanning ids upwards); NaN
// is never chosen. Never sorts, never copies. Throws latent::Error when no logit is above -inf.
TokenId argmax(std::span<const float> logits);

// True when cands is in ranks_before order. Stops at the first row out of order, so on a list in
// vocabulary order it costs a handful of comparisons, not a pass.
bool is_ranked(std::span<const Candidate> cands);

}  // namespace latent
