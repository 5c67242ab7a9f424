// GrammarMatcher: accept/reject suites per construct, byte-wise UTF-8 feeding, state rollback on
// rejection, left-recursion errors, and llama.cpp's grammars on sample sentences.
#include "grammar/matcher.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "llama_grammars.h"

namespace latent::grammar {
namespace {

// Whether `text` is a complete sentence of the grammar.
bool matches(const GrammarMatcher& start, std::string_view text) {
  GrammarMatcher m = start;
  return m.accept_bytes(text) && m.is_complete();
}

struct Suite {
  const char* grammar;
  std::vector<std::string> accepted;
  std::vector<std::string> rejected;
};

void run_suite(const Suite& suite) {
  SCOPED_TRACE(suite.grammar);
  GrammarMatcher start = GrammarMatcher::from_gbnf(suite.grammar);
  for (const std::string& text : suite.accepted) {
    EXPECT_TRUE(matches(start, text)) << "should accept: \"" << text << "\"";
    // The same text fed one byte at a time.
    GrammarMatcher m = start;
    for (char c : text) ASSERT_TRUE(m.accept_bytes(std::string_view(&c, 1))) << text;
    EXPECT_TRUE(m.is_complete()) << text;
  }
  for (const std::string& text : suite.rejected) {
    EXPECT_FALSE(matches(start, text)) << "should reject: \"" << text << "\"";
  }
}

TEST(Matcher, Literals) {
  run_suite({"root ::= \"abc\"", {"abc"}, {"", "ab", "abcd", "abd", "ABC"}});
  run_suite({"root ::= \"a\" \"b\" \"\"", {"ab"}, {"a", "b", "ba"}});
}

TEST(Matcher, Alternatives) {
  run_suite({"root ::= \"cat\" | \"car\" | \"c\"", {"cat", "car", "c"}, {"ca", "cab", "cats", ""}});
  run_suite({"root ::= | \"x\"", {"", "x"}, {"xx"}});
}

TEST(Matcher, CharClasses) {
  run_suite({"root ::= [a-c0-1_]", {"a", "b", "c", "0", "1", "_"}, {"d", "2", "A", "", "ab"}});
  run_suite({"root ::= [^a-c]", {"d", "Z", "\n", "é", "😀"}, {"a", "b", "c", ""}});
  run_suite({"root ::= [^]", {"a", "\x7f"}, {""}});
  run_suite({"root ::= []", {}, {"", "a"}});
  run_suite({"root ::= [ぁ-ゟ]+", {"ひらがな"}, {"カ", "a"}});
}

TEST(Matcher, AnyChar) {
  run_suite({"root ::= . .", {"ab", "é😀", "\n\t", std::string("\0a", 2)}, {"a", "abc"}});
}

TEST(Matcher, Groups) {
  run_suite({"root ::= \"<\" (\"a\" | \"b\" \"c\") \">\"", {"<a>", "<bc>"}, {"<b>", "<ac>", "<>"}});
  run_suite({"root ::= (\"x\" (\"y\" | ()))", {"x", "xy"}, {"y", "xyy"}});
}

TEST(Matcher, Repetitions) {
  run_suite({"root ::= \"a\"*", {"", "a", "aaaaaaaaaa"}, {"b", "ab"}});
  run_suite({"root ::= \"a\"+", {"a", "aaa"}, {""}});
  run_suite({"root ::= \"ab\"?", {"", "ab"}, {"a", "abab"}});
  run_suite({"root ::= [0-9]{3}", {"123"}, {"12", "1234"}});
  run_suite({"root ::= [0-9]{2,}", {"12", "123456789"}, {"1", ""}});
  run_suite({"root ::= [0-9]{1,3}", {"1", "12", "123"}, {"", "1234"}});
  run_suite({"root ::= [0-9]{0,2}", {"", "1", "12"}, {"123"}});
  run_suite(
      {"root ::= (\"a\" | \"bc\"){2,3}", {"aa", "abc", "bcbcbc", "aabc"}, {"a", "bc", "aaaa"}});
  run_suite({"root ::= (\"a\"{2}){2}", {"aaaa"}, {"aa", "aaa", "aaaaa"}});
  run_suite({"root ::= \"x\"{0}", {""}, {"x"}});
}

TEST(Matcher, RuleReferencesAndRecursion) {
  run_suite({"root ::= paren\nparen ::= \"(\" paren* \")\"",
             {"()", "(())", "(()())"},
             {"(", "())", ")(", ""}});
  // Right recursion.
  run_suite({"root ::= \"a\" root | \"b\"", {"b", "ab", "aaab"}, {"a", "ba"}});
}

TEST(Matcher, Utf8SplitAcrossCalls) {
  GrammarMatcher m = GrammarMatcher::from_gbnf("root ::= \"é😀\"");
  std::string text = "é😀";
  for (char c : text) ASSERT_TRUE(m.accept_bytes(std::string_view(&c, 1)));
  EXPECT_TRUE(m.is_complete());

  GrammarMatcher partial = GrammarMatcher::from_gbnf("root ::= \"é\"");
  ASSERT_TRUE(partial.accept_bytes("\xC3"));
  EXPECT_FALSE(partial.is_complete());         // an unfinished character is not a complete sentence
  EXPECT_FALSE(partial.accept_bytes("\xA8"));  // è: C3 A8, not é
  EXPECT_TRUE(partial.accept_bytes("\xA9"));
  EXPECT_TRUE(partial.is_complete());
}

TEST(Matcher, PartialUtf8IsPrunedEarly) {
  // Only ASCII is allowed: any lead byte of a multi-byte character is rejected at once.
  GrammarMatcher m = GrammarMatcher::from_gbnf("root ::= [a-z]*");
  EXPECT_FALSE(m.accept_bytes("\xC3"));
  // Only U+3041..U+309F: a lead byte E3 is viable, E4 is not.
  GrammarMatcher h = GrammarMatcher::from_gbnf("root ::= [ぁ-ゟ]");
  EXPECT_TRUE(GrammarMatcher(h).accept_bytes("\xE3"));
  EXPECT_FALSE(GrammarMatcher(h).accept_bytes("\xE4"));
  EXPECT_TRUE(GrammarMatcher(h).accept_bytes("\xE3\x81"));
  EXPECT_FALSE(GrammarMatcher(h).accept_bytes("\xE3\x80"));  // U+3000..U+303F
}

TEST(Matcher, InvalidUtf8IsRejected) {
  GrammarMatcher m = GrammarMatcher::from_gbnf("root ::= .*");
  for (std::string bad : {"\x80", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF5", "\xFF", "\xC3\x28", "\xE3\x81\x28"}) {
    GrammarMatcher copy = m;
    EXPECT_FALSE(copy.accept_bytes(bad)) << "bytes of length " << bad.size();
  }
  EXPECT_TRUE(GrammarMatcher(m).accept_bytes("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(GrammarMatcher(m).accept_bytes("\xEF\xBF\xBD"));
}

TEST(Matcher, RejectionLeavesStateUnchanged) {
  GrammarMatcher m = GrammarMatcher::from_gbnf("root ::= \"abc\" \"def\"");
  ASSERT_TRUE(m.accept_bytes("ab"));
  GrammarMatcher before = m;
  EXPECT_FALSE(m.accept_bytes("cdx"));  // "cd" would fit, "x" does not
  EXPECT_EQ(m, before);
  EXPECT_TRUE(m.accept_bytes("cdef"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
  EXPECT_FALSE(m.accept_bytes("x"));
  EXPECT_TRUE(m.is_complete());
}

TEST(Matcher, CompleteButCanContinue) {
  GrammarMatcher m = GrammarMatcher::from_gbnf("root ::= [0-9]+");
  EXPECT_FALSE(m.is_complete());
  ASSERT_TRUE(m.accept_bytes("4"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.can_continue());
}

TEST(Matcher, StatesAreCanonical) {
  // Two paths to the same position give equal (deduplicated, sorted) stack sets.
  GrammarMatcher a = GrammarMatcher::from_gbnf("root ::= (\"a\" | \"a\") \"b\"*");
  GrammarMatcher b = a;
  ASSERT_TRUE(a.accept_bytes("ab"));
  ASSERT_TRUE(b.accept_bytes("abbbb"));
  EXPECT_EQ(a, b);
}

TEST(Matcher, LeftRecursionIsRejected) {
  struct Case {
    const char* grammar;
    const char* cycle;
  };
  const Case cases[] = {
      {"root ::= root \"a\" | \"b\"", "root -> root"},
      {"root ::= expr\nexpr ::= term \"+\" | \"x\"\nterm ::= expr", "expr -> term -> expr"},
      {"root ::= opt root \"x\" | \"y\"\nopt ::= \"o\"?", "root -> root"},
      {"root ::= (\"a\"?)*", "root -> root"},
  };
  for (const Case& c : cases) {
    try {
      CompiledGrammar::from_gbnf(c.grammar);
      ADD_FAILURE() << "no error for " << c.grammar;
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("expected no left recursion"), std::string::npos) << message;
      EXPECT_NE(message.find(c.cycle), std::string::npos) << message;
    }
  }
  // Not left recursion: the recursive reference follows a terminal.
  EXPECT_NO_THROW(CompiledGrammar::from_gbnf("root ::= \"(\" root \")\" | \"\""));
}

TEST(Matcher, RepetitionLimit) {
  EXPECT_THROW(CompiledGrammar::from_gbnf("root ::= ((\"a\"{2000}){2000}){10}"), Error);
}

TEST(Matcher, LlamaCppGrammars) {
  struct Case {
    const char* name;
    std::vector<std::string> accepted;
    std::vector<std::string> rejected;
  };
  const Case cases[] = {
      {"arithmetic", {"1+2= 3\n", "(a*b)= x\n"}, {"1+2=3", "=\n"}},
      {"chess", {"1. e4 e5\n2. Nf3 Nc6\n"}, {"1. e4 e5\n", "1. e9 e5\n2. a3 a4\n"}},
      {"json",
       {"{}", "{\"a\": [1, 2.5e3, true, null, \"x\\n\"]}", "{\n  \"k\": {}\n}"},
       {"[]", "{\"a\" 1}", "{\"a\": 01}", "{'a': 1}"}},
      {"json_arr", {"[\n1,\n{\"a\": \"b\"}]", "[\n]"}, {"[1]", "{}"}},
      {"list", {"- one\n- two\n"}, {"- one", "* one\n"}},
      {"japanese", {"ひらがな カタカナ"}, {"abc"}},
      {"english", {"Hello, world!"}, {"héllo"}},
      {"c", {"int main(){return 0;}", "int f(int x){x = x+1;}"}, {"int main(){return 0}"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GrammarMatcher start = GrammarMatcher::from_gbnf(test::llama_grammar(c.name));
    for (const std::string& text : c.accepted) EXPECT_TRUE(matches(start, text)) << text;
    for (const std::string& text : c.rejected) EXPECT_FALSE(matches(start, text)) << text;
  }
}

}  // namespace
}  // namespace latent::grammar
