// GBNF parser and printer: structure of parsed grammars, print/parse round trips (including
// llama.cpp's example grammars) and error messages with positions.
#include "grammar/gbnf.h"

#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "llama_grammars.h"

namespace latent::grammar {
namespace {

std::string error_of(std::string_view text) {
  try {
    parse_gbnf(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_round_trip(std::string_view text) {
  Grammar g = parse_gbnf(text);
  std::string printed = print_gbnf(g);
  Grammar again = parse_gbnf(printed);
  EXPECT_EQ(again, g) << "printed:\n" << printed;
  EXPECT_EQ(print_gbnf(again), printed);
}

TEST(Gbnf, ParsesStructure) {
  Grammar g =
      parse_gbnf("root ::= \"ab\" [a-z0-9_] x* | (y | \"c\"){2,3}\nx ::= [^\\n]\ny ::= .\n");
  ASSERT_EQ(g.rules.size(), 3u);
  const Rule& root = g.rules[0];
  EXPECT_EQ(root.name, "root");
  ASSERT_EQ(root.alternatives.size(), 2u);
  const Sequence& first = root.alternatives[0];
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].kind, Expr::Kind::kLiteral);
  EXPECT_EQ(first[0].literal, U"ab");
  EXPECT_EQ(first[1].kind, Expr::Kind::kCharClass);
  EXPECT_EQ(first[1].ranges, (std::vector<CodePointRange>{{'a', 'z'}, {'0', '9'}, {'_', '_'}}));
  EXPECT_EQ(first[2].kind, Expr::Kind::kRepeat);
  EXPECT_EQ(first[2].min_count, 0u);
  EXPECT_EQ(first[2].max_count, Expr::kUnbounded);
  EXPECT_EQ(first[2].child[0].rule_name, "x");
  const Expr& repeat = root.alternatives[1][0];
  EXPECT_EQ(repeat.kind, Expr::Kind::kRepeat);
  EXPECT_EQ(repeat.min_count, 2u);
  EXPECT_EQ(repeat.max_count, 3u);
  EXPECT_EQ(repeat.child[0].kind, Expr::Kind::kGroup);
  EXPECT_EQ(repeat.child[0].alternatives.size(), 2u);
  EXPECT_TRUE(g.rules[1].alternatives[0][0].negated);
  EXPECT_EQ(g.rules[2].alternatives[0][0].kind, Expr::Kind::kAnyChar);
}

TEST(Gbnf, Escapes) {
  Grammar g = parse_gbnf(R"(root ::= "\n\t\r\\\"\x41\u00e9\U0001F600[]" [\]\[\x2D])");
  EXPECT_EQ(g.rules[0].alternatives[0][0].literal, U"\n\t\r\\\"A\u00e9\U0001F600[]");
  EXPECT_EQ(g.rules[0].alternatives[0][1].ranges,
            (std::vector<CodePointRange>{{']', ']'}, {'[', '['}, {'-', '-'}}));
}

TEST(Gbnf, RawUtf8AndClassEdgeCases) {
  Grammar g = parse_gbnf("root ::= \"日本\" [ぁ-ゟ] [a-] [-a] [^]\n");
  const Sequence& s = g.rules[0].alternatives[0];
  EXPECT_EQ(s[0].literal, U"日本");
  EXPECT_EQ(s[1].ranges, (std::vector<CodePointRange>{{0x3041, 0x309F}}));
  EXPECT_EQ(s[2].ranges, (std::vector<CodePointRange>{{'a', 'a'}, {'-', '-'}}));
  EXPECT_EQ(s[3].ranges, (std::vector<CodePointRange>{{'-', '-'}, {'a', 'a'}}));
  EXPECT_TRUE(s[4].negated);
  EXPECT_TRUE(s[4].ranges.empty());
}

TEST(Gbnf, RepetitionForms) {
  Grammar g = parse_gbnf("root ::= a? a+ a* a{3} a{2,} a{0,4} a{ 1 , 2 }\na ::= \"a\"\n");
  const Sequence& s = g.rules[0].alternatives[0];
  std::vector<std::pair<uint32_t, uint32_t>> expected = {
      {0, 1}, {1, Expr::kUnbounded}, {0, Expr::kUnbounded}, {3, 3}, {2, Expr::kUnbounded}, {0, 4},
      {1, 2}};
  ASSERT_EQ(s.size(), expected.size());
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].min_count, expected[i].first) << i;
    EXPECT_EQ(s[i].max_count, expected[i].second) << i;
  }
}

TEST(Gbnf, MultiLineAlternativesAndComments) {
  Grammar g = parse_gbnf(
      "# leading comment\n"
      "root ::= \"a\" |   # after bar\n"
      "  \"b\" | (\n"
      "    \"c\"   # inside group\n"
      "    \"d\"\n"
      "  )\n"
      "\n"
      "other ::= \"x\"\r\n");
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].alternatives.size(), 3u);
  EXPECT_EQ(g.rules[0].alternatives[2][0].alternatives[0].size(), 2u);
  EXPECT_EQ(g.rules[1].name, "other");
}

TEST(Gbnf, EmptyAlternatives) {
  Grammar g = parse_gbnf("root ::= | \"a\" | \"\"\nx ::= \"\"\n");
  ASSERT_EQ(g.rules[0].alternatives.size(), 3u);
  EXPECT_TRUE(g.rules[0].alternatives[0].empty());
  EXPECT_TRUE(g.rules[0].alternatives[2].empty());
  EXPECT_TRUE(g.rules[1].alternatives[0].empty());
  expect_round_trip("root ::= | \"a\" | \"\"\nx ::= \"\"\n");
}

TEST(Gbnf, RoundTripsHandWritten) {
  const char* grammars[] = {
      "root ::= \"a\"",
      "root ::= [a-z]+ \" \" [^\\x00-\\x1F\"\\\\]* .",
      "root ::= (\"a\" | \"b\" (\"c\" | )){2,5} x{3} x{0,} x{7,}\nx ::= \"x\"?",
      "root ::= [\\x2D\\]\\[^] [a^] \"\\u0001\\U0010FFFF\\x7F é\"",
      "root ::= ((((\"deep\")))) ()\n",
      "root ::= a-b C9\na-b ::= \"\\\"\"\nC9 ::= [\\u4e00-\\u9fff]",
      "root ::= x** x+? (x)*\nx ::= \"x\"",
  };
  for (const char* text : grammars) {
    SCOPED_TRACE(text);
    expect_round_trip(text);
  }
}

TEST(Gbnf, RoundTripsLlamaCppGrammars) {
  for (const auto& [name, text] : test::kLlamaGrammars) {
    SCOPED_TRACE(std::string(name));
    Grammar g = parse_gbnf(text);
    EXPECT_NE(g.find("root"), nullptr);
    expect_round_trip(text);
  }
}

TEST(Gbnf, LlamaEnglishPunctuationClass) {
  // `[!"#...[\\\]^...]`: raw '"' and '[' inside a class, `,-.` is a range.
  Grammar g = parse_gbnf(test::llama_grammar("english"));
  const Rule* punctuation = g.find("punctuation");
  ASSERT_NE(punctuation, nullptr);
  const auto& ranges = punctuation->alternatives[0][0].ranges;
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), CodePointRange{',', '.'}), ranges.end());
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), CodePointRange{'"', '"'}), ranges.end());
  EXPECT_NE(std::find(ranges.begin(), ranges.end(), CodePointRange{']', ']'}), ranges.end());
}

// Random syntax trees (every kind of symbol, nesting, awkward code points) survive print + parse.
class RandomGrammar {
 public:
  explicit RandomGrammar(uint32_t seed) : rng_(seed) {}

  Grammar make() {
    Grammar g;
    int n_rules = 1 + pick(4);
    for (int r = 0; r < n_rules; ++r)
      names_.push_back(r == 0 ? "root" : "r-" + std::to_string(r) + "X");
    for (const std::string& name : names_) g.rules.push_back({name, alternatives(0), 0});
    return g;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  uint32_t code_point() {
    static const uint32_t kInteresting[] = {'a',  '"',  '\\', '[',    ']',    '-',     '^',
                                            '\n', '\r', '\t', 0,      0x1F,   0x7F,    ' ',
                                            '#',  '|',  0xE9, 0x3042, 0xFFFF, 0x1F600, 0x10FFFF};
    return kInteresting[pick(sizeof(kInteresting) / sizeof(kInteresting[0]))];
  }
  std::vector<Sequence> alternatives(int depth) {
    std::vector<Sequence> out(1 + static_cast<size_t>(pick(3)));
    for (Sequence& seq : out) {
      int n = pick(4);
      for (int i = 0; i < n; ++i) seq.push_back(expr(depth));
    }
    return out;
  }
  Expr expr(int depth) {
    Expr e;
    switch (pick(depth > 3 ? 4 : 6)) {
      case 0:
        e.kind = Expr::Kind::kLiteral;
        for (int i = 1 + pick(3); i > 0; --i) e.literal.push_back(code_point());
        break;
      case 1:
        e.kind = Expr::Kind::kCharClass;
        e.negated = pick(2);
        for (int i = pick(3); i >= 0; --i) {
          uint32_t a = code_point(), b = code_point();
          e.ranges.push_back({std::min(a, b), pick(2) ? std::min(a, b) : std::max(a, b)});
        }
        break;
      case 2:
        e.kind = Expr::Kind::kAnyChar;
        break;
      case 3:
        e.kind = Expr::Kind::kRuleRef;
        e.rule_name = names_[static_cast<size_t>(pick(static_cast<int>(names_.size())))];
        break;
      case 4:
        e.kind = Expr::Kind::kGroup;
        e.alternatives = alternatives(depth + 1);
        break;
      default: {
        e.kind = Expr::Kind::kRepeat;
        e.child.push_back(expr(depth + 1));
        static const std::pair<uint32_t, uint32_t> kCounts[] = {{0, Expr::kUnbounded},
                                                                {1, Expr::kUnbounded},
                                                                {0, 1},
                                                                {3, 3},
                                                                {2, Expr::kUnbounded},
                                                                {1, 4}};
        std::tie(e.min_count, e.max_count) = kCounts[pick(6)];
        break;
      }
    }
    return e;
  }

  std::mt19937 rng_;
  std::vector<std::string> names_;
};

TEST(Gbnf, RoundTripsRandomTrees) {
  for (uint32_t seed = 0; seed < 300; ++seed) {
    Grammar g = RandomGrammar(seed).make();
    std::string printed = print_gbnf(g);
    Grammar parsed = parse_gbnf(printed);
    // An empty sequence and a sequence holding only "" print alike; the generator makes no
    // empty literals, so the trees must be equal.
    ASSERT_EQ(parsed, g) << "seed " << seed << ":\n" << printed;
  }
}

TEST(Gbnf, Errors) {
  struct Case {
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"root ::= foo", "grammar:1:10: expected a defined rule, found undefined rule 'foo'"},
      {"other ::= \"a\"", "expected a rule named 'root'"},
      {"root ::= \"a",
       "grammar:1:12: expected '\"' closing the string literal, found end of input"},
      {"root ::= [a-z", "expected ']' closing the character class, found end of input"},
      {"root ::= (\"a\"", "grammar:1:14: expected ')' or '|' in a group, found end of input"},
      {"root ::= \"a\"\n  \"b\"", "grammar:2:3: expected a rule name"},
      {"root = \"a\"", "grammar:1:6: expected '::=' after rule name 'root', found '='"},
      {"root ::= \"\\q\"", "grammar:1:12: expected an escape"},
      {"root ::= \"\\x4\"", "expected 2 hex digits"},
      {"root ::= \"\\U00110000\"", "expected a code point <= 10FFFF"},
      {"root ::= * \"a\"",
       "grammar:1:10: expected a symbol before the repetition operator, found '*'"},
      {"root ::= \"a\"{2,1}", "expected {m,n} with m <= n"},
      {"root ::= \"a\"{x}", "expected an integer in '{...}'"},
      {"root ::= \"a\"{2;}", "expected ',' or '}'"},
      {"root ::= [z-a]", "expected a range with first <= last"},
      {"root ::= \"a\"\nroot ::= \"b\"",
       "grammar:2:1: expected a single definition of rule 'root'"},
      {"root ::= <[1000]>", "token references like <[id]> and <text> are not supported"},
      {"root ::= \"a\" )", "grammar:1:14: expected a symbol, '|' or end of line, found ')'"},
      {"::= \"a\"", "grammar:1:1: expected a rule name"},
      {"root ::= \"\xff\"", "expected valid UTF-8, found an invalid lead byte"},
  };
  for (const Case& c : cases) {
    std::string message = error_of(c.text);
    EXPECT_NE(message.find(c.message_part), std::string::npos)
        << "grammar: " << c.text << "\nmessage: " << message;
  }
}

TEST(Gbnf, ErrorColumnsCountCodePoints) {
  std::string message = error_of("root ::= \"日本\" @");
  EXPECT_NE(message.find("grammar:1:15:"), std::string::npos) << message;
}

}  // namespace
}  // namespace latent::grammar
