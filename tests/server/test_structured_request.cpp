// Request parsing of the structured-output and tool fields (openai_structured.cpp): what is
// accepted, and that every refusal is a 400 naming the field (and the construct).
#include <gtest/gtest.h>

#include "server/openai_protocol.h"

namespace latent::server {
namespace {

using nlohmann::json;

json chat(json extra) {
  json body = {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

const json kTools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");

// The ApiError's param and a piece of its message.
void expect_refused(const json& body, const std::string& param, const std::string& says) {
  try {
    parse_chat_request(body, {});
    ADD_FAILURE() << "accepted: " << body.dump();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), param) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

TEST(StructuredRequest, ResponseFormats) {
  OpenAIRequest r = parse_chat_request(chat({{"response_format", {{"type", "text"}}}}), {});
  EXPECT_TRUE(r.grammar.empty());
  r = parse_chat_request(chat({{"response_format", {{"type", "json_object"}}}}), {});
  EXPECT_NE(r.grammar.find("root ::="), std::string::npos);
  EXPECT_EQ(r.grammar_field, "response_format");
  r = parse_chat_request(
      chat({{"response_format",
             {{"type", "json_schema"},
              {"json_schema",
               {{"name", "n"}, {"strict", true}, {"schema", {{"type", "integer"}}}}}}}}),
      {});
  EXPECT_NE(r.grammar.find("root ::="), std::string::npos);
  r = parse_completion_request({{"prompt", "x"}, {"grammar", "root ::= \"a\""}}, {});
  EXPECT_EQ(r.grammar, "root ::= \"a\"");
  EXPECT_EQ(r.grammar_field, "grammar");
}

TEST(StructuredRequest, ResponseFormatRefusals) {
  expect_refused(chat({{"response_format", {{"type", "yaml"}}}}), "response_format.type", "yaml");
  expect_refused(chat({{"response_format", {{"type", "json_schema"}}}}),
                 "response_format.json_schema", "none");
  expect_refused(
      chat({{"response_format",
             {{"type", "json_schema"},
              {"json_schema",
               {{"name", "n"}, {"schema", {{"type", "string"}, {"pattern", "(?=x)"}}}}}}}}),
      "response_format.json_schema.schema", "pattern");
  expect_refused(chat({{"grammar", "root ::= [a-"}}), "grammar", "grammar");
  expect_refused(chat({{"grammar", "root ::= \"a\""}, {"response_format", {{"type", "text"}}}}),
                 "grammar", "both");
}

TEST(StructuredRequest, Tools) {
  OpenAIRequest r = parse_chat_request(chat({{"tools", kTools}}), {});
  EXPECT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tool_choice, OpenAIRequest::ToolChoice::kAuto);
  EXPECT_TRUE(r.parallel_tool_calls);
  r = parse_chat_request(
      chat({{"tools", kTools},
            {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}},
            {"parallel_tool_calls", false}}),
      {});
  EXPECT_EQ(r.tool_choice, OpenAIRequest::ToolChoice::kNamed);
  EXPECT_EQ(r.tool_choice_name, "get_weather");
  EXPECT_FALSE(r.parallel_tool_calls);
  r = parse_chat_request(chat({{"tools", kTools}, {"tool_choice", "none"}}), {});
  EXPECT_EQ(r.tool_choice, OpenAIRequest::ToolChoice::kNone);
}

TEST(StructuredRequest, ToolRefusals) {
  expect_refused(chat({{"tools", {{{"type", "retrieval"}}}}}), "tools[0].type", "retrieval");
  expect_refused(chat({{"tools", {{{"type", "function"}, {"function", {{"name", "a b"}}}}}}}),
                 "tools[0].function.name", "a b");
  expect_refused(chat({{"tools", kTools}, {"tool_choice", "always"}}), "tool_choice", "always");
  expect_refused(chat({{"tool_choice", "required"}}), "tool_choice", "no tools");
  expect_refused(chat({{"tools", kTools},
                       {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}),
                 "tool_choice.function.name", "get_weather");
  expect_refused(chat({{"tools", kTools}, {"parallel_tool_calls", "yes"}}), "parallel_tool_calls",
                 "boolean");
}

}  // namespace
}  // namespace latent::server
