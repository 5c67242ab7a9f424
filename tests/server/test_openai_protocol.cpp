// Request parsing (every refusal names its field, with OpenAI's status and body) and response
// shapes (chat.completion, text_completion, chunks, usage, both logprobs formats), without a model.
#include <gtest/gtest.h>

#include "server/openai_protocol.h"

namespace latent::server {
namespace {

using nlohmann::json;

ParseContext ctx() {
  ParseContext c;
  c.n_vocab = 1000;
  c.model_ids = {"served", "model.gguf"};
  return c;
}

json chat(json extra = json::object()) {
  json j = {{"model", "served"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

json completion(json extra = json::object()) {
  json j = {{"model", "served"}, {"prompt", "Once"}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

// The ApiError a body raises (fails the test when none).
ApiError chat_error(const json& body) {
  try {
    parse_chat_request(body, ctx());
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body.dump();
  return ApiError(0, "");
}

ApiError completion_error(const json& body) {
  try {
    parse_completion_request(body, ctx());
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body.dump();
  return ApiError(0, "");
}

TEST(OpenAIParse, ChatDefaultsAreOpenAIs) {
  const OpenAIRequest r = parse_chat_request(chat(), ctx());
  EXPECT_EQ(r.kind, ApiKind::kChat);
  EXPECT_EQ(r.model, "served");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0]["role"], "user");
  EXPECT_EQ(r.messages[0]["content"], "hi");
  EXPECT_EQ(r.max_tokens, -1);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.0f);
  EXPECT_FLOAT_EQ(r.sampling.repeat_penalty, 1.0f);
  EXPECT_FALSE(r.has_seed);
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(r.top_logprobs, -1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
}

TEST(OpenAIParse, ChatAllFields) {
  const json body = chat({{"max_tokens", 7},
                          {"max_completion_tokens", 9},
                          {"temperature", 0},
                          {"top_p", 0.5},
                          {"top_k", 20},
                          {"min_p", 0.1},
                          {"presence_penalty", 1.5},
                          {"frequency_penalty", -0.5},
                          {"repetition_penalty", 1.1},
                          {"seed", 42},
                          {"stop", {"a", "b"}},
                          {"n", 3},
                          {"logprobs", true},
                          {"top_logprobs", 5},
                          {"logit_bias", {{"12", -100}, {"7", 2.5}}},
                          {"user", "u1"},
                          {"stream", true},
                          {"stream_options", {{"include_usage", true}}}});
  const OpenAIRequest r = parse_chat_request(body, ctx());
  EXPECT_EQ(r.max_tokens, 9);  // max_completion_tokens wins
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.5f);
  EXPECT_EQ(r.sampling.top_k, 20);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.sampling.repeat_penalty, 1.1f);
  EXPECT_TRUE(r.has_seed);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.top_logprobs, 5);
  ASSERT_EQ(r.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(r.user, "u1");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAIParse, MessagesContentPartsRolesAndPassThrough) {
  json body = chat();
  body["messages"] = {
      {{"role", "developer"}, {"content", "be brief"}},
      {{"role", "user"},
       {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}},
      {{"role", "assistant"},
       {"content", nullptr},
       {"tool_calls", {{{"id", "c1"}, {"type", "function"}}}}},
      {{"role", "tool"}, {"content", "42"}, {"tool_call_id", "c1"}},
      {{"role", "assistant"}, {"content", "ok"}, {"reasoning_content", "hmm"}}};
  const OpenAIRequest r = parse_chat_request(body, ctx());
  ASSERT_EQ(r.messages.size(), 5u);
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_TRUE(r.messages[2]["content"].is_null());
  EXPECT_EQ(r.messages[2]["tool_calls"][0]["id"], "c1");
  EXPECT_EQ(r.messages[3]["tool_call_id"], "c1");
  EXPECT_EQ(r.messages[4]["reasoning_content"], "hmm");
}

TEST(OpenAIParse, ChatRefusalsNameTheirField) {
  struct Case {
    json body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {json{{"model", "served"}}, "messages"},
      {chat({{"messages", "hi"}}), "messages"},
      {chat({{"messages", json::array()}}), "messages"},
      {chat({{"messages", {1}}}), "messages[0]"},
      {chat({{"messages", {{{"content", "x"}}}}}), "messages[0].role"},
      {chat({{"messages", {{{"role", "robot"}, {"content", "x"}}}}}), "messages[0].role"},
      {chat({{"messages", {{{"role", "user"}}}}}), "messages[0].content"},
      {chat({{"messages", {{{"role", "user"}, {"content", 5}}}}}), "messages[0].content"},
      {chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}),
       "messages[0].content[0].type"},
      {chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "text"}}}}}}}}),
       "messages[0].content[0].text"},
      {chat({{"max_tokens", 0}}), "max_tokens"},
      {chat({{"max_tokens", "10"}}), "max_tokens"},
      {chat({{"max_tokens", 1.5}}), "max_tokens"},
      {chat({{"max_completion_tokens", -3}}), "max_completion_tokens"},
      {chat({{"temperature", 2.5}}), "temperature"},
      {chat({{"temperature", "hot"}}), "temperature"},
      {chat({{"top_p", 1.5}}), "top_p"},
      {chat({{"top_k", -2}}), "top_k"},
      {chat({{"top_k", 0.5}}), "top_k"},
      {chat({{"min_p", -0.1}}), "min_p"},
      {chat({{"presence_penalty", 3}}), "presence_penalty"},
      {chat({{"frequency_penalty", -2.5}}), "frequency_penalty"},
      {chat({{"repetition_penalty", 0}}), "repetition_penalty"},
      {chat({{"seed", "x"}}), "seed"},
      {chat({{"stop", 5}}), "stop"},
      {chat({{"stop", {"a", "b", "c", "d", "e"}}}), "stop"},
      {chat({{"stop", {"a", 1}}}), "stop"},
      {chat({{"stop", ""}}), "stop"},
      {chat({{"n", 0}}), "n"},
      {chat({{"n", 17}}), "n"},
      {chat({{"logprobs", 1}}), "logprobs"},
      {chat({{"top_logprobs", 2}}), "top_logprobs"},
      {chat({{"logprobs", true}, {"top_logprobs", 21}}), "top_logprobs"},
      {chat({{"logit_bias", {1, 2}}}), "logit_bias"},
      {chat({{"logit_bias", {{"abc", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"1000", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"-1", 1}}}}), "logit_bias"},
      {chat({{"logit_bias", {{"5", 101}}}}), "logit_bias.5"},
      {chat({{"logit_bias", {{"5", "x"}}}}), "logit_bias.5"},
      {chat({{"user", 3}}), "user"},
      {chat({{"stream", "yes"}}), "stream"},
      {chat({{"stream_options", {{"include_usage", true}}}}), "stream_options"},
      {chat({{"stream", true}, {"stream_options", 1}}), "stream_options"},
      {chat({{"stream", true}, {"stream_options", {{"include_usage", 1}}}}),
       "stream_options.include_usage"},
      {chat({{"model", 7}}), "model"},
  };
  for (const Case& c : cases) {
    const ApiError e = chat_error(c.body);
    EXPECT_EQ(e.status(), 400) << c.body.dump();
    EXPECT_EQ(e.param(), c.param) << c.body.dump() << " → " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.param), std::string::npos) << e.what();
    const json b = e.body();
    EXPECT_EQ(b["error"]["type"], "invalid_request_error");
    EXPECT_EQ(b["error"]["param"], c.param);
    EXPECT_TRUE(b["error"]["code"].is_null());
    EXPECT_EQ(b["error"]["message"], e.what());
  }
}

TEST(OpenAIParse, MessagesExpectedAndFoundInTheMessage) {
  const ApiError e = chat_error(chat({{"temperature", "hot"}}));
  EXPECT_EQ(std::string(e.what()),
            "temperature: expected a number in [0, 2], found string \"hot\"");
}

TEST(OpenAIParse, BodyMustBeAnObject) {
  const ApiError e = chat_error(json::array());
  EXPECT_EQ(e.status(), 400);
  EXPECT_NE(std::string(e.what()).find("JSON object"), std::string::npos);
}

TEST(OpenAIParse, UnknownModelIs404ModelNotFound) {
  const ApiError e = chat_error(chat({{"model", "gpt-4"}}));
  EXPECT_EQ(e.status(), 404);
  const json b = e.body();
  EXPECT_EQ(b["error"]["code"], "model_not_found");
  EXPECT_EQ(b["error"]["param"], "model");
  EXPECT_NE(b["error"]["message"].get<std::string>().find("gpt-4"), std::string::npos);
  // The served id, the file name and no model at all are accepted.
  EXPECT_NO_THROW(parse_chat_request(chat({{"model", "model.gguf"}}), ctx()));
  json none = chat();
  none.erase("model");
  EXPECT_NO_THROW(parse_chat_request(none, ctx()));
}

TEST(OpenAIParse, NullMeansAbsent) {
  const OpenAIRequest r = parse_chat_request(
      chat({{"temperature", nullptr}, {"stop", nullptr}, {"n", nullptr}}), ctx());
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.n, 1);
}

TEST(OpenAIParse, IntegralFloatsAreIntegers) {
  EXPECT_EQ(parse_chat_request(chat({{"max_tokens", 16.0}}), ctx()).max_tokens, 16);
}

TEST(OpenAIParse, CompletionPromptForms) {
  OpenAIRequest r = parse_completion_request(completion(), ctx());
  EXPECT_EQ(r.prompt_text, "Once");
  EXPECT_FALSE(r.prompt_is_tokens);
  EXPECT_EQ(r.max_tokens, 16);  // legacy completions default
  r = parse_completion_request(completion({{"prompt", {1, 2, 3}}}), ctx());
  EXPECT_TRUE(r.prompt_is_tokens);
  EXPECT_EQ(r.prompt_tokens, (std::vector<TokenId>{1, 2, 3}));
  r = parse_completion_request(completion({{"prompt", {"one"}}}), ctx());
  EXPECT_EQ(r.prompt_text, "one");
  r = parse_completion_request(completion({{"prompt", {{4, 5}}}}), ctx());
  EXPECT_EQ(r.prompt_tokens, (std::vector<TokenId>{4, 5}));
  r = parse_completion_request(completion({{"logprobs", 3}, {"stop", "\n"}}), ctx());
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
}

TEST(OpenAIParse, CompletionRefusalsNameTheirField) {
  struct Case {
    json body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {json{{"model", "served"}}, "prompt"},
      {completion({{"prompt", 5}}), "prompt"},
      {completion({{"prompt", ""}}), "prompt"},
      {completion({{"prompt", json::array()}}), "prompt"},
      {completion({{"prompt", {"a", "b"}}}), "prompt"},
      {completion({{"prompt", {1, 1000}}}), "prompt[1]"},
      {completion({{"prompt", {1, -1}}}), "prompt[1]"},
      {completion({{"prompt", {1, "x"}}}), "prompt"},
      {completion({{"logprobs", true}}), "logprobs"},
      {completion({{"logprobs", 21}}), "logprobs"},
      {completion({{"echo", true}}), "echo"},
      {completion({{"suffix", "x"}}), "suffix"},
      {completion({{"max_tokens", 0}}), "max_tokens"},
      {completion({{"n", 100}}), "n"},
      {completion({{"vote", "mode"}}), "vote"},
      {completion({{"vote", true}}), "vote"},
      {completion({{"vote", "majority"}, {"stream", true}}), "vote"},
  };
  for (const Case& c : cases) {
    const ApiError e = completion_error(c.body);
    EXPECT_EQ(e.status(), 400) << c.body.dump();
    EXPECT_EQ(e.param(), c.param) << c.body.dump() << " → " << e.what();
  }
  EXPECT_EQ(completion_error(completion({{"model", "nope"}})).status(), 404);
}

// ---- responses ----

const PieceFn kPiece = [](TokenId id) {
  if (id == 99) return std::string("\xE2\x82");  // half of "€": not valid UTF-8 on its own
  std::string s = "t";  // (not "t" + …: GCC 12 warns falsely, -Wrestrict)
  s += std::to_string(id);
  return s;
};

TEST(OpenAIParse, VoteExtension) {
  EXPECT_FALSE(parse_completion_request(completion(), ctx()).vote_majority);
  EXPECT_TRUE(
      parse_completion_request(completion({{"vote", "majority"}, {"n", 4}}), ctx()).vote_majority);
  EXPECT_TRUE(parse_chat_request(chat({{"vote", "majority"}}), ctx()).vote_majority);
}

TEST(OpenAIResponse, MajorityVoteOverChoices) {
  auto choice = [](std::string text) {
    ChoiceResult c;
    c.text = std::move(text);
    return c;
  };
  // Completions carry the whole text; a chat reply split by the reasoning parser carries only its
  // content. Unclosed reasoning has no answer; ties go to the smaller answer.
  const std::vector<ChoiceResult> cs = {choice("<think>48*17:...;816</think> 816"),
                                        choice(" 816"),
                                        choice("<think>48*17:...;806</think> 806"),
                                        choice("<think>48*17:8*7"),
                                        choice("<think>x</think> 806"),
                                        choice("<think>x</think> -3")};
  EXPECT_EQ(majority_vote_json(cs), json::parse(R"({"method":"majority","answer":806,
      "counts":[{"answer":806,"votes":2},{"answer":816,"votes":2},{"answer":-3,"votes":1}],
      "without_answer":1})"));
  EXPECT_EQ(majority_vote_json({choice("no number")}),
            json::parse(R"({"method":"majority","answer":null,"counts":[],"without_answer":1})"));
}

TEST(OpenAIResponse, Usage) {
  RequestUsage u;
  u.prompt_tokens = 10;
  u.cached_prompt_tokens = 4;
  u.completion_tokens = 6;
  EXPECT_EQ(usage_json(u), json::parse(R"({"prompt_tokens":10,"completion_tokens":6,
      "total_tokens":16,"prompt_tokens_details":{"cached_tokens":4}})"));
}

TEST(OpenAIResponse, ChatCompletion) {
  ChoiceResult c;
  c.index = 0;
  c.text = "Hello";
  c.finish_reason = "length";
  c.tokens = {5, 99};
  c.chosen = {{5, -0.5f}, {99, -1.0f}};
  c.top = {{{5, -0.5f}, {6, -2.0f}}, {{99, -1.0f}}};
  ChoiceResult r1 = c;
  r1.index = 1;
  r1.reasoning = "think";
  const json j = chat_completion_json({"chatcmpl-1", 123, "served"}, {c, r1}, {}, true, kPiece);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"], "chatcmpl-1");
  EXPECT_EQ(j["created"], 123);
  EXPECT_EQ(j["model"], "served");
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello");
  EXPECT_FALSE(j["choices"][0]["message"].contains("reasoning_content"));
  EXPECT_EQ(j["choices"][1]["message"]["reasoning_content"], "think");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  const json& lp = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 2u);
  EXPECT_EQ(lp[0]["token"], "t5");
  EXPECT_DOUBLE_EQ(lp[0]["logprob"].get<double>(), -0.5);
  EXPECT_EQ(lp[0]["bytes"], json({'t', '5'}));
  ASSERT_EQ(lp[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(lp[0]["top_logprobs"][1]["token"], "t6");
  // A partial UTF-8 piece: the exact bytes, and U+FFFD in the text.
  EXPECT_EQ(lp[1]["bytes"], json({0xE2, 0x82}));
  EXPECT_EQ(lp[1]["token"], "\xEF\xBF\xBD");
  EXPECT_TRUE(j["usage"].contains("prompt_tokens_details"));
  EXPECT_NO_THROW(json::parse(dump_json(j)));
}

TEST(OpenAIResponse, TextCompletionLogprobs) {
  ChoiceResult c;
  c.text = "t5t6";
  c.tokens = {5, 6};
  c.chosen = {{5, -0.5f}, {6, -std::numeric_limits<float>::infinity()}};
  c.top = {{{5, -0.5f}}, {{6, -1.5f}, {7, -2.5f}}};
  const json j = text_completion_json({"cmpl-1", 1, "m"}, {c}, {}, true, kPiece);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "t5t6");
  const json& lp = j["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json({"t5", "t6"}));
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][1].get<double>(), -9999.0);  // -inf is not JSON
  EXPECT_EQ(lp["top_logprobs"][1].size(), 2u);
  EXPECT_DOUBLE_EQ(lp["top_logprobs"][1]["t7"].get<double>(), -2.5);
  EXPECT_EQ(lp["text_offset"], json({0, 2}));
  EXPECT_TRUE(text_completion_json({"c", 1, "m"}, {c}, {}, false, kPiece)["choices"][0]["logprobs"]
                  .is_null());
}

TEST(OpenAIResponse, Chunks) {
  const ResponseMeta m{"chatcmpl-9", 5, "served"};
  json c = chat_chunk_json(m, 1, {{"content", "x"}}, std::nullopt, nullptr, false);
  EXPECT_EQ(c["object"], "chat.completion.chunk");
  EXPECT_EQ(c["choices"][0]["index"], 1);
  EXPECT_EQ(c["choices"][0]["delta"]["content"], "x");
  EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(c.contains("usage"));
  c = chat_chunk_json(m, 0, json::object(), "stop", nullptr, true);
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(c["choices"][0]["delta"].empty());
  EXPECT_TRUE(c.contains("usage") && c["usage"].is_null());
  c = completion_chunk_json({"cmpl-9", 5, "served"}, 0, "ab", std::nullopt, nullptr, false);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["text"], "ab");
  RequestUsage u;
  u.prompt_tokens = 3;
  c = usage_chunk_json(m, ApiKind::kChat, u);
  EXPECT_TRUE(c["choices"].empty());
  EXPECT_EQ(c["usage"]["total_tokens"], 3);
}

TEST(OpenAIResponse, FinishReasons) {
  EXPECT_EQ(finish_reason_string(FinishReason::kStop), "stop");
  EXPECT_EQ(finish_reason_string(FinishReason::kLength), "length");
  EXPECT_EQ(finish_reason_string(FinishReason::kContextFull), "length");
  EXPECT_EQ(finish_reason_string(FinishReason::kCancelled), "abort");
}

}  // namespace
}  // namespace latent::server

namespace latent::server {
namespace {

// JSON schema properties keep the order the client wrote (the body is also parsed
// order-preserving), so a model fills "zeta" before "alpha" when the schema says so.
TEST(OpenAIProtocolOrder, SchemaPropertiesKeepTheirDeclaredOrder) {
  const std::string body =
      R"({"prompt":"x","response_format":{"type":"json_schema","json_schema":{"name":"o",)"
      R"("schema":{"type":"object","properties":{"zeta":{"type":"integer"},)"
      R"("alpha":{"type":"integer"}},"required":["zeta","alpha"]}}}})";
  const auto ordered = nlohmann::ordered_json::parse(body);
  ParseContext pc;
  pc.ordered_body = &ordered;
  const OpenAIRequest r = parse_completion_request(nlohmann::json::parse(body), pc);
  const size_t z = r.grammar.find("zeta"), a = r.grammar.find("alpha");
  ASSERT_NE(z, std::string::npos);
  ASSERT_NE(a, std::string::npos);
  EXPECT_LT(z, a) << r.grammar;
  // Without the ordered body the keys come sorted (what nlohmann::json does).
  const OpenAIRequest sorted =
      parse_completion_request(nlohmann::json::parse(body), ParseContext{});
  EXPECT_GT(sorted.grammar.find("zeta"), sorted.grammar.find("alpha"));
}

}  // namespace
}  // namespace latent::server
