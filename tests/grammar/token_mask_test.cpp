// Token masks against a brute-force oracle (for every token: copy the matcher, feed the token's
// bytes), on a hand-made vocabulary and on real ones (stories260K, the 32k llama SPM vocabulary)
// along random walks of grammar states; plus apply(), accept_token() and the mask cache.
#include "grammar/token_mask.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "grammar/json_schema.h"
#include "llama_grammars.h"
#include "tokenizer/tokenizer.h"

namespace latent::grammar {
namespace {

TokenBitset oracle_mask(const GrammarMatcher& matcher, const TokenTrie& trie) {
  TokenBitset allowed(trie.n_vocab());
  for (TokenId id = 0; id < trie.n_vocab(); ++id) {
    if (trie.is_eog(id)) {
      if (matcher.is_complete()) allowed.set(id);
      continue;
    }
    if (trie.piece(id).empty()) continue;
    GrammarMatcher copy = matcher;
    if (copy.accept_bytes(trie.piece(id))) allowed.set(id);
  }
  return allowed;
}

// Follows `steps` random allowed tokens from the grammar's start, checking every mask against the
// oracle. Returns the number of masks checked.
int random_walk_check(const std::shared_ptr<const CompiledGrammar>& grammar,
                      const std::shared_ptr<const TokenTrie>& trie, int steps, uint32_t seed) {
  auto cache = std::make_shared<MaskCache>(grammar, trie);
  GrammarConstraint constraint(cache);
  std::mt19937 rng(seed);
  int checked = 0;
  for (int step = 0; step < steps; ++step) {
    std::shared_ptr<const TokenBitset> mask = constraint.allowed_tokens();
    TokenBitset expected = oracle_mask(constraint.matcher(), *trie);
    ++checked;
    if (*mask != expected) {
      for (TokenId id = 0; id < trie->n_vocab(); ++id) {
        if (mask->test(id) != expected.test(id)) {
          ADD_FAILURE() << "step " << step << ": token " << id << " piece \"" << trie->piece(id)
                        << "\": mask " << mask->test(id) << ", oracle " << expected.test(id);
          break;
        }
      }
      return checked;
    }
    std::vector<TokenId> choices;
    for (TokenId id = 0; id < trie->n_vocab(); ++id) {
      if (mask->test(id) && !trie->is_eog(id)) choices.push_back(id);
    }
    if (choices.empty()) break;
    TokenId pick = choices[std::uniform_int_distribution<size_t>(0, choices.size() - 1)(rng)];
    EXPECT_TRUE(constraint.accept_token(pick));
  }
  return checked;
}

std::shared_ptr<const TokenTrie> small_vocab() {
  std::vector<std::string> pieces = {
      "",     "</s>", "a",   "b",   "ab",  "abc", "c",    "\xC3",     "\xA9", "\xC3\xA9",
      "é!",   "{",    "}",   "\"",  "\":", " ",   "\n",   "1",        "12",   "123",
      "-",    "true", "[",   "]",   ",",   "x",   "null", "ひ",       "\xE3", "\xE3\x81",
      "\x81", "\xB2", "{\"", "\"}", "0",   "ab",  "😀",    "\xF0\x9F", "\xFF"};
  std::vector<bool> eog(pieces.size(), false);
  eog[1] = true;
  pieces[1] = "";  // control token
  return std::make_shared<const TokenTrie>(pieces, eog);
}

TEST(TokenTrie, Structure) {
  auto trie = small_vocab();
  // Control and EOG tokens are not in the trie; duplicate pieces share a node.
  EXPECT_EQ(trie->sorted_tokens().size(), static_cast<size_t>(trie->n_vocab()) - 2);
  EXPECT_EQ(trie->eog_tokens(), std::vector<TokenId>{1});
  const auto& nodes = trie->nodes();
  for (uint32_t i = 1; i < nodes.size(); ++i) {
    EXPECT_GT(nodes[i].subtree_end, i);
    EXPECT_LE(nodes[i].subtree_end, nodes.size());
  }
}

TEST(TokenMask, SmallVocabularyMatchesOracle) {
  auto trie = small_vocab();
  const char* grammars[] = {
      "root ::= \"ab\" \"c\"?",
      "root ::= [a-c]* \"!\"?",
      "root ::= \"é\"+ \"!\"",
      "root ::= \"ひ\"+",
      "root ::= .*",
      "root ::= [^a]{0,3}",
      "root ::= \"😀\" | \"x\"",
  };
  for (const char* g : grammars) {
    SCOPED_TRACE(g);
    auto compiled = CompiledGrammar::from_gbnf(g);
    for (uint32_t seed = 0; seed < 5; ++seed) random_walk_check(compiled, trie, 8, seed);
  }
  auto json = CompiledGrammar::from_gbnf(test::llama_grammar("json"));
  for (uint32_t seed = 0; seed < 10; ++seed) random_walk_check(json, trie, 20, seed);
}

TEST(TokenMask, EndOfGenerationOnlyWhenComplete) {
  auto trie = small_vocab();
  auto cache =
      std::make_shared<MaskCache>(CompiledGrammar::from_gbnf("root ::= \"ab\" \"c\"?"), trie);
  GrammarConstraint c(cache);
  EXPECT_FALSE(c.allowed_tokens()->test(1));
  EXPECT_FALSE(c.accept_token(1));
  EXPECT_FALSE(c.accept_token(0));  // control token with an empty piece
  ASSERT_TRUE(c.accept_token(4));   // "ab"
  EXPECT_TRUE(c.allowed_tokens()->test(1));
  EXPECT_TRUE(c.allowed_tokens()->test(6));  // "c"
  EXPECT_TRUE(c.accept_token(1));
  EXPECT_FALSE(c.accept_token(3));  // "b": rejected, state unchanged
  ASSERT_TRUE(c.accept_token(6));
  std::shared_ptr<const TokenBitset> mask = c.allowed_tokens();
  EXPECT_EQ(mask->count(), 1);  // only the end-of-generation token
}

TEST(TokenMask, ApplySetsDisallowedLogitsToMinusInfinity) {
  auto trie = small_vocab();
  auto cache = std::make_shared<MaskCache>(CompiledGrammar::from_gbnf("root ::= \"a\" [bc]"), trie);
  GrammarConstraint c(cache);
  std::vector<float> logits(static_cast<size_t>(trie->n_vocab()) + 3, 1.0f);  // padded vocabulary
  c.apply(logits);
  std::shared_ptr<const TokenBitset> mask = c.allowed_tokens();
  for (size_t i = 0; i < logits.size(); ++i) {
    bool allowed = i < static_cast<size_t>(trie->n_vocab()) && mask->test(static_cast<TokenId>(i));
    EXPECT_EQ(std::isinf(logits[i]) && logits[i] < 0, !allowed) << i;
  }
  EXPECT_EQ(logits[2], 1.0f);          // "a"
  EXPECT_EQ(logits[4], 1.0f);          // "ab"
  EXPECT_TRUE(std::isinf(logits[5]));  // "abc": 'c' cannot follow "ab"
}

TEST(TokenMask, CacheHitsForRepeatedStates) {
  auto trie = small_vocab();
  auto cache = std::make_shared<MaskCache>(CompiledGrammar::from_gbnf("root ::= \"a\"*"), trie);
  GrammarConstraint c(cache);
  for (int i = 0; i < 5; ++i) {
    c.allowed_tokens();
    ASSERT_TRUE(c.accept_token(2));
  }
  MaskCache::Stats stats = cache->stats();
  // The start state and the state after any number of "a" are the same stack set.
  EXPECT_EQ(stats.mask_misses, 1u);
  EXPECT_EQ(stats.mask_hits, 4u);
}

TEST(TokenMask, RejectsMatcherOfAnotherGrammar) {
  auto trie = small_vocab();
  MaskCache cache(CompiledGrammar::from_gbnf("root ::= \"a\""), trie);
  GrammarMatcher other = GrammarMatcher::from_gbnf("root ::= \"a\"");
  EXPECT_THROW(cache.allowed_tokens(other), Error);
}

std::shared_ptr<const TokenTrie> vocab_trie(const std::string& relative) {
  GgufFile file = GgufFile::open(latent::test::testdata_path(relative));
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(file);
  return TokenTrie::build(*tokenizer);
}

const char* kPersonSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 20},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "tags": {"type": "array", "items": {"enum": ["a", "bc", "déf"]}, "maxItems": 3},
    "ok": {"type": "boolean"}
  },
  "required": ["name", "age"]
})";

TEST(TokenMask, Stories260kVocabularyMatchesOracle) {
  auto trie = vocab_trie("models/stories260K/stories260K.gguf");
  ASSERT_GT(trie->n_vocab(), 100);
  const std::string grammars[] = {
      std::string(test::llama_grammar("json")),     std::string(test::llama_grammar("arithmetic")),
      std::string(test::llama_grammar("japanese")), "root ::= [a-z ]{0,30} \".\"",
      json_schema_to_gbnf_text(kPersonSchema),
  };
  for (const std::string& g : grammars) {
    SCOPED_TRACE(g);
    auto compiled = CompiledGrammar::from_gbnf(g);
    int checked = 0;
    for (uint32_t seed = 0; seed < 4; ++seed)
      checked += random_walk_check(compiled, trie, 25, seed);
    EXPECT_GE(checked, 8);  // the walks get past the first token or two
  }
}

TEST(TokenMask, LlamaSpm32kVocabularyMatchesOracle) {
  auto trie = vocab_trie("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  ASSERT_EQ(trie->n_vocab(), 32000);
  const std::string grammars[] = {
      std::string(test::llama_grammar("json")),
      std::string(test::llama_grammar("japanese")),  // byte tokens end inside characters
      json_schema_to_gbnf_text(kPersonSchema),
  };
  for (const std::string& g : grammars) {
    SCOPED_TRACE(g.substr(0, 80));
    auto compiled = CompiledGrammar::from_gbnf(g);
    int checked = 0;
    for (uint32_t seed = 0; seed < 2; ++seed)
      checked += random_walk_check(compiled, trie, 12, seed);
    EXPECT_GE(checked, 6);
  }
}

TEST(TokenMask, ByteLevelBpeVocabularyMatchesOracle) {
  // GPT-2's 50k byte-level vocabulary: pieces are raw bytes, many end inside UTF-8 characters.
  auto trie = vocab_trie("llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
  auto compiled = CompiledGrammar::from_gbnf(std::string(test::llama_grammar("japanese")));
  EXPECT_GE(random_walk_check(compiled, trie, 8, 7), 4);
  auto json = CompiledGrammar::from_gbnf(std::string(test::llama_grammar("json")));
  EXPECT_GE(random_walk_check(json, trie, 8, 3), 2);
}

}  // namespace
}  // namespace latent::grammar
