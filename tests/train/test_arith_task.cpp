// The arithmetic task: reasoning text, determinism, disjoint splits, answer extraction and voting.
#include <gtest/gtest.h>

#include <set>

#include "base/error.h"
#include "train/arith_task.h"

namespace latent::train {
namespace {

TEST(ArithTask, ReasoningIsDigitByDigit) {
  EXPECT_EQ(reasoning_for(ArithOp::kAdd, 478, 356), "478+356:8+6+0=14,7+5+1=13,4+3+1=8;834");
  EXPECT_EQ(reasoning_for(ArithOp::kAdd, 5, 95), "5+95:5+5+0=10,0+9+1=10;100");
  EXPECT_EQ(reasoning_for(ArithOp::kSub, 834, 356), "834-356:14-6-0=8,13-5-1=7,8-3-1=4;478");
  EXPECT_EQ(reasoning_for(ArithOp::kSub, 100, 1), "100-1:10-1-0=9,10-0-1=9,1-0-1=0;99");
  EXPECT_EQ(reasoning_for(ArithOp::kMul, 48, 7), "48*7:8*7+0=56,4*7+5=33;336");
  EXPECT_EQ(reasoning_for(ArithOp::kMul, 48, 17),
            "48*17:48*7:8*7+0=56,4*7+5=33;336|48*1:8*1+0=8,4*1+0=4;48|336+480:6+0+0=6,3+8+0=11,"
            "3+4+1=8;816");
  const ArithProblem p = make_arith_problem(ArithOp::kMul, 48, 17);
  EXPECT_EQ(p.question, "What is 48*17?");
  EXPECT_EQ(p.answer, 816);
  EXPECT_EQ(p.completion().substr(0, 7), "<think>");
  EXPECT_TRUE(p.completion().ends_with("</think> 816"));
  EXPECT_THROW(make_arith_problem(ArithOp::kSub, 3, 5), Error);
}

TEST(ArithTask, OrderBitsSwapEachStepsOperands) {
  // Bits 0 and 2: the first and third columns are written the other way round.
  EXPECT_EQ(reasoning_for(ArithOp::kAdd, 478, 356, 0b101), "478+356:6+8+0=14,7+5+1=13,3+4+1=8;834");
  // Subtraction takes the borrow off first in a swapped step.
  EXPECT_EQ(reasoning_for(ArithOp::kSub, 834, 356, 0b010), "834-356:14-6-0=8,13-1-5=7,8-3-1=4;478");
  EXPECT_EQ(reasoning_for(ArithOp::kMul, 48, 7, 0b10), "48*7:8*7+0=56,7*4+5=33;336");
  // Two-digit multiplier: bits 0-15 for ×ones, 16-31 for ×tens, 32-47 for the addition.
  EXPECT_EQ(reasoning_for(ArithOp::kMul, 48, 17, 1ull | (1ull << 17) | (1ull << 34)),
            "48*17:48*7:7*8+0=56,4*7+5=33;336|48*1:8*1+0=8,1*4+0=4;48|336+480:6+0+0=6,3+8+0=11,"
            "4+3+1=8;816");
  // A mixed-order generator writes the same length of reasoning as the fixed order and the right
  // answers; most problems have at least one swapped step.
  ArithGenerator mixed(9, Split::kTrain, {3, /*mixed_order=*/true});
  int differs = 0;
  for (int i = 0; i < 300; ++i) {
    const ArithProblem m = mixed.next();
    EXPECT_EQ(m.answer, m.op == ArithOp::kAdd   ? m.a + m.b
                        : m.op == ArithOp::kSub ? m.a - m.b
                                                : m.a * m.b);
    EXPECT_EQ(reasoning_for(m.op, m.a, m.b, 0).size(), m.reasoning.size());
    differs += reasoning_for(m.op, m.a, m.b, 0) != m.reasoning;
  }
  EXPECT_GT(differs, 150);  // most problems have a swapped step
}

TEST(ArithTask, MixedOperandsWriteTheOtherPathForHalfTheSumsAndProducts) {
  ArithOptions opt;
  opt.mixed_operands = true;
  ArithGenerator gen(5, Split::kTrain, opt);
  int swapped_add = 0, plain_add = 0, swapped_mul = 0, plain_mul = 0;
  for (int i = 0; i < 1000; ++i) {
    const ArithProblem p = gen.next();
    const std::string plain = reasoning_for(p.op, p.a, p.b);
    EXPECT_EQ(extract_answer(p.completion()), p.answer) << p.completion();
    if (p.reasoning == plain) {
      plain_add += p.op == ArithOp::kAdd;
      plain_mul += p.op == ArithOp::kMul;
      continue;
    }
    // Anything else is the swapped path of a sum or of a product whose left factor fits a
    // multiplier; the question still names the operands in their own order.
    ASSERT_NE(p.op, ArithOp::kSub) << p.question;
    EXPECT_EQ(p.reasoning, reasoning_for(p.op, p.b, p.a)) << p.question;
    EXPECT_NE(p.question.find(std::to_string(p.a)), std::string::npos);
    if (p.op == ArithOp::kMul) {
      EXPECT_LT(p.a, 100);
    }
    swapped_add += p.op == ArithOp::kAdd;
    swapped_mul += p.op == ArithOp::kMul;
  }
  // About half of each (a + b with a == b reads the same both ways, so counts as plain).
  EXPECT_GT(swapped_add, 100);
  EXPECT_GT(plain_add, 100);
  EXPECT_GT(swapped_mul, 50);
  EXPECT_GT(plain_mul, 50);
  EXPECT_EQ(reasoning_for(ArithOp::kMul, 23, 47),
            "23*47:23*7:3*7+0=21,2*7+2=16;161|23*4:3*4+0=12,2*4+1=9;92|161+920:1+0+0=1,6+2+0=8,"
            "1+9+0=10;1081");
}

TEST(ArithTask, WordProblemsShareTheCanonicalForm) {
  const ArithProblem w = make_word_problem(ArithOp::kSub, 23, 15, 3);
  EXPECT_EQ(w.question, "Dan has 23 apples and gives away 15. How many are left?");
  EXPECT_EQ(w.answer, 8);
  EXPECT_EQ(w.canonical(), make_arith_problem(ArithOp::kSub, 23, 15).canonical());
  // + and * are commutative: both orders are one problem (and so one split).
  EXPECT_EQ(make_arith_problem(ArithOp::kAdd, 12, 7).canonical(),
            make_arith_problem(ArithOp::kAdd, 7, 12).canonical());
}

TEST(ArithTask, GeneratorIsDeterministicAndAnswersAreRight) {
  ArithGenerator a(42, Split::kTrain), b(42, Split::kTrain), c(43, Split::kTrain);
  int differ = 0;
  for (int i = 0; i < 500; ++i) {
    const ArithProblem pa = a.next(), pb = b.next(), pc = c.next();
    EXPECT_EQ(pa.question, pb.question);
    EXPECT_EQ(pa.completion(), pb.completion());
    differ += pa.question != pc.question;
    const int64_t expect = pa.op == ArithOp::kAdd   ? pa.a + pa.b
                           : pa.op == ArithOp::kSub ? pa.a - pa.b
                                                    : pa.a * pa.b;
    EXPECT_EQ(pa.answer, expect) << pa.question;
    EXPECT_EQ(extract_answer(pa.completion()), pa.answer) << pa.completion();
  }
  EXPECT_GT(differ, 400);
}

// Training batch k is drawn with seed (seed << 32) ^ k, so neighbouring seeds must give unrelated
// streams, not the same stream shifted by a draw (which made consecutive batches near copies).
TEST(ArithTask, NeighbouringSeedsGiveUnrelatedProblems) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    ArithGenerator a(seed, Split::kTrain), b(seed + 1, Split::kTrain);
    std::set<std::string> qa, qb;
    for (int i = 0; i < 20; ++i) qa.insert(a.next().question), qb.insert(b.next().question);
    int shared = 0;
    for (const std::string& q : qa) shared += static_cast<int>(qb.count(q));
    EXPECT_LE(shared, 2) << "seeds " << seed << " and " << seed + 1;
  }
}

TEST(ArithTask, SplitsNeverOverlap) {
  std::set<std::string> train, held;
  for (uint64_t seed : {1, 2, 3}) {
    ArithGenerator tr(seed, Split::kTrain, {2}), ho(seed, Split::kHeldOut, {2});
    for (int i = 0; i < 3000; ++i) train.insert(tr.next().canonical());
    for (int i = 0; i < 1000; ++i) held.insert(ho.next().canonical());
  }
  for (const std::string& h : held) {
    EXPECT_EQ(train.count(h), 0u) << h;
    EXPECT_EQ(split_of(h), Split::kHeldOut);
  }
  for (const std::string& t : train) EXPECT_EQ(split_of(t), Split::kTrain);
  // About 10% of problems are held out.
  int n_held = 0;
  for (int a = 0; a < 100; ++a)
    for (int b = a; b < 100; ++b)
      n_held += split_of(make_arith_problem(ArithOp::kAdd, a, b).canonical()) == Split::kHeldOut;
  EXPECT_NEAR(n_held / 5050.0, 0.10, 0.02);
  EXPECT_THROW(ArithGenerator(1, Split::kTrain, {0}), Error);
}

TEST(ArithTask, ExtractAnswerEdgeCases) {
  EXPECT_EQ(extract_answer("<think>1+1=2</think> 2"), 2);
  EXPECT_EQ(extract_answer("<think>x</think>42 is the answer"), 42);
  EXPECT_EQ(extract_answer("<think>x</think>  -17."), -17);
  EXPECT_EQ(extract_answer("<think>a</think> 1 <think>b</think> 7"), 7);  // the last close wins
  EXPECT_EQ(extract_answer("<think>7+8=15;15</think>\n15\n"), 15);
  EXPECT_EQ(extract_answer("123"), 123);  // no reasoning at all: a direct answer
  EXPECT_EQ(extract_answer(" 9 apples"), 9);
  EXPECT_EQ(extract_answer("<think>7+8=15;15"), std::nullopt);  // reasoning never closed
  EXPECT_EQ(extract_answer("<think>x</think>"), std::nullopt);
  EXPECT_EQ(extract_answer("<think>x</think> answer: 5"), std::nullopt);
  EXPECT_EQ(extract_answer("<think>x</think> -"), std::nullopt);
  EXPECT_EQ(extract_answer(""), std::nullopt);
  EXPECT_EQ(extract_answer("</think>1234567890123456789"), std::nullopt);  // 19 digits
  EXPECT_EQ(extract_answer("</think>123456789012345678"), 123456789012345678);
}

TEST(ArithTask, MajorityVote) {
  using A = std::optional<int64_t>;
  {
    const std::vector<A> v = {5, 7, 5, std::nullopt, 7, 5};
    const VoteResult r = majority_vote(v);
    EXPECT_EQ(r.answer, 5);
    ASSERT_EQ(r.counts.size(), 2u);
    EXPECT_EQ(r.counts[0], (std::pair<int64_t, int>{5, 3}));
    EXPECT_EQ(r.counts[1], (std::pair<int64_t, int>{7, 2}));
    EXPECT_EQ(r.n_without_answer, 1);
  }
  {  // a tie goes to the smallest answer, whatever the order
    const std::vector<A> v1 = {9, -3, 9, -3}, v2 = {-3, 9, -3, 9};
    EXPECT_EQ(majority_vote(v1).answer, -3);
    EXPECT_EQ(majority_vote(v2).answer, -3);
    EXPECT_EQ(majority_vote(v1).counts, majority_vote(v2).counts);
  }
  {  // nobody answered
    const std::vector<A> v = {std::nullopt, std::nullopt};
    const VoteResult r = majority_vote(v);
    EXPECT_FALSE(r.answer.has_value());
    EXPECT_TRUE(r.counts.empty());
    EXPECT_EQ(r.n_without_answer, 2);
  }
  EXPECT_FALSE(majority_vote(std::span<const A>{}).answer.has_value());
  const std::vector<A> one = {std::nullopt, 4};
  EXPECT_EQ(majority_vote(one).answer, 4);  // a missing answer never outvotes a present one
}

}  // namespace
}  // namespace latent::train
