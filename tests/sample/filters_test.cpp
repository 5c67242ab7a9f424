// Candidate lists and the filters (top-k, top-p, min-p, temperature) on tiny hand-computed
// distributions: exact surviving ids, their order, and their renormalised probabilities; plus
// large random lists checked against a brute-force full sort.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"
#include "sample/candidates.h"
#include "sample/filters.h"

namespace latent {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<Candidate> from_logits(const std::vector<float>& logits) {
  std::vector<Candidate> c;
  fill_candidates(logits, c);
  return c;
}

// logits l_i = ln p_i, so softmax gives back p (the ids are 0..n-1).
std::vector<Candidate> from_probs(const std::vector<float>& probs) {
  std::vector<float> logits;
  for (float p : probs) logits.push_back(std::log(p));
  return from_logits(logits);
}

std::vector<TokenId> ids(const std::vector<Candidate>& c) {
  std::vector<TokenId> out;
  for (const Candidate& x : c) out.push_back(x.id);
  return out;
}

void expect_probs(std::vector<Candidate> c, const std::vector<float>& expected) {
  softmax(c);
  ASSERT_EQ(c.size(), expected.size());
  for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i].p, expected[i], 1e-6) << "row " << i;
}

// Distribution used throughout: p = {0.1, 0.4, 0.2, 0.3}; ranked: 1 (.4), 3 (.3), 2 (.2), 0 (.1);
// cumulative in ranked order: .4, .7, .9, 1.0.
const std::vector<float> kP = {0.1f, 0.4f, 0.2f, 0.3f};

TEST(Candidates, FillIsVocabularyOrderAndNanBecomesMinusInf) {
  auto c = from_logits({1.0f, std::nanf(""), -2.0f});
  EXPECT_EQ(ids(c), (std::vector<TokenId>{0, 1, 2}));
  EXPECT_EQ(c[1].logit, -kInf);
  EXPECT_EQ(c[2].logit, -2.0f);
}

TEST(Candidates, SoftmaxHandComputed) {
  expect_probs(from_probs(kP), kP);
  // logits {0, ln 3}: p = {1/4, 3/4}; a -inf row gets exactly 0.
  expect_probs(from_logits({0.0f, std::log(3.0f), -kInf}), {0.25f, 0.75f, 0.0f});
  // Large logits do not overflow (max-subtracted): {1000, 1000} → {1/2, 1/2}.
  expect_probs(from_logits({1000.0f, 1000.0f}), {0.5f, 0.5f});
}

TEST(Candidates, SoftmaxAllBannedThrows) {
  auto c = from_logits({-kInf, -kInf});
  EXPECT_THROW(softmax(c), Error);
}

TEST(Candidates, ArgmaxTiesToLowestId) {
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{std::nanf(""), 1.0f, 1.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-kInf, -kInf, -5.0f}), 2);
  EXPECT_THROW(argmax(std::vector<float>{-kInf, std::nanf("")}), Error);
  // Candidate rows in any order: ties still go to the lowest id.
  std::vector<Candidate> c = {{7, 2.0f, 0}, {3, 2.0f, 0}, {5, 1.0f, 0}};
  EXPECT_EQ(c[argmax(c)].id, 3);
}

TEST(TopK, KeepsKHighestInRankedOrder) {
  auto c = from_probs(kP);
  apply_top_k(c, 2);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1, 3}));
  expect_probs(c, {0.4f / 0.7f, 0.3f / 0.7f});

  c = from_probs(kP);
  apply_top_k(c, 3);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1, 3, 2}));
  expect_probs(c, {0.4f / 0.9f, 0.3f / 0.9f, 0.2f / 0.9f});

  c = from_probs(kP);
  apply_top_k(c, 1);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1}));
  expect_probs(c, {1.0f});
}

TEST(TopK, TiesAtTheCutOffGoToLowerIds) {
  auto c = from_logits({4.0f, 2.0f, 4.0f, 4.0f, 5.0f});
  apply_top_k(c, 3);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{4, 0, 2}));
  expect_probs(c, {std::exp(1.0f) / (std::exp(1.0f) + 2), 1 / (std::exp(1.0f) + 2),
                   1 / (std::exp(1.0f) + 2)});
}

TEST(TopK, OffOrWiderThanListIsNoOp) {
  for (int32_t k : {0, -1, 4, 100}) {
    auto c = from_probs(kP);
    apply_top_k(c, k);
    EXPECT_EQ(ids(c), (std::vector<TokenId>{0, 1, 2, 3})) << "k=" << k;
  }
}

// k = 40 takes the heap-selection path, k = 30000 (more than n / 8) nth_element + sort.
TEST(TopK, LargeRandomListMatchesFullSort) {
  std::mt19937 gen(7);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> logits(100000);
  for (float& l : logits) l = std::round(dist(gen) * 8.0f) / 8.0f;  // many exact ties
  for (int32_t k : {1, 40, 30000}) {
    auto c = from_logits(logits);
    auto ref = c;
    std::sort(ref.begin(), ref.end(), ranks_before);
    ref.resize(static_cast<size_t>(k));
    apply_top_k(c, k);
    EXPECT_EQ(ids(c), ids(ref)) << "k=" << k;
  }
}

TEST(TopP, KeepsSmallestPrefixReachingP) {
  struct Case {
    float top_p;
    std::vector<TokenId> kept;
    std::vector<float> probs;
  };
  const std::vector<Case> cases = {
      {0.0f, {1}, {1.0f}},                                          // at least one token
      {0.3f, {1}, {1.0f}},                                          // .4 >= .3
      {0.5f, {1, 3}, {0.4f / 0.7f, 0.3f / 0.7f}},                   // .4 < .5 <= .7
      {0.75f, {1, 3, 2}, {0.4f / 0.9f, 0.3f / 0.9f, 0.2f / 0.9f}},  // .7 < .75 <= .9
      {0.95f, {1, 3, 2, 0}, {0.4f, 0.3f, 0.2f, 0.1f}},              // needs all four
  };
  for (const Case& tc : cases) {
    auto c = from_probs(kP);
    apply_top_p(c, tc.top_p);
    EXPECT_EQ(ids(c), tc.kept) << "top_p=" << tc.top_p;
    expect_probs(c, tc.probs);
  }
}

TEST(TopP, OffAtOneOrMore) {
  for (float p : {1.0f, 1.5f}) {
    auto c = from_probs(kP);
    apply_top_p(c, p);
    EXPECT_EQ(ids(c), (std::vector<TokenId>{0, 1, 2, 3}));
  }
}

TEST(TopP, AfterTopKUsesTheSurvivorsDistribution) {
  // top-k 3 leaves {1,3,2} with renormalised p = {4/9, 3/9, 2/9}; cumulative 4/9, 7/9, 1.
  // top_p 0.7 → {1,3} (4/9 ≈ .444 < .7 <= 7/9 ≈ .778).
  auto c = from_probs(kP);
  apply_top_k(c, 3);
  apply_top_p(c, 0.7f);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1, 3}));
  expect_probs(c, {4.0f / 7.0f, 3.0f / 7.0f});
}

// Reference nucleus: full sort, then the ranked cumulative walk.
std::vector<TokenId> brute_force_top_p(std::vector<Candidate> c, float top_p) {
  softmax(c);
  std::sort(c.begin(), c.end(), ranks_before);
  double cum = 0.0;
  size_t keep = c.size();
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (cum >= top_p) {
      keep = i + 1;
      break;
    }
  }
  c.resize(keep);
  return ids(c);
}

// Flat distributions need thousands of tokens in the nucleus. Below 4096 rows the adaptive
// partial sort grows its window many times; above, the bucket pass ranks a prefix first (also with
// -inf rows and exact ties present). Either way the result must equal a full sort's.
TEST(TopP, WideNucleusMatchesFullSort) {
  std::mt19937 gen(11);
  for (size_t n : {3000u, 5000u, 40000u}) {
    for (float spread : {0.5f, 6.0f}) {
      std::uniform_real_distribution<float> dist(0.0f, spread);
      std::vector<float> logits(n);
      for (float& l : logits) l = dist(gen);
      logits[17] = logits[18];  // exact ties
      logits[19] = logits[18];
      for (size_t i = 0; i < n; i += 3) logits[i] = -kInf;
      for (float top_p : {0.05f, 0.5f, 0.9f, 0.999f}) {
        auto c = from_logits(logits);
        apply_top_p(c, top_p);
        EXPECT_GT(c.size(), 1u);
        EXPECT_EQ(ids(c), brute_force_top_p(from_logits(logits), top_p))
            << "n=" << n << " spread=" << spread << " top_p=" << top_p;
      }
    }
  }
}

TEST(MinP, KeepsTokensAtLeastMinPTimesMax) {
  // p_max = .4. min_p .6 → threshold .24: {.4, .3}; min_p .3 → .12: {.4, .2, .3}. Order is kept.
  auto c = from_probs(kP);
  apply_min_p(c, 0.6f);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1, 3}));
  expect_probs(c, {0.4f / 0.7f, 0.3f / 0.7f});

  c = from_probs(kP);
  apply_min_p(c, 0.3f);
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1, 2, 3}));
  expect_probs(c, {0.4f / 0.9f, 0.2f / 0.9f, 0.3f / 0.9f});

  c = from_probs(kP);
  apply_min_p(c, 1.0f);  // only the max survives
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1}));
}

TEST(MinP, OffAtZeroOrBelowAndNeverEmpty) {
  for (float m : {0.0f, -0.5f}) {
    auto c = from_probs(kP);
    apply_min_p(c, m);
    EXPECT_EQ(ids(c), (std::vector<TokenId>{0, 1, 2, 3}));
  }
  auto c = from_probs(kP);
  apply_min_p(c, 2.0f);  // out of range for Sampler, but the free function still keeps the max
  EXPECT_EQ(ids(c), (std::vector<TokenId>{1}));
}

TEST(Temperature, DividesLogits) {
  auto c = from_logits({1.0f, -2.0f, 4.0f});
  apply_temperature(c, 2.0f);
  EXPECT_EQ(c[0].logit, 0.5f);
  EXPECT_EQ(c[1].logit, -1.0f);
  EXPECT_EQ(c[2].logit, 2.0f);
}

TEST(Temperature, ReshapesProbabilities) {
  // logits {0, ln 4}: T = 1 → {1/5, 4/5}; T = 2 → {0, ln 2} → {1/3, 2/3};
  // T = 0.5 → {0, ln 16} → {1/17, 16/17}.
  const std::vector<float> logits = {0.0f, std::log(4.0f)};
  auto c = from_logits(logits);
  apply_temperature(c, 1.0f);
  expect_probs(c, {0.2f, 0.8f});
  c = from_logits(logits);
  apply_temperature(c, 2.0f);
  expect_probs(c, {1.0f / 3.0f, 2.0f / 3.0f});
  c = from_logits(logits);
  apply_temperature(c, 0.5f);
  expect_probs(c, {1.0f / 17.0f, 16.0f / 17.0f});
}

TEST(Temperature, ZeroOrBelowKeepsOnlyTheArgmax) {
  for (float t : {0.0f, -1.0f}) {
    auto c = from_logits({1.0f, 3.0f, 3.0f, 2.0f});
    apply_temperature(c, t);
    EXPECT_EQ(ids(c), (std::vector<TokenId>{1}));
    EXPECT_EQ(c[0].logit, 3.0f);
  }
}

}  // namespace
}  // namespace latent
