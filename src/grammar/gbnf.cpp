// GBNF parser and printer. The syntax follows llama.cpp's llama_grammar_parser
// (src/llama-grammar.cpp) so that grammars written for it parse the same way here:
// - a rule is `name ::= alternatives` and ends at a newline, except that a newline may follow `|`
//   and may appear anywhere inside parentheses;
// - names are [a-zA-Z0-9-]+; `#` starts a comment to the end of the line;
// - escapes are \xHH \uHHHH \UHHHHHHHH \t \r \n \\ \" \[ \];
// - in a class, `a-z` is a range unless the `-` is followed by `]`.
#include "grammar/gbnf.h"

#include <set>
#include <unordered_set>

#include "base/error.h"

namespace latent::grammar {

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Grammar parse() {
    Grammar grammar;
    std::unordered_set<std::string> defined;
    skip_space(true);
    while (!at_end()) {
      Rule rule = parse_rule();
      if (!defined.insert(rule.name).second) {
        fail_at(rule_start_, "a single definition of rule '" + rule.name + "'",
                "a second definition");
      }
      grammar.rules.push_back(std::move(rule));
    }
    check_references(grammar, defined);
    if (!defined.count("root")) {
      throw Error("grammar: expected a rule named 'root', found none (rules: " +
                  std::to_string(grammar.rules.size()) + ")");
    }
    return grammar;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  // "grammar:LINE:COL: expected ..., found ..." with the position of byte `at`.
  [[noreturn]] void fail_at(size_t at, const std::string& expected,
                            const std::string& found) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
        ++column;  // count code points, not bytes
      }
    }
    throw Error("grammar:" + std::to_string(line) + ":" + std::to_string(column) + ": expected " +
                expected + ", found " + found);
  }
  [[noreturn]] void fail(const std::string& expected) const {
    fail_at(pos_, expected, describe_here());
  }
  std::string describe_here() const {
    if (at_end()) return "end of input";
    char c = peek();
    if (c == '\n' || c == '\r') return "end of line";
    if (static_cast<unsigned char>(c) < 0x20) return "control character";
    if (static_cast<unsigned char>(c) >= 0x80) return "non-ASCII character";
    return std::string("'") + c + "'";
  }

  void skip_space(bool newline_ok) {
    while (!at_end()) {
      char c = peek();
      if (c == ' ' || c == '\t' || (newline_ok && (c == '\r' || c == '\n'))) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && peek() != '\r' && peek() != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string parse_name(const char* what) {
    size_t start = pos_;
    while (!at_end() && is_name_char(peek())) ++pos_;
    if (pos_ == start) fail(what);
    return std::string(text_.substr(start, pos_ - start));
  }

  Rule parse_rule() {
    rule_start_ = pos_;
    Rule rule;
    rule.line = line_of(pos_);
    rule.name = parse_name("a rule name ([a-zA-Z0-9-]+)");
    skip_space(false);
    if (text_.substr(pos_, 3) != "::=") fail("'::=' after rule name '" + rule.name + "'");
    pos_ += 3;
    skip_space(true);
    rule.alternatives = parse_alternatives(false);
    if (peek() == '\r') {
      pos_ += peek(1) == '\n' ? 2 : 1;
    } else if (peek() == '\n') {
      ++pos_;
    } else if (!at_end()) {
      fail("a symbol, '|' or end of line");
    }
    skip_space(true);
    return rule;
  }

  uint32_t line_of(size_t at) const {
    uint32_t line = 1;
    for (size_t i = 0; i < at; ++i) line += text_[i] == '\n';
    return line;
  }

  std::vector<Sequence> parse_alternatives(bool nested) {
    std::vector<Sequence> alternatives;
    alternatives.push_back(parse_sequence(nested));
    while (peek() == '|') {
      ++pos_;
      skip_space(true);  // a newline after '|' continues the rule
      alternatives.push_back(parse_sequence(nested));
    }
    return alternatives;
  }

  Sequence parse_sequence(bool nested) {
    Sequence sequence;
    while (!at_end()) {
      char c = peek();
      if (c == '"') {
        sequence.push_back(parse_literal());
      } else if (c == '[') {
        sequence.push_back(parse_class());
      } else if (is_name_char(c)) {
        Expr ref;
        ref.kind = Expr::Kind::kRuleRef;
        ref_positions_.push_back(pos_);
        ref.rule_name = parse_name("a rule name");
        sequence.push_back(std::move(ref));
      } else if (c == '(') {
        ++pos_;
        skip_space(true);
        Expr group;
        group.kind = Expr::Kind::kGroup;
        group.alternatives = parse_alternatives(true);
        if (peek() != ')') fail("')' or '|' in a group");
        ++pos_;
        sequence.push_back(std::move(group));
      } else if (c == '.') {
        ++pos_;
        Expr any;
        any.kind = Expr::Kind::kAnyChar;
        sequence.push_back(std::move(any));
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (sequence.empty()) fail("a symbol before the repetition operator");
        uint32_t min_count = 0, max_count = Expr::kUnbounded;
        if (c == '{') {
          parse_braces(nested, &min_count, &max_count);
        } else {
          ++pos_;
          if (c == '+') min_count = 1;
          if (c == '?') max_count = 1;
        }
        Expr repeat;
        repeat.kind = Expr::Kind::kRepeat;
        repeat.min_count = min_count;
        repeat.max_count = max_count;
        repeat.child.push_back(std::move(sequence.back()));
        sequence.back() = std::move(repeat);
      } else if (c == '<' || c == '!') {
        fail("a symbol (token references like <[id]> and <text> are not supported)");
      } else {
        break;
      }
      skip_space(nested);
    }
    // `x ::= ""` is the empty sequence; the printer writes the empty sequence that way, so this
    // keeps parse(print(g)) == g.
    if (sequence.size() == 1 && sequence[0].kind == Expr::Kind::kLiteral &&
        sequence[0].literal.empty()) {
      sequence.clear();
    }
    return sequence;
  }

  uint32_t parse_count() {
    size_t start = pos_;
    uint64_t value = 0;
    while (!at_end() && is_digit(peek())) {
      value = value * 10 + static_cast<uint64_t>(peek() - '0');
      if (value > Expr::kUnbounded - 1)
        fail_at(start, "a repetition count below 4294967295", "more");
      ++pos_;
    }
    if (pos_ == start) fail("an integer in '{...}'");
    return static_cast<uint32_t>(value);
  }

  void parse_braces(bool nested, uint32_t* min_count, uint32_t* max_count) {
    ++pos_;  // '{'
    skip_space(nested);
    size_t start = pos_;
    *min_count = parse_count();
    skip_space(nested);
    if (peek() == '}') {
      *max_count = *min_count;
    } else if (peek() == ',') {
      ++pos_;
      skip_space(nested);
      if (is_digit(peek())) {
        *max_count = parse_count();
        skip_space(nested);
        if (*max_count < *min_count) fail_at(start, "{m,n} with m <= n", "m > n");
      }
      if (peek() != '}') fail("'}'");
    } else {
      fail("',' or '}'");
    }
    ++pos_;
  }

  Expr parse_literal() {
    ++pos_;  // opening quote
    Expr literal;
    literal.kind = Expr::Kind::kLiteral;
    while (peek() != '"') {
      if (at_end()) fail("'\"' closing the string literal");
      literal.literal.push_back(parse_char());
    }
    ++pos_;
    return literal;
  }

  Expr parse_class() {
    ++pos_;  // '['
    Expr cls;
    cls.kind = Expr::Kind::kCharClass;
    if (peek() == '^') {
      cls.negated = true;
      ++pos_;
    }
    while (peek() != ']') {
      if (at_end()) fail("']' closing the character class");
      size_t start = pos_;
      uint32_t first = parse_char();
      uint32_t last = first;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
        ++pos_;
        last = parse_char();
        if (last < first) fail_at(start, "a range with first <= last", "a reversed range");
      }
      cls.ranges.push_back({first, last});
    }
    ++pos_;
    return cls;
  }

  uint32_t parse_hex(int digits) {
    size_t start = pos_;
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      char c = peek();
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail(std::to_string(digits) + " hex digits");
      }
      value = (value << 4) | d;
      ++pos_;
    }
    if (value > kMaxCodePoint) fail_at(start, "a code point <= 10FFFF", "a larger value");
    return value;
  }

  // One code point of a literal or class: an escape or one UTF-8 encoded character.
  uint32_t parse_char() {
    if (peek() == '\\') {
      ++pos_;
      char c = peek();
      ++pos_;
      switch (c) {
        case 'x':
          return parse_hex(2);
        case 'u':
          return parse_hex(4);
        case 'U':
          return parse_hex(8);
        case 't':
          return '\t';
        case 'r':
          return '\r';
        case 'n':
          return '\n';
        case '\\':
        case '"':
        case '[':
        case ']':
          return static_cast<uint32_t>(c);
        default:
          --pos_;
          fail("an escape (\\x \\u \\U \\t \\r \\n \\\\ \\\" \\[ \\])");
      }
    }
    return parse_utf8();
  }

  uint32_t parse_utf8() {
    size_t start = pos_;
    auto byte = [&](size_t i) { return static_cast<unsigned char>(peek(i)); };
    unsigned char b0 = byte(0);
    int length = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
    if (length == 0) fail_at(start, "valid UTF-8", "an invalid lead byte");
    uint32_t value = length == 1 ? b0 : b0 & (0x7F >> length);
    for (int i = 1; i < length; ++i) {
      if ((byte(static_cast<size_t>(i)) & 0xC0) != 0x80) {
        fail_at(start, "valid UTF-8", "a truncated sequence");
      }
      value = (value << 6) | (byte(static_cast<size_t>(i)) & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (value < kMinForLength[length] || value > kMaxCodePoint ||
        (value >= 0xD800 && value <= 0xDFFF)) {
      fail_at(start, "valid UTF-8", "an overlong, surrogate or out-of-range sequence");
    }
    pos_ += static_cast<size_t>(length);
    return value;
  }

  void check_references(const Grammar& grammar, const std::unordered_set<std::string>& defined) {
    size_t next_ref = 0;
    // References were recorded in text order, which is also tree order.
    auto visit = [&](auto&& self, const Expr& expr) -> void {
      switch (expr.kind) {
        case Expr::Kind::kRuleRef:
          if (!defined.count(expr.rule_name)) {
            fail_at(ref_positions_[next_ref], "a defined rule",
                    "undefined rule '" + expr.rule_name + "'");
          }
          ++next_ref;
          break;
        case Expr::Kind::kGroup:
          for (const Sequence& seq : expr.alternatives) {
            for (const Expr& e : seq) self(self, e);
          }
          break;
        case Expr::Kind::kRepeat:
          self(self, expr.child[0]);
          break;
        default:
          break;
      }
    };
    for (const Rule& rule : grammar.rules) {
      for (const Sequence& seq : rule.alternatives) {
        for (const Expr& e : seq) visit(visit, e);
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t rule_start_ = 0;
  std::vector<size_t> ref_positions_;
};

// Escape for a code point inside "..." (in_class false) or [...] (in_class true).
void append_escaped(std::string& out, uint32_t cp, bool in_class) {
  static const char* kHex = "0123456789ABCDEF";
  auto hex = [&](char prefix, int digits) {
    out += '\\';
    out += prefix;
    for (int i = digits - 1; i >= 0; --i) out += kHex[(cp >> (4 * i)) & 0xF];
  };
  switch (cp) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '"':
      out += "\\\"";
      return;
    default:
      break;
  }
  if (in_class && (cp == ']' || cp == '[')) {
    out += '\\';
    out += static_cast<char>(cp);
    return;
  }
  // '-' and '^' have no escape of their own in GBNF; hex keeps them literal inside a class.
  if (in_class && (cp == '-' || cp == '^')) return hex('x', 2);
  if (cp < 0x20 || cp == 0x7F) return hex('x', 2);
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp <= 0xFFFF) {
    hex('u', 4);
  } else {
    hex('U', 8);
  }
}

void print_sequence(std::string& out, const Sequence& sequence);

void print_alternatives(std::string& out, const std::vector<Sequence>& alternatives) {
  for (size_t i = 0; i < alternatives.size(); ++i) {
    if (i > 0) out += " | ";
    print_sequence(out, alternatives[i]);
  }
}

void print_expr(std::string& out, const Expr& expr) {
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      out += '"';
      for (uint32_t cp : expr.literal) append_escaped(out, cp, false);
      out += '"';
      break;
    case Expr::Kind::kCharClass:
      out += expr.negated ? "[^" : "[";
      for (const CodePointRange& r : expr.ranges) {
        append_escaped(out, r.first, true);
        if (r.last != r.first) {
          out += '-';
          append_escaped(out, r.last, true);
        }
      }
      out += ']';
      break;
    case Expr::Kind::kAnyChar:
      out += '.';
      break;
    case Expr::Kind::kRuleRef:
      out += expr.rule_name;
      break;
    case Expr::Kind::kGroup:
      out += '(';
      print_alternatives(out, expr.alternatives);
      out += ')';
      break;
    case Expr::Kind::kRepeat: {
      print_expr(out, expr.child[0]);
      uint32_t lo = expr.min_count, hi = expr.max_count;
      if (lo == 0 && hi == Expr::kUnbounded) {
        out += '*';
      } else if (lo == 1 && hi == Expr::kUnbounded) {
        out += '+';
      } else if (lo == 0 && hi == 1) {
        out += '?';
      } else if (lo == hi) {
        out += '{' + std::to_string(lo) + '}';
      } else if (hi == Expr::kUnbounded) {
        out += '{' + std::to_string(lo) + ",}";
      } else {
        out += '{' + std::to_string(lo) + ',' + std::to_string(hi) + '}';
      }
      break;
    }
  }
}

void print_sequence(std::string& out, const Sequence& sequence) {
  if (sequence.empty()) out += "\"\"";
  for (size_t i = 0; i < sequence.size(); ++i) {
    if (i > 0) out += ' ';
    print_expr(out, sequence[i]);
  }
}

}  // namespace

const Rule* Grammar::find(std::string_view name) const {
  for (const Rule& rule : rules) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

Grammar parse_gbnf(std::string_view text) {
  return Parser(text).parse();
}

std::string print_gbnf(const Grammar& grammar) {
  std::string out;
  for (const Rule& rule : grammar.rules) {
    out += rule.name;
    out += " ::= ";
    print_alternatives(out, rule.alternatives);
    out += '\n';
  }
  return out;
}

std::string escape_literal(std::u32string_view text) {
  std::string out;
  for (uint32_t cp : text) append_escaped(out, cp, false);
  return out;
}

std::string escape_literal_utf8(std::string_view utf8) {
  // Input comes from JSON strings (valid UTF-8); bytes are decoded leniently: a malformed byte is
  // taken as the code point of the same value.
  std::u32string cps;
  for (size_t i = 0; i < utf8.size();) {
    auto b0 = static_cast<unsigned char>(utf8[i]);
    int length = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 1;
    if (i + static_cast<size_t>(length) > utf8.size()) length = 1;
    uint32_t value = length == 1 ? b0 : b0 & (0x7F >> length);
    for (int k = 1; k < length; ++k) {
      value = (value << 6) | (static_cast<unsigned char>(utf8[i + static_cast<size_t>(k)]) & 0x3F);
    }
    cps.push_back(value);
    i += static_cast<size_t>(length);
  }
  return escape_literal(cps);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace latent::grammar
