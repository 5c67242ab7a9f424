// Grammar-constrained decoding for the engine: GrammarTokenConstraint adapts the grammar layer's
// matcher and token masks (src/grammar) to the engine's TokenConstraint, and GrammarCache keeps
// what is expensive to rebuild per request — the vocabulary's byte trie (once per model) and the
// compiled grammars with their mask caches (per distinct GBNF text, least recently used dropped),
// so the second request with the same schema starts with warm masks. Used by `latent serve` and
// by `latent run --grammar-file/--json-schema`.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "engine/request.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "grammar/token_trie.h"
#include "tokenizer/tokenizer.h"

namespace latent::server {

class GrammarCache {
 public:
  explicit GrammarCache(const Tokenizer& tokenizer, size_t capacity = 16);
  // The mask cache for a GBNF text (parsed and compiled on first use). Throws latent::Error for a
  // grammar that does not parse or compile, naming the construct.
  std::shared_ptr<grammar::MaskCache> get(const std::string& gbnf);
  // The vocabulary trie, built on first use (a few ms for 32k tokens; shared by every grammar).
  std::shared_ptr<const grammar::TokenTrie> trie();

 private:
  const Tokenizer& tokenizer_;
  const size_t capacity_;
  std::mutex mu_;
  std::shared_ptr<const grammar::TokenTrie> trie_;
  std::list<std::pair<std::string, std::shared_ptr<grammar::MaskCache>>> lru_;  // newest first
};

// Time spent computing and applying masks, shared by a constraint and its clones (for `latent run`
// to report mask time per token).
struct MaskTiming {
  std::atomic<int64_t> nanoseconds{0};
  std::atomic<int64_t> masks{0};
};

class GrammarTokenConstraint : public TokenConstraint {
 public:
  // The whole output must match the grammar.
  explicit GrammarTokenConstraint(std::shared_ptr<grammar::MaskCache> grammar);
  // A reasoning model whose prompt opened <think>: the output is free reasoning (only
  // end-of-generation is masked) until the model writes "</think>" or `budget_tokens` tokens have
  // passed; from there `after_think` — a grammar that starts with the literal "</think>" — is
  // enforced, fed with the "</think>" already written (or the part of it written so far). So
  // reasoning stays the model's own and the structured part always comes.
  GrammarTokenConstraint(std::shared_ptr<grammar::MaskCache> after_think, int32_t budget_tokens);

  void apply(std::span<float> logits) override;
  void accept(TokenId token) override;
  bool is_complete() const override;
  std::unique_ptr<TokenConstraint> clone() const override;

  void set_timing(std::shared_ptr<MaskTiming> timing) { timing_ = std::move(timing); }
  const grammar::GrammarMatcher& matcher() const { return matcher_; }

 private:
  void enter_grammar();  // leaves the free reasoning phase

  std::shared_ptr<grammar::MaskCache> cache_;
  grammar::GrammarMatcher matcher_;
  bool free_reasoning_ = false;
  int32_t budget_tokens_ = 0;
  int32_t n_free_ = 0;
  std::string tail_;  // the last bytes of free reasoning, to spot "</think>"
  bool dead_ =
      false;  // a token the grammar rejects was accepted (only if sampling ignored the mask)
  std::shared_ptr<MaskTiming> timing_;
};

}  // namespace latent::server
