// GrammarMatcher: incremental recognition of a CompiledGrammar over raw bytes, with llama.cpp-style
// pushdown stacks. A stack lists element indices, innermost last; its top is always a character set
// (rule references are expanded eagerly), and the empty stack means the root rule has ended. The
// state is the canonical (sorted, duplicate-free) set of live stacks plus an unfinished UTF-8
// sequence, so two matchers that have read equivalent input compare equal, and the state is cheap
// to copy (copy before trying a continuation; token_mask.h relies on this).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "grammar/grammar_compiler.h"

namespace latent::grammar {

using Stack = std::vector<uint32_t>;  // element indices; back() is the next character set to match
using StackSet = std::vector<Stack>;  // sorted, unique

// An unfinished UTF-8 sequence: the bits read so far and how many continuation bytes are missing.
struct Utf8Partial {
  uint32_t value = 0;
  uint8_t remaining = 0;  // 0: at a code point boundary
  uint8_t length = 0;     // length of the sequence being read (2..4), for the overlong check
  bool operator==(const Utf8Partial&) const = default;
};

// Result of feeding one byte to a UTF-8 decoder state.
enum class Utf8Step : uint8_t { kInvalid, kPartial, kComplete };
// Strict decoding: overlong forms, surrogates and values above U+10FFFF are invalid. On kComplete,
// *code_point is set and *partial is reset.
Utf8Step utf8_step(Utf8Partial* partial, uint8_t byte, uint32_t* code_point);
// The code points an unfinished sequence can still complete to; false if there are none.
bool utf8_completion_range(const Utf8Partial& partial, uint32_t* first, uint32_t* last);

// Stack operations shared by the matcher and the token-mask walk.
// The stacks reachable from the root before any input.
StackSet initial_stacks(const CompiledGrammar& grammar);
// The stacks after matching `code_point` on each stack of `stacks` (empty: no stack accepts it).
StackSet advance_stacks(const CompiledGrammar& grammar, const StackSet& stacks,
                        uint32_t code_point);
// Whether some stack's next character set contains a code point in [first, last].
bool stacks_accept_any(const CompiledGrammar& grammar, const StackSet& stacks, uint32_t first,
                       uint32_t last);

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  // parse_gbnf + compile + matcher; throws latent::Error as they do.
  static GrammarMatcher from_gbnf(std::string_view text);

  // Feeds bytes (any split of UTF-8, including in the middle of a character). Returns false and
  // leaves the state unchanged when some prefix of the bytes cannot continue any sentence of the
  // grammar (including invalid UTF-8).
  bool accept_bytes(std::string_view bytes);
  // Whether the input so far is a complete sentence: the root can end here (more input may still
  // be accepted).
  bool is_complete() const;
  // Whether any further input can be accepted (false after a complete sentence that cannot grow).
  bool can_continue() const;

  const StackSet& stacks() const { return stacks_; }
  const Utf8Partial& partial() const { return partial_; }
  const CompiledGrammar& grammar() const { return *grammar_; }
  const std::shared_ptr<const CompiledGrammar>& grammar_ptr() const { return grammar_; }

  bool operator==(const GrammarMatcher& other) const {
    return grammar_ == other.grammar_ && stacks_ == other.stacks_ && partial_ == other.partial_;
  }

 private:
  std::shared_ptr<const CompiledGrammar> grammar_;
  StackSet stacks_;
  Utf8Partial partial_;
};

}  // namespace latent::grammar
