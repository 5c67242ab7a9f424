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
#include <string>
#include <string_view>

#include "engine/answer_vote.h"

namespace latent::train {

using latent::kThinkClose;
using latent::kThinkOpen;

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

// The reasoning of one operation (a >= 0, b >= 0; for kSub a >= b). Bit i of `order` writes step i
// of a digit loop with its two operands the other way round ("6+8+0=14" for "8+6+0=14"); 0 is the
// fixed order. Exposed for tests.
std::string reasoning_for(ArithOp op, int64_t a, int64_t b, uint64_t order = 0);
// A plain arithmetic problem "What is a<op>b?".
ArithProblem make_arith_problem(ArithOp op, int64_t a, int64_t b, uint64_t order = 0);
// A word problem around the same operation; `variant` picks the name and object.
ArithProblem make_word_problem(ArithOp op, int64_t a, int64_t b, uint64_t variant,
                               uint64_t order = 0);

struct ArithOptions {
  int max_digits = 3;  // operand digits for + and −, and for the left factor of ×; in [1, 9]
  // Each digit step names its operands in a random order. Why: a small model learns "8+6" and
  // "6+8" as separate facts, so reasoning paths that differ only in order make partly independent
  // mistakes; sampled paths then disagree on wrong answers and agree on the right one, which is
  // what majority voting needs (self-consistency). With one fixed order every sample walks the
  // same path and repeats the greedy path's mistakes.
  bool mixed_order = false;
  // Half the + and × problems write their reasoning for the operands the other way round
  // ("8+73:" for "73+8", "23*47:23*7:…" for "47*23"; × only when the left factor has at most two
  // digits, so it can be the multiplier). Why: the per-step order leaves the head — copying the
  // question's numbers — and, for ×, the digit facts used the same on every path, so a slip there
  // is shared by all samples and no vote can outnumber it. Swapped operands give a second path
  // that copies the numbers in another order and, for ×, multiplies other digits.
  bool mixed_operands = false;
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

// The answer extractor and the vote are the engine's (engine/answer_vote.h).
using latent::extract_answer;
using latent::majority_vote;
using latent::VoteResult;

}  // namespace latent::train
