// top-k, top-p, min-p and temperature over candidate lists (see filters.h for the contracts).
// Hot path: in-place on the caller's vector; shrinking with resize/erase never allocates.
#include "sample/filters.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace latent {
namespace {

// First partial-sort window of top_p on an unranked list; doubled each time the nucleus is wider.
constexpr size_t kTopPFirstWindow = 256;
// Lists longer than this get top_p's bucket pass before any sorting (see nucleus_prefix).
constexpr size_t kTopPBucketMinRows = 4096;
constexpr size_t kTopPBuckets = 1024;

// Bucket of a logit: 0 for l_max, growing as the logit falls, kTopPBuckets − 1 for the lowest
// finite logit and for -inf. A higher logit never gets a higher bucket (float rounding is
// monotone), so every row of a bucket ranks ahead of every row of the buckets after it.
size_t logit_bucket(float logit, float l_max, float scale) {
  const float d = (l_max - logit) * scale;
  return d < static_cast<float>(kTopPBuckets - 1) ? static_cast<size_t>(d) : kTopPBuckets - 1;
}

// For a long unranked list with p set by softmax: ranks a prefix of cands that holds the whole
// nucleus, in O(n) plus a sort of that prefix only, and returns its length (0 if it cannot help).
// Histogram the probability mass over logit buckets, walk buckets from the top until the mass
// reaches top_p; every row of the nucleus lies in the buckets walked. Those rows are moved to the
// front (std::partition) and sorted. The caller still finds the exact cut by a ranked walk, and
// keeps ranking further if double rounding in the histogram left the cut just past the prefix.
size_t nucleus_prefix(std::vector<Candidate>& cands, float top_p) {
  float l_max = -std::numeric_limits<float>::infinity();
  float l_min = std::numeric_limits<float>::infinity();  // lowest finite logit
  for (const Candidate& c : cands) {
    l_max = std::max(l_max, c.logit);
    if (std::isfinite(c.logit)) l_min = std::min(l_min, c.logit);
  }
  if (!(l_max > l_min) || !std::isfinite(l_max - l_min)) return 0;
  const float scale = static_cast<float>(kTopPBuckets - 1) / (l_max - l_min);
  double mass[kTopPBuckets] = {};
  for (const Candidate& c : cands) mass[logit_bucket(c.logit, l_max, scale)] += c.p;
  double cum = 0.0;
  size_t last = 0;
  while (last + 1 < kTopPBuckets && cum + mass[last] < top_p) cum += mass[last++];
  if (last + 1 >= kTopPBuckets) return 0;  // nucleus reaches the bottom bucket: nothing saved
  const auto prefix_end = std::partition(cands.begin(), cands.end(), [&](const Candidate& c) {
    return logit_bucket(c.logit, l_max, scale) <= last;
  });
  std::sort(cands.begin(), prefix_end, ranks_before);
  return static_cast<size_t>(prefix_end - cands.begin());
}

}  // namespace

void apply_top_k(std::vector<Candidate>& cands, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= cands.size()) return;
  const auto kept_end = cands.begin() + k;
  // Either way rows [0, k) end up the k top-ranked ones in ranked order; ranks_before is a total
  // order, so that set and order do not depend on the algorithm or the library.
  if (static_cast<size_t>(k) <= cands.size() / 8) {
    // Heap selection: one comparison against the heap top for most rows, ~5x faster than
    // nth_element at k = 40 of 150k.
    std::partial_sort(cands.begin(), kept_end, cands.end(), ranks_before);
  } else {
    std::nth_element(cands.begin(), kept_end - 1, cands.end(), ranks_before);
    std::sort(cands.begin(), kept_end, ranks_before);
  }
  cands.resize(static_cast<size_t>(k));
}

void apply_top_p(std::vector<Candidate>& cands, float top_p) {
  if (top_p >= 1.0f || cands.empty()) return;
  softmax(cands);
  const size_t n = cands.size();
  // Rows [0, ranked_end) are in final ranked order and rank ahead of every row after them.
  size_t ranked_end = 0;
  if (is_ranked(cands)) {
    ranked_end = n;
  } else if (n >= kTopPBucketMinRows) {
    ranked_end = nucleus_prefix(cands, top_p);
  }
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
