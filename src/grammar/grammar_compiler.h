// CompiledGrammar: a GBNF syntax tree lowered to llama.cpp-style flat rules for the pushdown
// matcher (matcher.h). Each rule is a run of elements `alt1 ... kAlt alt2 ... kEnd`; an element is
// either a reference to a rule or a set of code points. Groups with several alternatives and
// repetitions become helper rules (llama.cpp's rewrite: S{m,n} = S (m times) then a chain of n-m
// optional S; S{m,} = S (m times) then S' ::= S S' | ""), so the matcher only ever sees rule
// references and character sets. Left recursion, which the pushdown expansion cannot terminate on,
// is rejected.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/gbnf.h"

namespace latent::grammar {

enum class ElementType : uint8_t {
  kEnd,      // end of the rule's last alternative
  kAlt,      // end of an alternative, another follows
  kRuleRef,  // value: rule index
  kChars,    // value: char set index; matches one code point in the set
};

struct Element {
  ElementType type = ElementType::kEnd;
  uint32_t value = 0;
};

// A set of code points as sorted, disjoint, non-adjacent ranges, with a bitmap for ASCII (the
// common case in the matcher's inner loop).
class CharSet {
 public:
  explicit CharSet(std::vector<CodePointRange> normalized_ranges);
  bool contains(uint32_t code_point) const;
  // Whether some code point in [first, last] is in the set (partial UTF-8 sequences).
  bool intersects(uint32_t first, uint32_t last) const;
  const std::vector<CodePointRange>& ranges() const { return ranges_; }

 private:
  std::vector<CodePointRange> ranges_;
  std::array<uint64_t, 2> ascii_{};
};

class CompiledGrammar {
 public:
  // Throws latent::Error for left recursion (naming the rules on the cycle) and for repetitions
  // that expand past the size limit.
  static std::shared_ptr<const CompiledGrammar> compile(const Grammar& grammar);
  // parse_gbnf + compile.
  static std::shared_ptr<const CompiledGrammar> from_gbnf(std::string_view text);

  const std::vector<Element>& elements() const { return elements_; }
  const Element& element(uint32_t index) const { return elements_[index]; }
  const CharSet& char_set(uint32_t index) const { return char_sets_[index]; }
  uint32_t root_rule() const { return root_rule_; }
  size_t n_rules() const { return rule_alternatives_.size(); }
  // Element index of the first element of each alternative of a rule.
  std::span<const uint32_t> alternatives(uint32_t rule) const { return rule_alternatives_[rule]; }
  // The user's rule name; helper rules are named after the rule they were made for ("item_3").
  const std::string& rule_name(uint32_t rule) const { return rule_names_[rule]; }
  // True for kEnd / kAlt: the position after the last symbol of an alternative.
  bool is_end_of_alternative(uint32_t index) const {
    return elements_[index].type == ElementType::kEnd || elements_[index].type == ElementType::kAlt;
  }

 private:
  friend class Compiler;
  CompiledGrammar() = default;

  std::vector<Element> elements_;
  std::vector<CharSet> char_sets_;
  std::vector<std::vector<uint32_t>> rule_alternatives_;
  std::vector<std::string> rule_names_;
  uint32_t root_rule_ = 0;
};

}  // namespace latent::grammar
