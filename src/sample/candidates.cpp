// Candidate list building, softmax and argmax (see candidates.h). Hot path: no allocation once the
// caller's buffer has reached the vocabulary size, one pass per step.
#include "sample/candidates.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "base/error.h"

namespace latent {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

[[noreturn]] void throw_all_banned() {
  throw Error::field("sampler", "logits", "at least one token with a logit above -inf",
                     "every token at -inf or NaN (all banned)");
}

}  // namespace

void fill_candidates(std::span<const float> logits, std::vector<Candidate>& out) {
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float l = logits[i];
    out[i] = Candidate{static_cast<TokenId>(i), std::isnan(l) ? kNegInf : l, 0.0f};
  }
}

void softmax(std::span<Candidate> cands) {
  float max_l = kNegInf;
  for (const Candidate& c : cands) max_l = std::max(max_l, c.logit);
  if (cands.empty() || max_l == kNegInf) throw_all_banned();
  // e_i = exp(l_i - l_max) ∈ (0, 1]; the max row contributes exactly 1, so Σ ≥ 1 and never 0.
  double sum = 0.0;
  for (Candidate& c : cands) {
    c.p = std::exp(c.logit - max_l);
    sum += c.p;
  }
  const double inv = 1.0 / sum;
  for (Candidate& c : cands) c.p = static_cast<float>(c.p * inv);
}

size_t argmax(std::span<const Candidate> cands) {
  if (cands.empty()) throw_all_banned();
  size_t best = 0;
  for (size_t i = 1; i < cands.size(); ++i) {
    if (ranks_before(cands[i], cands[best])) best = i;
  }
  if (!(cands[best].logit > kNegInf)) throw_all_banned();
  return best;
}

TokenId argmax(std::span<const float> logits) {
  TokenId best = -1;
  float best_l = kNegInf;
  for (size_t i = 0; i < logits.size(); ++i) {
    // Strict '>' keeps the lowest id on ties and skips NaN (every comparison with NaN is false).
    if (logits[i] > best_l) {
      best_l = logits[i];
      best = static_cast<TokenId>(i);
    }
  }
  if (best < 0) throw_all_banned();
  return best;
}

bool is_ranked(std::span<const Candidate> cands) {
  return std::is_sorted(cands.begin(), cands.end(), ranks_before);
}

}  // namespace latent
