// GrammarCache and GrammarTokenConstraint (grammar_constraint.h).
#include "server/grammar_constraint.h"

#include <limits>
#include <string_view>

#include "engine/answer_vote.h"  // kThinkClose
#include "grammar/grammar_compiler.h"

namespace latent::server {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of "</think>", so a budget
// that runs out in the middle of a half-written tag continues the tag instead of repeating it.
size_t partial_close_length(std::string_view text) {
  for (size_t n = std::min(text.size(), kThinkClose.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == kThinkClose.substr(0, n)) return n;
  return 0;
}

}  // namespace

GrammarCache::GrammarCache(const Tokenizer& tokenizer, size_t capacity)
    : tokenizer_(tokenizer), capacity_(capacity) {}

std::shared_ptr<const grammar::TokenTrie> GrammarCache::trie() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!trie_) trie_ = grammar::TokenTrie::build(tokenizer_);
  return trie_;
}

std::shared_ptr<grammar::MaskCache> GrammarCache::get(const std::string& gbnf) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == gbnf) {
        lru_.splice(lru_.begin(), lru_, it);
        return lru_.front().second;
      }
    }
  }
  // Compiling happens outside the lock: a large schema must not stall other requests' lookups.
  auto compiled = grammar::CompiledGrammar::from_gbnf(gbnf);
  // Masks are a bit per token (16 KB for Llama 3's 128k vocabulary): at most 1024 cached states
  // per grammar and `capacity_` grammars bound the memory to ~16 MB per grammar.
  grammar::MaskCache::Options options;
  options.max_cached_masks = 1024;
  auto cache = std::make_shared<grammar::MaskCache>(std::move(compiled), trie(), options);
  std::lock_guard<std::mutex> lock(mu_);
  lru_.emplace_front(gbnf, cache);
  if (lru_.size() > capacity_) lru_.pop_back();
  return cache;
}

GrammarTokenConstraint::GrammarTokenConstraint(std::shared_ptr<grammar::MaskCache> grammar)
    : cache_(std::move(grammar)), matcher_(cache_->grammar()) {}

GrammarTokenConstraint::GrammarTokenConstraint(std::shared_ptr<grammar::MaskCache> after_think,
                                               int32_t budget_tokens)
    : cache_(std::move(after_think)),
      matcher_(cache_->grammar()),
      free_reasoning_(true),
      budget_tokens_(budget_tokens) {
  if (budget_tokens_ <= 0) enter_grammar();
}

void GrammarTokenConstraint::enter_grammar() {
  free_reasoning_ = false;
  const size_t pos = tail_.find(kThinkClose);
  // What the model already wrote of the grammar: "</think>" and whatever its token carried after
  // it, or the half-written tag the budget cut.
  const std::string_view written =
      pos != std::string::npos
          ? std::string_view(tail_).substr(pos)
          : std::string_view(tail_).substr(tail_.size() - partial_close_length(tail_));
  if (!written.empty() && !matcher_.accept_bytes(written)) {
    // Text after the tag that the grammar does not allow: keep the tag, the rest stays text
    // (the tool-call parser is lenient about it).
    if (pos == std::string::npos || !matcher_.accept_bytes(kThinkClose)) dead_ = true;
  }
  tail_.clear();
}

void GrammarTokenConstraint::apply(std::span<float> logits) {
  const auto t0 = std::chrono::steady_clock::now();
  const float minus_inf = -std::numeric_limits<float>::infinity();
  const grammar::TokenTrie& trie = cache_->trie();
  if (free_reasoning_) {
    // Ending during reasoning would skip the structured part the request asked for.
    for (TokenId id : trie.eog_tokens())
      if (static_cast<size_t>(id) < logits.size()) logits[static_cast<size_t>(id)] = minus_inf;
  } else {
    std::shared_ptr<const grammar::TokenBitset> allowed = cache_->allowed_tokens(matcher_);
    const auto n = static_cast<TokenId>(std::min<size_t>(logits.size(), allowed->size()));
    for (TokenId id = 0; id < n; ++id)
      if (!allowed->test(id)) logits[static_cast<size_t>(id)] = minus_inf;
    for (size_t i = static_cast<size_t>(n); i < logits.size(); ++i) logits[i] = minus_inf;
  }
  if (timing_) {
    timing_->nanoseconds +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ++timing_->masks;
  }
}

void GrammarTokenConstraint::accept(TokenId token) {
  const grammar::TokenTrie& trie = cache_->trie();
  if (token < 0 || token >= trie.n_vocab() || trie.is_eog(token)) return;
  const std::string& piece = trie.piece(token);
  if (free_reasoning_) {
    tail_ += piece;
    if (tail_.size() > 64) tail_.erase(0, tail_.size() - 64);
    ++n_free_;
    if (tail_.find(kThinkClose) != std::string::npos || n_free_ >= budget_tokens_) enter_grammar();
    return;
  }
  if (piece.empty() || !matcher_.accept_bytes(piece)) dead_ = true;
}

bool GrammarTokenConstraint::is_complete() const {
  return dead_ || (!free_reasoning_ && !matcher_.can_continue());
}

std::unique_ptr<TokenConstraint> GrammarTokenConstraint::clone() const {
  return std::make_unique<GrammarTokenConstraint>(*this);
}

}  // namespace latent::server
