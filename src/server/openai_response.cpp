// Response JSON in OpenAI's shapes (declared in openai_protocol.h): whole responses, streaming
// chunks, usage and both logprobs formats.
#include <cmath>

#include "engine/answer_vote.h"
#include "server/openai_protocol.h"

namespace latent::server {
namespace {

using nlohmann::json;

// Token text for JSON: the piece with any invalid UTF-8 replaced (a byte token in the middle of a
// character); the exact bytes go in "bytes".
std::string token_text(const std::string& piece) {
  return json::parse(dump_json(json(piece))).get<std::string>();
}

json bytes_json(const std::string& piece) {
  json b = json::array();
  for (unsigned char c : piece) b.push_back(static_cast<int>(c));
  return b;
}

// -inf (a token the sampler banned) is not JSON; OpenAI reports -9999 for such tokens.
double logprob_value(float lp) {
  return std::isfinite(lp) ? lp : -9999.0;
}

json logprob_entry(TokenId id, float lp, const PieceFn& piece) {
  const std::string p = piece(id);
  return {{"token", token_text(p)}, {"logprob", logprob_value(lp)}, {"bytes", bytes_json(p)}};
}

json tool_call_json(const ToolCall& call) {
  return {{"id", call.id},
          {"type", "function"},
          {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
}

json message_json(const ChoiceResult& c) {
  // OpenAI: a reply that only calls tools has "content": null.
  json m = {{"role", "assistant"},
            {"content", c.tool_calls.empty() || !c.text.empty() ? json(c.text) : json(nullptr)}};
  if (c.reasoning) m["reasoning_content"] = *c.reasoning;
  if (!c.tool_calls.empty()) {
    json calls = json::array();
    for (const ToolCall& call : c.tool_calls) calls.push_back(tool_call_json(call));
    m["tool_calls"] = std::move(calls);
  }
  m["refusal"] = nullptr;
  return m;
}

}  // namespace

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage_json(const RequestUsage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_prompt_tokens}}}};
}

json chat_logprobs_json(const std::vector<TokenId>& tokens, const std::vector<TokenLogprob>& chosen,
                        const std::vector<std::vector<TokenLogprob>>& top, const PieceFn& piece) {
  json content = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const float lp = i < chosen.size() ? chosen[i].logprob : 0.0f;
    json e = logprob_entry(tokens[i], lp, piece);
    json alts = json::array();
    if (i < top.size())
      for (const TokenLogprob& t : top[i]) alts.push_back(logprob_entry(t.token, t.logprob, piece));
    e["top_logprobs"] = std::move(alts);
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

json completion_logprobs_json(const std::vector<TokenId>& tokens,
                              const std::vector<TokenLogprob>& chosen,
                              const std::vector<std::vector<TokenLogprob>>& top,
                              const PieceFn& piece, int64_t offset) {
  json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string p = piece(tokens[i]);
    toks.push_back(token_text(p));
    lps.push_back(logprob_value(i < chosen.size() ? chosen[i].logprob : 0.0f));
    json alts = json::object();
    if (i < top.size())
      for (const TokenLogprob& t : top[i])
        alts[token_text(piece(t.token))] = logprob_value(t.logprob);
    tops.push_back(std::move(alts));
    offs.push_back(offset);
    offset += static_cast<int64_t>(p.size());
  }
  return {{"tokens", std::move(toks)},
          {"token_logprobs", std::move(lps)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offs)}};
}

json majority_vote_json(const std::vector<ChoiceResult>& choices) {
  std::vector<std::optional<int64_t>> answers;
  // A chat reply split into reasoning and content is read from its content: the final answer
  // is what follows the reasoning.
  for (const ChoiceResult& c : choices) answers.push_back(extract_answer(c.text));
  const VoteResult v = majority_vote(answers);
  json counts = json::array();
  for (const auto& [answer, votes] : v.counts)
    counts.push_back({{"answer", answer}, {"votes", votes}});
  return {{"method", "majority"},
          {"answer", v.answer ? json(*v.answer) : json(nullptr)},
          {"counts", std::move(counts)},
          {"without_answer", v.n_without_answer}};
}

json chat_completion_json(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                          const RequestUsage& usage, bool logprobs, const PieceFn& piece) {
  json cs = json::array();
  for (const ChoiceResult& c : choices) {
    cs.push_back({{"index", c.index},
                  {"message", message_json(c)},
                  {"logprobs",
                   logprobs ? chat_logprobs_json(c.tokens, c.chosen, c.top, piece) : json(nullptr)},
                  {"finish_reason", c.finish_reason}});
  }
  return {{"id", meta.id},
          {"object", "chat.completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", std::move(cs)},
          {"usage", usage_json(usage)},
          {"system_fingerprint", nullptr}};
}

json text_completion_json(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices,
                          const RequestUsage& usage, bool logprobs, const PieceFn& piece) {
  json cs = json::array();
  for (const ChoiceResult& c : choices) {
    cs.push_back(
        {{"index", c.index},
         {"text", c.text},
         {"logprobs",
          logprobs ? completion_logprobs_json(c.tokens, c.chosen, c.top, piece, 0) : json(nullptr)},
         {"finish_reason", c.finish_reason}});
  }
  return {{"id", meta.id},
          {"object", "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", std::move(cs)},
          {"usage", usage_json(usage)},
          {"system_fingerprint", nullptr}};
}

json tool_call_header_delta(int32_t index, const ToolCall& call) {
  return {{"tool_calls", json::array({{{"index", index},
                                       {"id", call.id},
                                       {"type", "function"},
                                       {"function", {{"name", call.name}, {"arguments", ""}}}}})}};
}

json tool_call_arguments_delta(int32_t index, const std::string& fragment) {
  return {
      {"tool_calls", json::array({{{"index", index}, {"function", {{"arguments", fragment}}}}})}};
}

namespace {

// The fields every streamed chunk carries around its choices.
json chunk_envelope(const ResponseMeta& meta, const char* object, json choices) {
  return {{"id", meta.id},
          {"object", object},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", nullptr},
          {"choices", std::move(choices)}};
}

json finish_json(const std::optional<std::string>& finish_reason) {
  return finish_reason ? json(*finish_reason) : json(nullptr);
}

}  // namespace

json chat_chunk_json(const ResponseMeta& meta, int32_t index, json delta,
                     const std::optional<std::string>& finish_reason, json logprobs,
                     bool with_usage_null) {
  json choice = {{"index", index},
                 {"delta", std::move(delta)},
                 {"logprobs", std::move(logprobs)},
                 {"finish_reason", finish_json(finish_reason)}};
  json j = chunk_envelope(meta, "chat.completion.chunk", json::array({std::move(choice)}));
  if (with_usage_null) j["usage"] = nullptr;
  return j;
}

json completion_chunk_json(const ResponseMeta& meta, int32_t index, const std::string& text,
                           const std::optional<std::string>& finish_reason, json logprobs,
                           bool with_usage_null) {
  json choice = {{"index", index},
                 {"text", text},
                 {"logprobs", std::move(logprobs)},
                 {"finish_reason", finish_json(finish_reason)}};
  json j = chunk_envelope(meta, "text_completion", json::array({std::move(choice)}));
  if (with_usage_null) j["usage"] = nullptr;
  return j;
}

json usage_chunk_json(const ResponseMeta& meta, ApiKind kind, const RequestUsage& usage) {
  json j = chunk_envelope(
      meta, kind == ApiKind::kChat ? "chat.completion.chunk" : "text_completion", json::array());
  j["usage"] = usage_json(usage);
  return j;
}

}  // namespace latent::server
