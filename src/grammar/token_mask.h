// Allowed-token masks for grammar-constrained sampling.
//
// A token is allowed when the matcher accepts all of its bytes (a token may end inside a UTF-8
// character if the character can still be completed). Control tokens (empty piece) are never
// allowed; end-of-generation tokens are allowed exactly when the grammar is complete.
//
// Computing a mask walks the vocabulary's byte trie (token_trie.h) from the matcher's state and
// skips every subtree whose prefix is rejected. The walk's transitions go through a lazily built
// automaton: each distinct stack set met is interned once and its successors per code point are
// memoised, so a transition is usually a table lookup. Finished masks are cached by the canonical
// stack set (plus the unfinished UTF-8 bytes): inside a JSON string, for example, the state repeats
// after every character and the mask is computed once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/ids.h"
#include "grammar/matcher.h"
#include "grammar/token_trie.h"

namespace latent::grammar {

// One bit per token id.
class TokenBitset {
 public:
  explicit TokenBitset(int32_t n_tokens = 0)
      : n_tokens_(n_tokens), words_((static_cast<size_t>(n_tokens) + 63) / 64, 0) {}
  bool test(TokenId id) const { return (words_[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1; }
  void set(TokenId id) { words_[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63); }
  int32_t size() const { return n_tokens_; }
  int32_t count() const;
  bool operator==(const TokenBitset&) const = default;

 private:
  int32_t n_tokens_;
  std::vector<uint64_t> words_;
};

// The automaton and mask cache for one (grammar, vocabulary) pair. Thread-safe: sequences with the
// same grammar may share one (a mutex serialises the walks).
class MaskCache {
 public:
  struct Options {
    bool cache_masks = true;         // keep finished masks per state
    size_t max_cached_masks = 4096;  // the whole cache is dropped when it would grow past this
  };
  MaskCache(std::shared_ptr<const CompiledGrammar> grammar, std::shared_ptr<const TokenTrie> trie,
            Options options);
  MaskCache(std::shared_ptr<const CompiledGrammar> grammar, std::shared_ptr<const TokenTrie> trie)
      : MaskCache(std::move(grammar), std::move(trie), Options{}) {}

  // The allowed tokens in the matcher's state (which must use this cache's grammar).
  std::shared_ptr<const TokenBitset> allowed_tokens(const GrammarMatcher& matcher);

  const TokenTrie& trie() const { return *trie_; }
  const std::shared_ptr<const CompiledGrammar>& grammar() const { return grammar_; }

  struct Stats {
    size_t mask_hits = 0;
    size_t mask_misses = 0;
    size_t interned_states = 0;
    size_t trie_nodes_visited = 0;  // over all walks
  };
  Stats stats() const;

 private:
  static constexpr int32_t kDead = -1;
  static constexpr int32_t kUnknown = -2;

  struct State {
    StackSet stacks;
    std::vector<uint32_t> top_sets;  // distinct char sets on top of the stacks
    bool complete = false;           // contains the empty stack
    bool self_loops_known = false;
    std::array<uint64_t, 2> self_loops{};  // ASCII code points that lead back to this state
  };
  struct StackSetHash {
    size_t operator()(const StackSet& stacks) const;
  };

  int32_t intern(StackSet stacks);
  int32_t next_on_code_point(int32_t state, uint32_t code_point);
  bool accepts_any(int32_t state, uint32_t first, uint32_t last) const;
  const std::array<uint64_t, 2>& self_loops(int32_t state);
  TokenBitset walk(int32_t state, Utf8Partial partial);

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  Options options_;
  mutable std::mutex mutex_;
  std::vector<State> states_;
  // Successor of state s on ASCII code point c at [s * 128 + c], kUnknown until computed: one flat
  // table so the walk's common case is a single load.
  std::vector<int32_t> ascii_next_;
  std::unordered_map<StackSet, int32_t, StackSetHash> state_ids_;
  std::unordered_map<uint64_t, int32_t> non_ascii_next_;  // (state << 21 | code point) -> state
  std::unordered_map<uint64_t, std::shared_ptr<const TokenBitset>> masks_;
  Stats stats_;
};

// A grammar constraint on one sequence: the matcher state plus the shared mask cache.
class GrammarConstraint {
 public:
  explicit GrammarConstraint(std::shared_ptr<MaskCache> cache);

  // Allowed tokens in the current state.
  std::shared_ptr<const TokenBitset> allowed_tokens() { return cache_->allowed_tokens(matcher_); }
  // Sets the logits of disallowed tokens to -infinity (ids past the vocabulary too).
  void apply(std::span<float> logits);
  // Advances by one sampled token. False (state unchanged) when the grammar does not allow it. An
  // end-of-generation token is accepted when the grammar is complete and leaves the state as is.
  bool accept_token(TokenId id);

  const GrammarMatcher& matcher() const { return matcher_; }
  bool is_complete() const { return matcher_.is_complete(); }

 private:
  std::shared_ptr<MaskCache> cache_;
  GrammarMatcher matcher_;
};

}  // namespace latent::grammar
