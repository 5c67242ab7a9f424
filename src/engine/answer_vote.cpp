// Answer extraction and the vote.
#include "engine/answer_vote.h"

#include <algorithm>
#include <map>

namespace latent {

std::optional<int64_t> extract_answer(std::string_view text) {
  const size_t close = text.rfind(kThinkClose);
  if (close != std::string_view::npos) {
    text.remove_prefix(close + kThinkClose.size());
  } else if (text.find(kThinkOpen) != std::string_view::npos) {
    return std::nullopt;  // reasoning opened and never closed: no final answer was given
  }
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
  bool negative = false;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  int64_t value = 0;
  int n_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (++n_digits > 18) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  if (n_digits == 0) return std::nullopt;
  return negative ? -value : value;
}

VoteResult majority_vote(std::span<const std::optional<int64_t>> answers) {
  VoteResult r;
  std::map<int64_t, int> counts;
  for (const auto& a : answers) {
    if (a) {
      ++counts[*a];
    } else {
      ++r.n_without_answer;
    }
  }
  r.counts.assign(counts.begin(), counts.end());
  // Stable on the value-sorted map order: equal counts stay smallest value first.
  std::stable_sort(r.counts.begin(), r.counts.end(),
                   [](const auto& x, const auto& y) { return x.second > y.second; });
  if (!r.counts.empty()) r.answer = r.counts.front().first;
  return r;
}

}  // namespace latent
