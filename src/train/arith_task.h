// The training task: multi-step integer arithmetic (addition, subtraction, multiplication and
// small word problems) with digit-by-digit chain-of-thought inside <think>…</think> followed by
// the final answer, e.g.
//   What is 478+356?<think>478+356:8+6+0=14,7+5+1=13,4+3+1=8;834</think> 834
// Every step is local (two digits and a carry), so a tiny model can learn it; the final answer
// repeats the last step's result so the answer extractor has one fixed place to read.
// Generation is deterministic for a seed. Problems are split into train and held-out by a hash of
// their canonical form (operands of + and * sorted), so the two splits never share a problem,
// whatever the seeds. The answer extractor and majority vote serve evaluation, `--vote` and GRPO.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latent::train {

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";

enum class ArithOp { kAdd, kSub, kMul };

struct ArithProblem {
  ArithOp op = ArithOp::kAdd;
  int64_t a = 0, b = 0;
  std::string question;   // the prompt, e.g. "What is 478+356?"
  std::string reasoning;  // the text inside <think>…</think>
  int64_t answer = 0;
  // "<think>" + reasoning + "</think> " + answer: what the model learns to generate.
  std::string completion() const;
  // Operands sorted for + and *: the identity that decides the split.
  std::string canonical() const;
};

enum class Split { kTrain, kHeldOut };

// 10% of canonical problems are held out, chosen by a 64-bit FNV-1a hash of canonical().
Split split_of(std::string_view canonical);

// The reasoning of one operation (a >= 0, b >= 0; for kSub a >= b). Exposed for tests.
std::string reasoning_for(ArithOp op, int64_t a, int64_t b);
// A plain arithmetic problem "What is a<op>b?".
ArithProblem make_arith_problem(ArithOp op, int64_t a, int64_t b);
// A word problem around the same operation; `variant` picks the name and object.
ArithProblem make_word_problem(ArithOp op, int64_t a, int64_t b, uint64_t variant);

struct ArithOptions {
  int max_digits = 3;  // operand digits for + and −, and for the left factor of ×; in [1, 9]
};

// Deterministic stream of problems of one split: the same (seed, split, options) always yields the
// same sequence. Throws latent::Error for options out of range.
class ArithGenerator {
 public:
  ArithGenerator(uint64_t seed, Split split, ArithOptions options = {});
  ArithProblem next();

 private:
  uint64_t next_u64();
  int64_t uniform(int64_t lo, int64_t hi);  // inclusive
  int64_t number_with_digits(int digits);
  uint64_t state_;
  Split split_;
  ArithOptions opt_;
};

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

}  // namespace latent::train
