// GrammarTokenConstraint on a hand-made vocabulary: masks, completion, clones, and the reasoning
// gate (free text until "</think>" or the budget, then the grammar, fed what was already written).
#include <gtest/gtest.h>

#include <cmath>

#include "server/grammar_constraint.h"
#include "server/structured_output.h"

namespace latent::server {
namespace {

enum : TokenId { kClose1, kClose2, kCloseWhole, kOpen, kEnd, kA, kNl, kWord, kEog, kN };

std::shared_ptr<const grammar::TokenTrie> trie() {
  std::vector<std::string> pieces = {"</", "think>", "</think>", "{", "}", "a", "\n", "hmm", ""};
  std::vector<bool> eog(pieces.size(), false);
  eog[kEog] = true;
  return std::make_shared<const grammar::TokenTrie>(pieces, eog);
}

std::shared_ptr<grammar::MaskCache> cache(const std::string& gbnf) {
  return std::make_shared<grammar::MaskCache>(grammar::CompiledGrammar::from_gbnf(gbnf), trie());
}

std::vector<TokenId> allowed(TokenConstraint& c) {
  std::vector<float> logits(kN, 0.0f);
  c.apply(logits);
  std::vector<TokenId> ids;
  for (TokenId i = 0; i < kN; ++i)
    if (std::isfinite(logits[static_cast<size_t>(i)])) ids.push_back(i);
  return ids;
}

const std::string kPayload = "root ::= \"{\" \"a\"* \"}\"\n";

TEST(GrammarConstraint, MasksAndCompletes) {
  GrammarTokenConstraint c(cache(kPayload));
  EXPECT_EQ(allowed(c), std::vector<TokenId>({kOpen}));
  c.accept(kOpen);
  auto copy = c.clone();
  c.accept(kA);
  EXPECT_EQ(allowed(c), std::vector<TokenId>({kEnd, kA}));
  EXPECT_FALSE(c.is_complete());
  c.accept(kEnd);
  EXPECT_TRUE(c.is_complete());       // nothing can follow "}"
  EXPECT_FALSE(copy->is_complete());  // the clone kept its own state
  EXPECT_EQ(allowed(*copy), std::vector<TokenId>({kEnd, kA}));
}

TEST(GrammarConstraint, ReasoningIsFreeUntilTheModelClosesIt) {
  GrammarTokenConstraint c(cache(after_think_gbnf(kPayload)), /*budget_tokens=*/100);
  // Anything but end-of-generation while reasoning.
  EXPECT_EQ(allowed(c),
            std::vector<TokenId>({kClose1, kClose2, kCloseWhole, kOpen, kEnd, kA, kNl, kWord}));
  c.accept(kWord);
  c.accept(kClose1);
  c.accept(kClose2);  // "</" + "think>": the tag across two tokens
  EXPECT_EQ(allowed(c), std::vector<TokenId>({kOpen, kNl}));
  c.accept(kNl);
  c.accept(kOpen);
  c.accept(kEnd);
  EXPECT_TRUE(c.is_complete());
}

TEST(GrammarConstraint, BudgetForcesTheCloseAndTheGrammar) {
  GrammarTokenConstraint c(cache(after_think_gbnf(kPayload)), /*budget_tokens=*/3);
  c.accept(kWord);
  c.accept(kWord);
  c.accept(kClose1);  // budget spent in the middle of "</": the tag is continued, not restarted
  EXPECT_EQ(allowed(c), std::vector<TokenId>({kClose2}));
  GrammarTokenConstraint d(cache(after_think_gbnf(kPayload)), /*budget_tokens=*/1);
  d.accept(kWord);
  EXPECT_EQ(allowed(d), std::vector<TokenId>({kClose1, kCloseWhole}));
}

}  // namespace
}  // namespace latent::server
