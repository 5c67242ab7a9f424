// StopStringMatcher: matches across fragment boundaries, holds back only possible stop prefixes,
// and never emits text that a later fragment turns into a stop string.
#include <gtest/gtest.h>

#include "common/testdata.h"
#include "engine/stop_strings.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

TEST(StopStrings, EveryThreeWaySplitGivesTheSameResult) {
  auto tok = Tokenizer::from_gguf(
      GgufFile::open(test::testdata_path("models/stories260K/stories260K.gguf")));
  const std::string text = "Hello world. The end\nNext line";
  const std::vector<std::vector<std::string>> stop_sets = {
      {"."}, {"end\n"}, {"xyz", "world"}, {"d\nN", "e"}, {"not there"}, {"ne!"}, {}, {""}};
  for (const auto& stops : stop_sets) {
    // Expected: everything before the earliest match, or all of it.
    size_t first = std::string::npos;
    for (const auto& s : stops)
      if (!s.empty()) first = std::min(first, text.find(s));
    const std::string expected = first == std::string::npos ? text : text.substr(0, first);
    for (size_t i = 0; i <= text.size(); ++i) {
      for (size_t j = i; j <= text.size(); ++j) {
        StopStringMatcher m(stops);
        StreamingDetokenizer detok(*tok);
        std::string out = m.push(text.substr(0, i));
        out += m.push(text.substr(i, j - i));
        out += m.push(text.substr(j));
        // Nothing emitted so far may run past the expected text.
        EXPECT_TRUE(expected.starts_with(out)) << "split " << i << "," << j;
        EXPECT_EQ(m.matched(), first != std::string::npos);
        out += m.flush(m.matched(), detok);
        EXPECT_EQ(out, expected) << "split " << i << "," << j;
      }
    }
  }
}

TEST(StopStrings, HoldsBackAPossibleStartAndReleasesItOnFlush) {
  auto tok = Tokenizer::from_gguf(
      GgufFile::open(test::testdata_path("models/stories260K/stories260K.gguf")));
  StreamingDetokenizer detok(*tok);
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(m.push("abc ST"), "abc ");
  EXPECT_EQ(m.push("O"), "");
  EXPECT_EQ(m.push("x"), "STOx");
  EXPECT_EQ(m.push("ST"), "");
  EXPECT_FALSE(m.matched());
  EXPECT_EQ(m.flush(false, detok), "ST");
}

TEST(StopStrings, MultiByteTextIsNeverCutInsideACharacter) {
  StopStringMatcher m({"é!"});
  EXPECT_EQ(m.push("café"), "caf");
  EXPECT_EQ(m.push("?"), "é?");
  EXPECT_EQ(m.push("é!"), "");
  EXPECT_TRUE(m.matched());
}

}  // namespace
}  // namespace latent
