// top-k, top-p, min-p and temperature over candidate lists (see filters.h for the contracts).
// Hot path: in-place on the caller's vector; shrinking with resize/erase never allocates.
#include "sample/filters.h"

#include <algorithm>
#include <cmath>

namespace latent {
namespace {

// First partial-sort window of top_p on an unranked list; doubled each time the nucleus is wider.
constexpr size_t kTopPFirstWindow = 256;

}  // namespace

void apply_top_k(std::vector<Candidate>& cands, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= cands.size()) return;
  const auto kept_end = cands.begin() + k;
  // After nth_element, rows [0, k) are exactly the k top-ranked ones (in some order); because
  // ranks_before is a total order, that set does not depend on the algorithm or the library.
  std::nth_element(cands.begin(), kept_end - 1, cands.end(), ranks_before);
  std::sort(cands.begin(), kept_end, ranks_before);
  cands.resize(static_cast<size_t>(k));
}

void apply_top_p(std::vector<Candidate>& cands, float top_p) {
  if (top_p >= 1.0f || cands.empty()) return;
  softmax(cands);
  const size_t n = cands.size();
  // Rows [0, ranked_end) are in final ranked order and rank ahead of every row after them.
  size_t ranked_end = is_ranked(cands) ? n : 0;
  double cum = 0.0;
  size_t keep = n;
  for (size_t i = 0; i < n; ++i) {
    if (i == ranked_end) {
      // Rank the next window from the rest: partial_sort picks its top rows out of [i, n).
      const size_t next = std::min(n, i + std::max(kTopPFirstWindow, i));
      std::partial_sort(cands.begin() + i, cands.begin() + next, cands.end(), ranks_before);
      ranked_end = next;
    }
    cum += cands[i].p;  // cumulative probability of the i+1 top-ranked rows
    if (cum >= top_p) {
      keep = i + 1;
      break;
    }
  }
  cands.resize(keep);
}

void apply_min_p(std::vector<Candidate>& cands, float min_p) {
  if (min_p <= 0.0f || cands.empty()) return;
  float max_l = cands[0].logit;
  for (const Candidate& c : cands) max_l = std::max(max_l, c.logit);
  // p_i >= min_p · p_max  ⇔  l_i >= l_max + ln(min_p). Clamped to l_max so that min_p > 1 (rejected
  // by Sampler, allowed here) still keeps the max row rather than emptying the list.
  const float threshold = std::min(max_l, max_l + std::log(min_p));
  std::erase_if(cands, [threshold](const Candidate& c) { return c.logit < threshold; });
}

void apply_temperature(std::vector<Candidate>& cands, float temperature) {
  if (cands.empty()) return;
  if (temperature <= 0.0f) {
    const size_t best = argmax(cands);
    cands[0] = cands[best];
    cands.resize(1);
    return;
  }
  // l_i ← l_i / T (a true division, so results match the formula bit for bit).
  for (Candidate& c : cands) c.logit /= temperature;
}

}  // namespace latent
