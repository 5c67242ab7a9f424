// SSE framing: OpenAI's exact bytes, and the parser the black-box tests use, over every split
// point.
#include <gtest/gtest.h>

#include "server/sse.h"

namespace latent::server {
namespace {

TEST(Sse, EventIsDataLineAndBlankLine) {
  EXPECT_EQ(sse_event(nlohmann::json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(Sse, InvalidUtf8IsReplacedNotThrown) {
  EXPECT_EQ(sse_event(nlohmann::json{{"t", std::string("\xE2\x82")}}),
            "data: {\"t\":\"\xEF\xBF\xBD\"}\n\n");
}

TEST(Sse, ParserOverEveryFragmentation) {
  const std::string stream = sse_event({{"x", "a\nb"}}) + ": comment\n\n" + sse_event({{"y", 2}}) +
                             "data: line1\r\ndata: line2\r\n\r\n" + std::string(sse_done());
  const std::vector<std::string> want = {"{\"x\":\"a\\nb\"}", "{\"y\":2}", "line1\nline2",
                                         "[DONE]"};
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); j += 7) {
      SseParser p;
      std::vector<std::string> got = p.feed(stream.substr(0, i));
      for (auto& e : p.feed(stream.substr(i, j - i))) got.push_back(e);
      for (auto& e : p.feed(stream.substr(j))) got.push_back(e);
      EXPECT_EQ(got, want) << "split at " << i << ", " << j;
      EXPECT_TRUE(p.pending().empty());
    }
  }
}

TEST(Sse, IncompleteEventStaysPending) {
  SseParser p;
  EXPECT_TRUE(p.feed("data: {\"a\":1}\n").empty());
  EXPECT_EQ(p.pending(), "data: {\"a\":1}\n");
  EXPECT_EQ(p.feed("\n"), std::vector<std::string>{"{\"a\":1}"});
}

}  // namespace
}  // namespace latent::server
