// GBNF (llama.cpp's grammar format, grammars/README.md there) as a syntax tree: parse_gbnf reads
// the text users write, print_gbnf writes a tree back so that parse_gbnf(print_gbnf(g)) == g. The
// tree keeps groups and repetitions as written; grammar_compiler.h lowers it to the flat rules the
// matcher runs. Token references (`<[id]>`, `<think>`) are not supported and are reported as
// errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latent::grammar {

// Inclusive range of Unicode code points.
struct CodePointRange {
  uint32_t first = 0;
  uint32_t last = 0;
  bool operator==(const CodePointRange&) const = default;
};

struct Expr;
// Symbols matched one after another.
using Sequence = std::vector<Expr>;

// One symbol of a sequence. Only the fields of its kind are meaningful (the others stay empty), so
// the defaulted comparison is structural equality.
struct Expr {
  enum class Kind : uint8_t {
    kLiteral,    // "abc": code points in order
    kCharClass,  // [a-z0-9_] or [^"\\]
    kAnyChar,    // .
    kRuleRef,    // name
    kGroup,      // ( alternatives )
    kRepeat,     // child{min,max}; *, +, ? are {0,}, {1,}, {0,1}
  };
  static constexpr uint32_t kUnbounded = UINT32_MAX;

  Kind kind = Kind::kLiteral;
  std::u32string literal;              // kLiteral
  std::vector<CodePointRange> ranges;  // kCharClass, as written (single chars are first == last)
  bool negated = false;                // kCharClass
  std::string rule_name;               // kRuleRef
  std::vector<Sequence> alternatives;  // kGroup
  std::vector<Expr> child;             // kRepeat: exactly one element
  uint32_t min_count = 0;              // kRepeat
  uint32_t max_count = 0;              // kRepeat, kUnbounded for no limit

  bool operator==(const Expr&) const = default;
};

struct Rule {
  std::string name;
  std::vector<Sequence> alternatives;  // an empty Sequence matches the empty string
  uint32_t line = 0;                   // where it was defined (1-based), for compile errors
  bool operator==(const Rule& other) const {
    return name == other.name && alternatives == other.alternatives;
  }
};

struct Grammar {
  std::vector<Rule> rules;  // in definition order
  bool operator==(const Grammar&) const = default;
  // nullptr when no rule has that name.
  const Rule* find(std::string_view name) const;
};

// Parses GBNF text. Throws latent::Error "grammar:LINE:COL: expected ..., found ..." for syntax
// errors, and for a rule defined twice, a reference to an undefined rule or a missing `root`.
Grammar parse_gbnf(std::string_view text);

// Writes the grammar as GBNF, one rule per line, with escapes for everything outside printable
// ASCII inside literals and classes.
std::string print_gbnf(const Grammar& grammar);

// Helpers for code that builds GBNF text (json_schema.cpp): a code point / string as it must appear
// inside a "..." literal.
std::string escape_literal(std::u32string_view text);
std::string escape_literal_utf8(std::string_view utf8);

// UTF-8 encoding of one code point (appended).
void append_utf8(std::string& out, uint32_t code_point);

}  // namespace latent::grammar
