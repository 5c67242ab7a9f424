// `pattern` (an ECMAScript regular expression) to GBNF over JSON string contents. The grammar
// matches the canonical JSON encoding of the matched text: characters are raw except '"', '\' and
// control characters, which take their short escape (\" \\ \b \f \n \r \t) or \u00XX. Every
// construct outside the documented subset is an error rather than an approximation, so the
// grammar never admits strings the pattern rejects.
#include <algorithm>
#include <vector>

#include "base/error.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema_parts.h"

namespace latent::grammar {

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxDepth = 64;

using Ranges = std::vector<CodePointRange>;

Ranges normalized(Ranges ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CodePointRange& a, const CodePointRange& b) { return a.first < b.first; });
  Ranges out;
  for (const CodePointRange& r : ranges) {
    if (!out.empty() && r.first <= out.back().last + 1) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

Ranges complement(const Ranges& sorted) {
  Ranges out;
  uint32_t next = 0;
  for (const CodePointRange& r : sorted) {
    if (r.first > next) out.push_back({next, r.first - 1});
    next = r.last + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
}

// ECMAScript \s: WhiteSpace and LineTerminator.
Ranges whitespace_ranges() {
  return normalized({{0x09, 0x0D},
                     {0x20, 0x20},
                     {0xA0, 0xA0},
                     {0x1680, 0x1680},
                     {0x2000, 0x200A},
                     {0x2028, 0x2029},
                     {0x202F, 0x202F},
                     {0x205F, 0x205F},
                     {0x3000, 0x3000},
                     {0xFEFF, 0xFEFF}});
}

bool contains(const Ranges& ranges, uint32_t cp) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const CodePointRange& r) { return r.first <= cp && cp <= r.last; });
}

// One JSON string character whose decoded value is in `ranges`.
std::string json_char_for_set(const Ranges& ranges_in) {
  Ranges ranges = normalized(ranges_in);
  std::vector<std::string> alternatives;
  // Raw part: the set minus controls, '"', '\' and DEL (which the schema char rule also keeps out).
  Ranges raw_excluded =
      normalized({{0x00, 0x1F}, {0x22, 0x22}, {0x5C, 0x5C}, {0x7F, 0x7F}, {0xD800, 0xDFFF}});
  Ranges raw_allowed = complement(raw_excluded);
  std::string cls;
  for (const CodePointRange& a : ranges) {
    for (const CodePointRange& b : raw_allowed) {
      uint32_t lo = std::max(a.first, b.first), hi = std::min(a.last, b.last);
      if (lo > hi) continue;
      cls += class_char_gbnf(lo);
      if (hi != lo) {
        cls += '-';
        cls += class_char_gbnf(hi);
      }
    }
  }
  if (!cls.empty()) alternatives.push_back("[" + cls + "]");
  static const std::pair<uint32_t, const char*> kShort[] = {
      {'"', "\\\\\\\""}, {'\\', "\\\\\\\\"}, {0x08, "\\\\b"}, {0x0C, "\\\\f"},
      {'\n', "\\\\n"},   {'\r', "\\\\r"},    {'\t', "\\\\t"}};
  for (const auto& [cp, escape] : kShort) {
    if (contains(ranges, cp)) alternatives.push_back(std::string("\"") + escape + "\"");
  }
  static const char* kHex = "0123456789abcdef";
  for (uint32_t cp = 0; cp <= 0x7F; cp = cp == 0x1F ? 0x7F : cp + 1) {
    bool has_short = cp == 0x08 || cp == 0x0C || cp == '\n' || cp == '\r' || cp == '\t';
    if (has_short || !contains(ranges, cp)) continue;
    alternatives.push_back(std::string("\"\\\\u00") + kHex[cp >> 4] + kHex[cp & 15] + "\"");
  }
  if (alternatives.empty()) {
    throw Error("json schema: a pattern character class that matches no character");
  }
  if (alternatives.size() == 1) return alternatives[0];
  std::string out = "(";
  for (size_t i = 0; i < alternatives.size(); ++i) out += (i ? " | " : "") + alternatives[i];
  return out + ")";
}

class RegexConverter {
 public:
  RegexConverter(const std::string& pattern, const std::string& pointer)
      : pattern_(pattern), pointer_(pointer) {
    for (size_t i = 0; i < pattern.size();) {
      auto b0 = static_cast<unsigned char>(pattern[i]);
      int len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 1;
      if (i + static_cast<size_t>(len) > pattern.size()) len = 1;
      uint32_t v = len == 1 ? b0 : b0 & (0x7F >> len);
      for (int k = 1; k < len; ++k)
        v = (v << 6) | (static_cast<unsigned char>(pattern[i + static_cast<size_t>(k)]) & 0x3F);
      cps_.push_back(v);
      i += static_cast<size_t>(len);
    }
  }

  std::string convert(const std::string& char_rule) {
    size_t end = cps_.size();
    bool anchored_start = !cps_.empty() && cps_[0] == '^';
    if (anchored_start) pos_ = 1;
    bool anchored_end = false;
    if (end > pos_ && cps_[end - 1] == '$') {
      size_t backslashes = 0;
      for (size_t i = end - 1; i > pos_ && cps_[i - 1] == '\\'; --i) ++backslashes;
      if (backslashes % 2 == 0) {
        anchored_end = true;
        --end;
      }
    }
    end_ = end;
    size_t n_alternatives = 0;
    std::string body = parse_alternation(0, &n_alternatives);
    if (pos_ != end_) fail("')' without a matching '('");
    if ((anchored_start || anchored_end) && n_alternatives > 1) {
      fail("'|' at the top level together with the anchors ^/$ (wrap the alternation in a group)");
    }
    std::string out = anchored_start ? "" : char_rule + "* ";
    out += "(" + body + ")";
    if (!anchored_end) out += " " + char_rule + "*";
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& construct) const {
    throw Error("json schema: " + pointer_ + ": pattern \"" + pattern_ +
                "\": unsupported regular expression construct: " + construct);
  }
  bool at_end() const { return pos_ >= end_; }
  uint32_t peek() const { return at_end() ? 0 : cps_[pos_]; }

  std::string parse_alternation(int depth, size_t* n_alternatives) {
    if (depth > kMaxDepth) fail("groups nested more than 64 deep");
    std::string out = parse_sequence(depth);
    *n_alternatives = 1;
    while (!at_end() && peek() == '|') {
      ++pos_;
      out += " | " + parse_sequence(depth);
      ++*n_alternatives;
    }
    return out;
  }

  std::string parse_sequence(int depth) {
    std::vector<std::string> items;
    while (!at_end() && peek() != '|' && peek() != ')') {
      std::string atom = parse_atom(depth);
      atom += parse_quantifier();
      items.push_back(std::move(atom));
    }
    if (items.empty()) return "\"\"";
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + items[i];
    return out;
  }

  std::string parse_quantifier() {
    if (at_end()) return "";
    uint32_t c = peek();
    std::string q;
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      q = std::string(1, static_cast<char>(c));
    } else if (c == '{') {
      ++pos_;
      std::string lo = parse_digits();
      if (lo.empty()) fail("'{' that is not a quantifier {m}, {m,} or {m,n}");
      q = "{" + lo;
      if (peek() == ',') {
        ++pos_;
        q += ',';
        q += parse_digits();
      }
      if (peek() != '}') fail("unterminated quantifier '{'");
      ++pos_;
      q += "}";
    } else {
      return "";
    }
    if (!at_end() && peek() == '?') fail("lazy quantifier '" + q + "?'");
    if (!at_end() && (peek() == '*' || peek() == '+' || peek() == '{')) {
      fail("quantifier after a quantifier");
    }
    return q;
  }

  std::string parse_digits() {
    std::string digits;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      digits += static_cast<char>(peek());
      ++pos_;
      if (digits.size() > 6) fail("a repetition count above 999999");
    }
    return digits;
  }

  std::string parse_atom(int depth) {
    uint32_t c = peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (peek() == '?') {
          if (pos_ + 1 < end_ && cps_[pos_ + 1] == ':') {
            pos_ += 2;
          } else {
            fail("group '(?' (lookaround or named group)");
          }
        }
        size_t n = 0;
        std::string body = parse_alternation(depth + 1, &n);
        if (at_end() || peek() != ')') fail("'(' without a matching ')'");
        ++pos_;
        return "(" + body + ")";
      }
      case '[':
        return json_char_for_set(parse_class());
      case '.':
        ++pos_;
        return json_char_for_set(
            complement(normalized({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})));
      case '\\': {
        ++pos_;
        Ranges set = parse_escape(false);
        return json_char_for_set(set);
      }
      case '^':
        fail("anchor '^' that is not at the start of the pattern");
      case '$':
        fail("anchor '$' that is not at the end of the pattern");
      case '*':
      case '+':
      case '?':
      case '{':
        fail("quantifier without a preceding item");
      default:
        ++pos_;
        return json_char_for_set({{c, c}});
    }
  }

  uint32_t parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      uint32_t c = peek();
      uint32_t d = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : 16;
      if (at_end() || d == 16) fail("malformed hex escape");
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  // After a backslash: the set of code points the escape stands for.
  Ranges parse_escape(bool in_class) {
    if (at_end()) fail("'\\' at the end of the pattern");
    uint32_t c = peek();
    ++pos_;
    switch (c) {
      case 'd':
        return {{'0', '9'}};
      case 'D':
        return complement({{'0', '9'}});
      case 'w':
        return normalized({{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}});
      case 'W':
        return complement(normalized({{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}));
      case 's':
        return whitespace_ranges();
      case 'S':
        return complement(whitespace_ranges());
      case 'n':
        return {{'\n', '\n'}};
      case 't':
        return {{'\t', '\t'}};
      case 'r':
        return {{'\r', '\r'}};
      case 'f':
        return {{0x0C, 0x0C}};
      case 'v':
        return {{0x0B, 0x0B}};
      case '0':
        if (!at_end() && peek() >= '0' && peek() <= '9') fail("octal escape");
        return {{0, 0}};
      case 'x': {
        uint32_t v = parse_hex(2);
        return {{v, v}};
      }
      case 'u': {
        if (peek() == '{') fail("\\u{...} escape");
        uint32_t v = parse_hex(4);
        return {{v, v}};
      }
      case 'b':
        if (in_class) return {{0x08, 0x08}};
        fail("word boundary '\\b'");
      case 'B':
        fail("word boundary '\\B'");
      case 'p':
      case 'P':
        fail("Unicode property escape '\\" + std::string(1, static_cast<char>(c)) + "'");
      case 'k':
        fail("named backreference '\\k'");
      case 'c':
        fail("control escape '\\c'");
      default:
        break;
    }
    if (c >= '1' && c <= '9')
      fail("backreference '\\" + std::string(1, static_cast<char>(c)) + "'");
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      fail("unknown escape '\\" + std::string(1, static_cast<char>(c)) + "'");
    }
    return {{c, c}};  // escaped punctuation or other character: itself
  }

  Ranges parse_class() {
    ++pos_;  // '['
    bool negated = false;
    if (peek() == '^') {
      negated = true;
      ++pos_;
    }
    Ranges ranges;
    bool first = true;
    while (true) {
      if (at_end()) fail("'[' without a matching ']'");
      uint32_t c = peek();
      if (c == ']' && !first) break;
      if (c == ']' && first) fail("empty class '[]'");
      first = false;
      Ranges item = class_atom();
      bool single = item.size() == 1 && item[0].first == item[0].last;
      if (single && peek() == '-' && pos_ + 1 < end_ && cps_[pos_ + 1] != ']') {
        ++pos_;
        Ranges upper = class_atom();
        if (upper.size() != 1 || upper[0].first != upper[0].last)
          fail("class range with a class escape");
        if (upper[0].first < item[0].first) fail("class range out of order");
        ranges.push_back({item[0].first, upper[0].first});
      } else {
        ranges.insert(ranges.end(), item.begin(), item.end());
      }
    }
    ++pos_;  // ']'
    Ranges set = normalized(ranges);
    return negated ? complement(set) : set;
  }

  Ranges class_atom() {
    uint32_t c = peek();
    ++pos_;
    if (c == '\\') return parse_escape(true);
    if (c == '[' && peek() == ':') fail("POSIX class '[:...:]'");
    return {{c, c}};
  }

  std::string pattern_;
  std::string pointer_;
  std::u32string cps_;
  size_t pos_ = 0;
  size_t end_ = 0;
};

}  // namespace

std::string class_char_gbnf(uint32_t cp) {
  // escape_literal handles the characters special in both literals and classes; '-', '^', ']'
  // and '[' are special only in classes.
  static const char* kHex = "0123456789ABCDEF";
  if (cp == '-' || cp == '^' || cp == ']' || cp == '[') {
    return std::string("\\x") + kHex[cp >> 4] + kHex[cp & 15];
  }
  return escape_literal(std::u32string(1, static_cast<char32_t>(cp)));
}

std::string regex_to_gbnf(const std::string& pattern, const std::string& pointer,
                          const std::string& char_rule) {
  return RegexConverter(pattern, pointer).convert(char_rule);
}

}  // namespace latent::grammar
