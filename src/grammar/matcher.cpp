// Pushdown stack operations (after llama.cpp's llama_grammar_advance_stack / accept) and the
// byte-level matcher with strict UTF-8 decoding.
#include "grammar/matcher.h"

#include <algorithm>

namespace latent::grammar {

namespace {

constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};

void canonicalize(StackSet& stacks) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
}

// Expands rule references on top of `stack` until every resulting stack has a character set on top
// or is empty, appending the results to `out`. Left recursion was rejected at compile time, so
// this terminates; `seen` only avoids re-expanding the same intermediate stack twice (a nullable
// prefix can reach one stack along several paths).
void expand(const CompiledGrammar& grammar, Stack stack, StackSet& out) {
  std::vector<Stack> pending_stacks;
  std::vector<Stack> seen;
  pending_stacks.push_back(std::move(stack));
  while (!pending_stacks.empty()) {
    Stack current = std::move(pending_stacks.back());
    pending_stacks.pop_back();
    if (current.empty() || grammar.element(current.back()).type == ElementType::kChars) {
      out.push_back(std::move(current));
      continue;
    }
    if (std::find(seen.begin(), seen.end(), current) != seen.end()) continue;
    seen.push_back(current);
    uint32_t top = current.back();
    uint32_t rule = grammar.element(top).value;
    for (uint32_t alternative : grammar.alternatives(rule)) {
      Stack next(current.begin(), current.end() - 1);
      if (!grammar.is_end_of_alternative(top + 1)) next.push_back(top + 1);
      if (!grammar.is_end_of_alternative(alternative)) next.push_back(alternative);
      pending_stacks.push_back(std::move(next));
    }
  }
}

}  // namespace

Utf8Step utf8_step(Utf8Partial* partial, uint8_t byte, uint32_t* code_point) {
  if (partial->remaining == 0) {
    if (byte < 0x80) {
      *code_point = byte;
      return Utf8Step::kComplete;
    }
    if (byte >= 0xC2 && byte <= 0xDF) {
      *partial = {static_cast<uint32_t>(byte & 0x1F), 1, 2};
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      *partial = {static_cast<uint32_t>(byte & 0x0F), 2, 3};
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      *partial = {static_cast<uint32_t>(byte & 0x07), 3, 4};
    } else {
      return Utf8Step::kInvalid;  // continuation byte without a lead, C0/C1 (overlong), F5..FF
    }
    uint32_t first = 0, last = 0;
    return utf8_completion_range(*partial, &first, &last) ? Utf8Step::kPartial : Utf8Step::kInvalid;
  }
  if ((byte & 0xC0) != 0x80) return Utf8Step::kInvalid;
  Utf8Partial next{(partial->value << 6) | (byte & 0x3F),
                   static_cast<uint8_t>(partial->remaining - 1), partial->length};
  uint32_t first = 0, last = 0;
  if (!utf8_completion_range(next, &first, &last)) return Utf8Step::kInvalid;
  if (next.remaining == 0) {
    *code_point = next.value;
    *partial = {};
    return Utf8Step::kComplete;
  }
  *partial = next;
  return Utf8Step::kPartial;
}

bool utf8_completion_range(const Utf8Partial& partial, uint32_t* first, uint32_t* last) {
  unsigned shift = 6u * partial.remaining;
  uint32_t lo = partial.value << shift;
  uint32_t hi = lo | ((uint32_t{1} << shift) - 1);
  lo = std::max(lo, kMinForLength[partial.length]);
  hi = std::min(hi, uint32_t{0x10FFFF});
  if (lo > hi) return false;                       // overlong or beyond U+10FFFF
  if (lo >= 0xD800 && hi <= 0xDFFF) return false;  // only surrogates left
  *first = lo;
  *last = hi;
  return true;
}

StackSet initial_stacks(const CompiledGrammar& grammar) {
  StackSet stacks;
  for (uint32_t alternative : grammar.alternatives(grammar.root_rule())) {
    Stack stack;
    if (!grammar.is_end_of_alternative(alternative)) stack.push_back(alternative);
    expand(grammar, std::move(stack), stacks);
  }
  canonicalize(stacks);
  return stacks;
}

StackSet advance_stacks(const CompiledGrammar& grammar, const StackSet& stacks,
                        uint32_t code_point) {
  StackSet out;
  for (const Stack& stack : stacks) {
    if (stack.empty()) continue;
    uint32_t top = stack.back();
    if (!grammar.char_set(grammar.element(top).value).contains(code_point)) continue;
    Stack next(stack.begin(), stack.end() - 1);
    if (!grammar.is_end_of_alternative(top + 1)) next.push_back(top + 1);
    expand(grammar, std::move(next), out);
  }
  canonicalize(out);
  return out;
}

bool stacks_accept_any(const CompiledGrammar& grammar, const StackSet& stacks, uint32_t first,
                       uint32_t last) {
  for (const Stack& stack : stacks) {
    if (!stack.empty() &&
        grammar.char_set(grammar.element(stack.back()).value).intersects(first, last)) {
      return true;
    }
  }
  return false;
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : grammar_(std::move(grammar)), stacks_(initial_stacks(*grammar_)) {}

GrammarMatcher GrammarMatcher::from_gbnf(std::string_view text) {
  return GrammarMatcher(CompiledGrammar::from_gbnf(text));
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  // Work on copies so that a rejection leaves the matcher as it was.
  StackSet stacks = stacks_;
  Utf8Partial partial = partial_;
  for (char c : bytes) {
    uint32_t code_point = 0;
    switch (utf8_step(&partial, static_cast<uint8_t>(c), &code_point)) {
      case Utf8Step::kInvalid:
        return false;
      case Utf8Step::kPartial: {
        uint32_t first = 0, last = 0;
        utf8_completion_range(partial, &first, &last);
        if (!stacks_accept_any(*grammar_, stacks, first, last)) return false;
        break;
      }
      case Utf8Step::kComplete:
        stacks = advance_stacks(*grammar_, stacks, code_point);
        if (stacks.empty()) return false;
        break;
    }
  }
  stacks_ = std::move(stacks);
  partial_ = partial;
  return true;
}

bool GrammarMatcher::is_complete() const {
  return partial_.remaining == 0 && !stacks_.empty() && stacks_.front().empty();
}

bool GrammarMatcher::can_continue() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const Stack& s) { return !s.empty(); });
}

}  // namespace latent::grammar
