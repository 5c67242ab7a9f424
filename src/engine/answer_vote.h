// The final answer of a reasoning completion, and the majority vote over many samples of one
// prompt (self-consistency: test-time compute spent on sampling instead of on a bigger model).
// Used by `latent run --vote`, the server's "vote" extension and GRPO's reward.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace latent {

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";

// The final answer of a completion: the integer (optional '-', then digits) right after the last
// "</think>", spaces skipped; text after the number is ignored. Without "</think>": a completion
// that never opened "<think>" is read the same way from its start (a direct answer); one whose
// reasoning was opened but never closed has no answer. nullopt when no integer is there or it does
// not fit in 18 digits.
std::optional<int64_t> extract_answer(std::string_view completion);

struct VoteResult {
  std::optional<int64_t> answer;                // nullopt when no sample had an answer
  std::vector<std::pair<int64_t, int>> counts;  // (answer, votes), most votes first, then value
  int n_without_answer = 0;                     // samples whose answer was nullopt
};
// Majority vote over the samples' answers; samples without an answer do not vote. Ties go to the
// smallest answer, so the result does not depend on the order of the samples.
VoteResult majority_vote(std::span<const std::optional<int64_t>> answers);

}  // namespace latent
