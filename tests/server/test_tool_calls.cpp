// Tool-call parsing (tool_calls.h): each format whole and under every streaming split, the lenient
// fallbacks, and agreement with the grammars that force calls (structured_output.h): every text
// the forcing grammar accepts parses back into the same call.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "grammar/matcher.h"
#include "server/structured_output.h"
#include "server/tool_calls.h"
#include "server/tool_prompt.h"

namespace latent::server {
namespace {

struct Case {
  ToolFormat format;
  std::string text;
  std::string content;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments (compact JSON)
};

std::vector<Case> cases() {
  const std::string ds_call1 = std::string(kDsCallBegin) + "function" + std::string(kDsSep) +
                               "get_weather\n```json\n{\"city\": \"Paris\"}\n```" +
                               std::string(kDsCallEnd);
  const std::string ds_call2 =
      std::string(kDsCallBegin) + "function" + std::string(kDsSep) +
      "get_time\n```json\n{\"tz\": \"UTC\", \"n\": [1, {\"a\": \"}\"}]}\n```" +
      std::string(kDsCallEnd);
  return {
      {ToolFormat::kLlama3Json,
       "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
       "",
       {{"get_weather", "{\"city\":\"Paris\"}"}}},
      {ToolFormat::kLlama3Json,
       "  <|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"arguments\": "
       "{\"x\": \"{;}\"}}",
       "",
       {{"a", "{}"}, {"b", "{\"x\":\"{;}\"}"}}},
      {ToolFormat::kLlama3Json, "The weather is {sunny}.", "The weather is {sunny}.", {}},
      {ToolFormat::kLlama3Json, "{\"city\": \"Paris\"}", "{\"city\": \"Paris\"}", {}},
      {ToolFormat::kHermes,
       "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
       "\"<Paris>\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
       "{}}\n</tool_call>",
       "Let me check.\n",
       {{"get_weather", "{\"city\":\"<Paris>\"}"}, {"get_time", "{}"}}},
      {ToolFormat::kHermes, "a < b and <tool_ c", "a < b and <tool_ c", {}},
      // Invalid JSON in a call: left as content, never an error.
      {ToolFormat::kHermes,
       "x<tool_call>\n{\"name\": \"f\", \"arguments\": {oops}}\n</tool_call>",
       "x<tool_call>\n{\"name\": \"f\", \"arguments\": {oops}}\n</tool_call>",
       {}},
      // Cut off by end of generation before the closing tag: the complete JSON still counts.
      {ToolFormat::kHermes,
       "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"k\": 1}}",
       "",
       {{"f", "{\"k\":1}"}}},
      {ToolFormat::kDeepSeek,
       "Sure." + std::string(kDsCallsBegin) + ds_call1 + "\n" + ds_call2 + std::string(kDsCallsEnd),
       "Sure.",
       {{"get_weather", "{\"city\":\"Paris\"}"},
        {"get_time", "{\"n\":[1,{\"a\":\"}\"}],\"tz\":\"UTC\"}"}}},
      {ToolFormat::kDeepSeek, "no calls <｜tool here", "no calls <｜tool here", {}},
  };
}

void expect_result(const Case& c, const std::string& content, const std::vector<ToolCall>& calls,
                   const std::string& how) {
  EXPECT_EQ(content, c.content) << how << "\n" << c.text;
  ASSERT_EQ(calls.size(), c.calls.size()) << how << "\n" << c.text;
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].name, c.calls[i].first) << how;
    // Arguments are compact JSON; compare as JSON (key order of nlohmann's dump).
    EXPECT_EQ(nlohmann::json::parse(calls[i].arguments), nlohmann::json::parse(c.calls[i].second))
        << how;
    EXPECT_TRUE(calls[i].id.starts_with("call_")) << calls[i].id;
  }
}

TEST(ToolCalls, ParsesWholeReplies) {
  for (const Case& c : cases()) {
    ParsedToolCalls p = parse_tool_calls(c.format, c.text);
    expect_result(c, p.content, p.calls, std::string(tool_format_name(c.format)));
  }
}

// Streaming gives the same content and calls for every split of the text into two or three
// fragments, and byte by byte; content never runs ahead of what is certain.
TEST(ToolCalls, EveryStreamingSplitAgrees) {
  for (const Case& c : cases()) {
    const size_t n = c.text.size();
    auto run = [&](const std::vector<size_t>& cuts) {
      ToolCallStreamer s(c.format);
      std::string content;
      std::vector<ToolCall> calls;
      size_t prev = 0;
      auto take = [&](ToolCallStreamer::Delta d) {
        content += d.content;
        for (ToolCall& t : d.calls) calls.push_back(t);
        // Whatever was released as content is a prefix of the final content.
        EXPECT_TRUE(c.content.starts_with(content)) << content << "\n" << c.text;
      };
      for (size_t cut : cuts) {
        take(s.push(std::string_view(c.text).substr(prev, cut - prev)));
        prev = cut;
      }
      take(s.push(std::string_view(c.text).substr(prev)));
      take(s.finish());
      std::string how = "cuts";
      for (size_t cut : cuts) {
        how += ' ';  // appended piecewise: GCC 12's -Wrestrict misfires on " " + std::string
        how += std::to_string(cut);
      }
      expect_result(c, content, calls, how);
    };
    for (size_t i = 0; i <= n; ++i) run({i});
    for (size_t i = 0; i <= n; i += 3)
      for (size_t j = i; j <= n; j += 5) run({i, j});
    std::vector<size_t> bytes;
    for (size_t i = 1; i < n; ++i) bytes.push_back(i);
    run(bytes);
  }
}

// Forced calls stream incrementally: the header as soon as the name is known, then argument
// fragments that concatenate to exactly the call's arguments, for every split of the text; the
// chunks and the completed calls agree.
TEST(ToolCalls, ForcedCallsStreamArgumentsAsTheyArrive) {
  const std::string args1 = "{\"city\": \"Oslo\", \"days\": 3}";
  const std::string args2 = "{\"tz\": \"UTC\"}";
  for (ToolFormat f : {ToolFormat::kLlama3Json, ToolFormat::kHermes, ToolFormat::kDeepSeek}) {
    std::string text = format_tool_call(f, "get_weather", args1);
    if (f != ToolFormat::kLlama3Json) {
      text += '\n';
      text += format_tool_call(f, "get_time", args2);
    }
    if (f == ToolFormat::kDeepSeek)
      text = std::string(kDsCallsBegin) + text + std::string(kDsCallsEnd);
    const size_t n_calls = f == ToolFormat::kLlama3Json ? 1 : 2;
    for (size_t step : {size_t{1}, size_t{3}, size_t{7}, text.size()}) {
      SCOPED_TRACE(std::string(tool_format_name(f)) + " step " + std::to_string(step));
      ToolCallStreamer s(f, /*incremental_arguments=*/true);
      std::vector<ToolCall> calls;
      std::vector<std::string> streamed;
      std::vector<std::string> ids;
      bool args_before_end = false;
      auto take = [&](ToolCallStreamer::Delta d) {
        EXPECT_EQ(d.content, "");
        for (const auto& ch : d.chunks) {
          if (ch.header) {
            ASSERT_EQ(ch.index, static_cast<int32_t>(streamed.size()));
            streamed.emplace_back();
            ids.push_back(ch.id);
          } else {
            ASSERT_LT(ch.index, static_cast<int32_t>(streamed.size()));
            streamed[static_cast<size_t>(ch.index)] += ch.arguments;
            args_before_end |= d.calls.empty();
          }
        }
        for (ToolCall& c : d.calls) calls.push_back(c);
      };
      for (size_t i = 0; i < text.size(); i += step)
        take(s.push(std::string_view(text).substr(i, step)));
      take(s.finish());
      ASSERT_EQ(calls.size(), n_calls);
      ASSERT_EQ(streamed.size(), n_calls);
      for (size_t i = 0; i < n_calls; ++i) {
        EXPECT_EQ(streamed[i], calls[i].arguments);
        EXPECT_EQ(ids[i], calls[i].id);
      }
      EXPECT_EQ(calls[0].name, "get_weather");
      EXPECT_EQ(calls[0].arguments, args1);
      if (step == 1) {
        EXPECT_TRUE(args_before_end) << "arguments only arrived with the whole call";
      }
    }
  }
}

// A forced call cut off by the token limit stays a call (with the arguments written so far), so
// the streamed and the whole reply agree.
TEST(ToolCalls, TruncatedForcedCallStaysACall) {
  const std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"k\": [1, 2";
  ToolCallStreamer s(ToolFormat::kHermes, true);
  ToolCallStreamer::Delta a = s.push(text);
  ToolCallStreamer::Delta b = s.finish();
  ASSERT_EQ(a.calls.size() + b.calls.size(), 1u);
  const ToolCall& c = a.calls.empty() ? b.calls[0] : a.calls[0];
  EXPECT_EQ(c.name, "f");
  EXPECT_EQ(c.arguments, "{\"k\": [1, 2");
  EXPECT_EQ(a.content + b.content, "");
}

// The forcing grammar accepts the format's own call text, and that text parses back.
TEST(ToolCalls, ForcingGrammarMatchesTheParser) {
  const nlohmann::ordered_json params = nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
          "days": {"type": "integer", "minimum": 1, "maximum": 9}}, "required": ["city", "days"]})");
  const std::vector<ToolFunction> fns = {{"get_weather", params, "tools[0].function.parameters"},
                                         {"noop", {{"type", "object"}}, "tools[1]"}};
  for (ToolFormat f : {ToolFormat::kLlama3Json, ToolFormat::kHermes, ToolFormat::kDeepSeek}) {
    const std::string gbnf = tool_call_gbnf(f, fns, /*parallel=*/true);
    std::string text = format_tool_call(f, "get_weather", "{\"city\": \"Oslo\", \"days\": 3}");
    if (f == ToolFormat::kDeepSeek)
      text = std::string(kDsCallsBegin) + text + std::string(kDsCallsEnd);
    grammar::GrammarMatcher m = grammar::GrammarMatcher::from_gbnf(gbnf);
    ASSERT_TRUE(m.accept_bytes(text)) << tool_format_name(f) << "\n" << text << "\n" << gbnf;
    EXPECT_TRUE(m.is_complete()) << text;
    ParsedToolCalls p = parse_tool_calls(f, text);
    ASSERT_EQ(p.calls.size(), 1u) << text;
    EXPECT_EQ(p.calls[0].name, "get_weather");
    EXPECT_EQ(nlohmann::json::parse(p.calls[0].arguments),
              nlohmann::json::parse("{\"city\": \"Oslo\", \"days\": 3}"));
    // Arguments outside the schema are refused by the grammar.
    grammar::GrammarMatcher bad = grammar::GrammarMatcher::from_gbnf(gbnf);
    EXPECT_FALSE(bad.accept_bytes(format_tool_call(f, "get_weather", "{\"city\": \"Rome\"")))
        << tool_format_name(f);
  }
}

TEST(ToolCalls, AfterThinkGrammarWrapsThePayload) {
  const std::string gbnf = after_think_gbnf("root ::= \"{\" [a-z]* \"}\"\n");
  grammar::GrammarMatcher m = grammar::GrammarMatcher::from_gbnf(gbnf);
  EXPECT_TRUE(m.accept_bytes("</think>\n\n{abc}"));
  EXPECT_TRUE(m.is_complete());
  grammar::GrammarMatcher m2 = grammar::GrammarMatcher::from_gbnf(gbnf);
  EXPECT_FALSE(m2.accept_bytes("{abc}"));
}

}  // namespace
}  // namespace latent::server
