// Logit bias, token counting, the penalty window and the repeat/frequency/presence penalties, each
// against logits computed by hand (positive, negative and zero logits; repeated tokens).
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "sample/candidates.h"
#include "sample/penalties.h"

namespace latent {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<Candidate> from_logits(const std::vector<float>& logits) {
  std::vector<Candidate> c;
  fill_candidates(logits, c);
  return c;
}

std::vector<float> logits_of(const std::vector<Candidate>& c) {
  std::vector<float> out;
  for (const Candidate& x : c) out.push_back(x.logit);
  return out;
}

void expect_logits(const std::vector<Candidate>& c, const std::vector<float>& expected) {
  ASSERT_EQ(c.size(), expected.size());
  for (size_t i = 0; i < c.size(); ++i) EXPECT_FLOAT_EQ(c[i].logit, expected[i]) << "token " << i;
}

std::vector<Candidate> penalised(const std::vector<float>& logits,
                                 const std::vector<TokenId>& window, const PenaltyParams& p) {
  auto c = from_logits(logits);
  TokenCounts counts(static_cast<int32_t>(logits.size()));
  apply_penalties(c, window, p, counts);
  return c;
}

TEST(PenaltyWindow, LastNTokens) {
  const std::vector<TokenId> h = {1, 2, 3, 4, 5};
  EXPECT_TRUE(penalty_window(h, 0).empty());
  EXPECT_EQ(std::vector<TokenId>(penalty_window(h, 2).begin(), penalty_window(h, 2).end()),
            (std::vector<TokenId>{4, 5}));
  EXPECT_EQ(penalty_window(h, -1).size(), 5u);
  EXPECT_EQ(penalty_window(h, 5).size(), 5u);
  EXPECT_EQ(penalty_window(h, 64).size(), 5u);
  EXPECT_TRUE(penalty_window({}, 64).empty());
}

TEST(TokenCounts, CountsAndResetsOnlyWhatItTouched) {
  TokenCounts counts(6);
  const std::vector<TokenId> w1 = {3, 1, 3, 3};
  counts.count(w1);
  EXPECT_EQ(counts[3], 3);
  EXPECT_EQ(counts[1], 1);
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(std::vector<TokenId>(counts.distinct().begin(), counts.distinct().end()),
            (std::vector<TokenId>{3, 1}));
  const std::vector<TokenId> w2 = {2};
  counts.count(w2);
  EXPECT_EQ(counts[3], 0);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[2], 1);
  EXPECT_EQ(counts.distinct().size(), 1u);
}

TEST(TokenCounts, OutOfRangeIdNamesHistory) {
  TokenCounts counts(4);
  for (TokenId bad : {4, -1}) {
    const std::vector<TokenId> w = {1, bad};
    try {
      counts.count(w);
      FAIL() << "expected Error for id " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("history"), std::string::npos) << e.what();
    }
    EXPECT_EQ(counts[1], 0);  // left clean
  }
}

TEST(Penalties, RepeatDividesPositiveAndMultipliesNegative) {
  // Window {0, 1, 3, 0}: tokens 0, 1, 3 are penalised once each, however often they occur.
  //   token 0:  2.0 > 0 → 2.0 / 2 = 1.0
  //   token 1: -2.0     → -2.0 · 2 = -4.0
  //   token 2:  1.0 not in window → 1.0
  //   token 3:  0.0     → 0.0 · 2 = 0.0
  //   token 4: -1.0 not in window → -1.0
  PenaltyParams p;
  p.repeat = 2.0f;
  auto c = penalised({2.0f, -2.0f, 1.0f, 0.0f, -1.0f}, {0, 1, 3, 0}, p);
  expect_logits(c, {1.0f, -4.0f, 1.0f, 0.0f, -1.0f});
}

TEST(Penalties, FrequencyAndPresenceUseCounts) {
  // frequency .5, presence .25; window {0, 0, 0, 1, 3}: counts 3, 1, 0, 1.
  //   token 0:  2.0 − 3·.5 − .25 =  0.25
  //   token 1: −2.0 − 1·.5 − .25 = −2.75
  //   token 2:  1.0 (count 0: untouched, no presence penalty)
  //   token 3:  0.5 − 1·.5 − .25 = −0.25
  PenaltyParams p;
  p.frequency = 0.5f;
  p.presence = 0.25f;
  auto c = penalised({2.0f, -2.0f, 1.0f, 0.5f}, {0, 0, 0, 1, 3}, p);
  expect_logits(c, {0.25f, -2.75f, 1.0f, -0.25f});
}

TEST(Penalties, RepeatThenFrequencyThenPresence) {
  // repeat 1.25, frequency .5, presence 1; window {0, 1, 0}: counts 2, 1.
  //   token 0:  2.5 / 1.25 = 2.0  → 2.0 − 2·.5 − 1 = 0.0
  //   token 1: −0.8 · 1.25 = −1.0 → −1.0 − 1·.5 − 1 = −2.5
  //   token 2:  3.0 untouched
  PenaltyParams p;
  p.repeat = 1.25f;
  p.frequency = 0.5f;
  p.presence = 1.0f;
  auto c = penalised({2.5f, -0.8f, 3.0f}, {0, 1, 0}, p);
  expect_logits(c, {0.0f, -2.5f, 3.0f});
}

TEST(Penalties, NegativeFrequencyEncouragesRepetition) {
  PenaltyParams p;
  p.frequency = -1.0f;
  auto c = penalised({0.0f, 0.0f}, {1, 1}, p);
  expect_logits(c, {0.0f, 2.0f});
}

TEST(Penalties, InactiveLeavesLogitsAlone) {
  const std::vector<float> logits = {2.0f, -2.0f, 1.0f};
  EXPECT_EQ(logits_of(penalised(logits, {0, 1}, PenaltyParams{})), logits);  // all at defaults
  PenaltyParams p;
  p.repeat = 3.0f;
  p.frequency = 1.0f;
  p.last_n = 0;
  EXPECT_FALSE(p.active());
  EXPECT_EQ(logits_of(penalised(logits, {0, 1}, p)), logits);
  // An active penalty with an empty window also changes nothing.
  p.last_n = 64;
  EXPECT_EQ(logits_of(penalised(logits, {}, p)), logits);
}

TEST(LogitBias, AddsAndBans) {
  auto c = from_logits({1.0f, 1.0f, 1.0f, 1.0f});
  const std::vector<std::pair<TokenId, float>> bias = {
      {1, 2.0f}, {3, -kInf}, {1, 0.5f}, {0, -1.5f}};
  apply_logit_bias(c, bias);
  // token 1: 1 + 2 + .5 (repeated ids add up); token 3 banned; token 0: 1 − 1.5.
  EXPECT_EQ(logits_of(c), (std::vector<float>{-0.5f, 3.5f, 1.0f, -kInf}));
}

}  // namespace
}  // namespace latent
