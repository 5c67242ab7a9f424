// Mask computation: the trie walk over the lazily built stack-set automaton, and the mask cache.
#include "grammar/token_mask.h"

#include <algorithm>
#include <bit>
#include <limits>

#include "base/error.h"

namespace latent::grammar {

int32_t TokenBitset::count() const {
  int32_t n = 0;
  for (uint64_t w : words_) n += std::popcount(w);
  return n;
}

size_t MaskCache::StackSetHash::operator()(const StackSet& stacks) const {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ stacks.size();
  for (const Stack& stack : stacks) {
    h = (h ^ (stack.size() + 0x51ED27ull)) * 0x100000001B3ull;
    for (uint32_t e : stack) h = (h ^ e) * 0x100000001B3ull;
  }
  return static_cast<size_t>(h ^ (h >> 29));
}

MaskCache::MaskCache(std::shared_ptr<const CompiledGrammar> grammar,
                     std::shared_ptr<const TokenTrie> trie, Options options)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), options_(options) {}

int32_t MaskCache::intern(StackSet stacks) {
  if (stacks.empty()) return kDead;
  auto it = state_ids_.find(stacks);
  if (it != state_ids_.end()) return it->second;
  State state;
  for (const Stack& stack : stacks) {
    if (stack.empty()) {
      state.complete = true;
    } else {
      state.top_sets.push_back(grammar_->element(stack.back()).value);
    }
  }
  std::sort(state.top_sets.begin(), state.top_sets.end());
  state.top_sets.erase(std::unique(state.top_sets.begin(), state.top_sets.end()),
                       state.top_sets.end());
  ascii_next_.resize(ascii_next_.size() + 128, kUnknown);
  state.stacks = stacks;
  int32_t id = static_cast<int32_t>(states_.size());
  states_.push_back(std::move(state));
  state_ids_.emplace(std::move(stacks), id);
  return id;
}

int32_t MaskCache::next_on_code_point(int32_t state, uint32_t code_point) {
  if (code_point < 128) {
    int32_t cached = ascii_next_[static_cast<size_t>(state) * 128 + code_point];
    if (cached != kUnknown) return cached;
  } else {
    auto it = non_ascii_next_.find((static_cast<uint64_t>(state) << 21) | code_point);
    if (it != non_ascii_next_.end()) return it->second;
  }
  // Quick rejection before building successor stacks: no top accepts the code point.
  int32_t next = kDead;
  const State& s = states_[static_cast<size_t>(state)];
  bool any = std::any_of(s.top_sets.begin(), s.top_sets.end(), [&](uint32_t set) {
    return grammar_->char_set(set).contains(code_point);
  });
  if (any) next = intern(advance_stacks(*grammar_, s.stacks, code_point));
  // `s` may dangle after intern() grew states_; index again.
  if (code_point < 128) {
    ascii_next_[static_cast<size_t>(state) * 128 + code_point] = next;
  } else {
    non_ascii_next_.emplace((static_cast<uint64_t>(state) << 21) | code_point, next);
  }
  return next;
}

bool MaskCache::accepts_any(int32_t state, uint32_t first, uint32_t last) const {
  for (uint32_t set : states_[static_cast<size_t>(state)].top_sets) {
    if (grammar_->char_set(set).intersects(first, last)) return true;
  }
  return false;
}

const std::array<uint64_t, 2>& MaskCache::self_loops(int32_t state) {
  if (!states_[static_cast<size_t>(state)].self_loops_known) {
    std::array<uint64_t, 2> loops{};
    for (uint32_t c = 0; c < 128; ++c) {
      if (next_on_code_point(state, c) == state) loops[c >> 6] |= uint64_t{1} << (c & 63);
    }
    State& s = states_[static_cast<size_t>(state)];  // after next_on_code_point grew states_
    s.self_loops = loops;
    s.self_loops_known = true;
  }
  return states_[static_cast<size_t>(state)].self_loops;
}

TokenBitset MaskCache::walk(int32_t start, Utf8Partial start_partial) {
  const TokenTrie& trie = *trie_;
  TokenBitset allowed(trie.n_vocab());
  struct WalkState {
    int32_t state;
    Utf8Partial partial;
  };
  std::vector<WalkState> at_depth(trie.max_depth() + 1);
  at_depth[0] = {start, start_partial};
  const std::vector<TokenTrie::Node>& nodes = trie.nodes();
  const std::vector<TokenId>& tokens = trie.sorted_tokens();
  const std::vector<TokenTrie::Subtree>& subtrees = trie.subtrees();
  size_t visited = 0;
  for (uint32_t i = 1; i < nodes.size();) {
    const TokenTrie::Node& node = nodes[i];
    ++visited;
    const WalkState& parent = at_depth[node.depth - 1];
    WalkState next{kDead, {}};
    if (parent.partial.remaining == 0 && node.byte < 0x80) {
      next.state = ascii_next_[static_cast<size_t>(parent.state) * 128 + node.byte];
      if (next.state == kUnknown) next.state = next_on_code_point(parent.state, node.byte);
    } else {
      Utf8Partial partial = parent.partial;
      uint32_t code_point = 0;
      switch (utf8_step(&partial, node.byte, &code_point)) {
        case Utf8Step::kInvalid:
          break;
        case Utf8Step::kPartial: {
          uint32_t first = 0, last = 0;
          utf8_completion_range(partial, &first, &last);
          if (accepts_any(parent.state, first, last)) next = {parent.state, partial};
          break;
        }
        case Utf8Step::kComplete:
          next.state = next_on_code_point(parent.state, code_point);
          break;
      }
    }
    if (next.state == kDead) {
      i = node.subtree_end;  // no token starting with this prefix can be accepted
      continue;
    }
    const TokenTrie::Subtree& below = subtrees[i];
    if (next.partial.remaining == 0 && !below.has_non_ascii && node.subtree_end > i + 1) {
      // Every byte below keeps the state where it is: the whole subtree is allowed.
      const std::array<uint64_t, 2>& loops = self_loops(next.state);
      if ((below.ascii_bytes[0] & ~loops[0]) == 0 && (below.ascii_bytes[1] & ~loops[1]) == 0) {
        for (uint32_t k = node.token_begin; k < below.token_end; ++k) allowed.set(tokens[k]);
        i = node.subtree_end;
        continue;
      }
    }
    at_depth[node.depth] = next;
    for (uint32_t k = node.token_begin; k < node.token_end; ++k) allowed.set(tokens[k]);
    ++i;
  }
  stats_.trie_nodes_visited += visited;
  if (start_partial.remaining == 0 && states_[static_cast<size_t>(start)].complete) {
    for (TokenId id : trie.eog_tokens()) allowed.set(id);
  }
  return allowed;
}

std::shared_ptr<const TokenBitset> MaskCache::allowed_tokens(const GrammarMatcher& matcher) {
  if (matcher.grammar_ptr() != grammar_) {
    throw Error("MaskCache: expected a matcher of the cache's grammar, found another grammar");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  int32_t state = intern(matcher.stacks());
  if (state == kDead) return std::make_shared<const TokenBitset>(trie_->n_vocab());
  const Utf8Partial& partial = matcher.partial();
  uint64_t key = (static_cast<uint64_t>(state) << 32) |
                 (static_cast<uint64_t>(partial.value) << 8) |
                 (static_cast<uint64_t>(partial.remaining) << 4) | partial.length;
  if (options_.cache_masks) {
    auto it = masks_.find(key);
    if (it != masks_.end()) {
      ++stats_.mask_hits;
      return it->second;
    }
  }
  ++stats_.mask_misses;
  auto mask = std::make_shared<const TokenBitset>(walk(state, partial));
  if (options_.cache_masks) {
    if (masks_.size() >= options_.max_cached_masks) masks_.clear();
    masks_.emplace(key, mask);
  }
  return mask;
}

MaskCache::Stats MaskCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats stats = stats_;
  stats.interned_states = states_.size();
  return stats;
}

GrammarConstraint::GrammarConstraint(std::shared_ptr<MaskCache> cache)
    : cache_(std::move(cache)), matcher_(cache_->grammar()) {}

void GrammarConstraint::apply(std::span<float> logits) {
  std::shared_ptr<const TokenBitset> allowed = allowed_tokens();
  const float minus_inf = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    auto id = static_cast<TokenId>(i);
    if (id >= allowed->size() || !allowed->test(id)) logits[i] = minus_inf;
  }
}

bool GrammarConstraint::accept_token(TokenId id) {
  const TokenTrie& trie = cache_->trie();
  if (id < 0 || id >= trie.n_vocab()) {
    throw Error("GrammarConstraint: token id: expected [0, " + std::to_string(trie.n_vocab()) +
                "), found " + std::to_string(id));
  }
  if (trie.is_eog(id)) return matcher_.is_complete();
  const std::string& piece = trie.piece(id);
  if (piece.empty()) return false;
  return matcher_.accept_bytes(piece);
}

}  // namespace latent::grammar
