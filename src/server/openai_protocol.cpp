// Request parsing for /v1/chat/completions and /v1/completions. OpenAI's semantics: a field given
// as null counts as absent; ranges are OpenAI's (temperature 0..2, penalties -2..2, logit_bias
// -100..100, stop ≤ 4) plus vLLM's extensions (top_k, min_p, repetition_penalty). Response
// building is openai_response.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "server/openai_protocol.h"

namespace latent::server {
namespace {

using nlohmann::json;

bool get_bool(const json& body, const char* key, bool def) {
  const json* j = opt(body, key);
  if (!j) return def;
  if (!j->is_boolean()) throw ApiError::field(key, "a boolean", found(*j));
  return j->get<bool>();
}

double get_number(const json& body, const char* key, double def, double lo, double hi,
                  const std::string& range) {
  const json* j = opt(body, key);
  if (!j) return def;
  if (!j->is_number()) throw ApiError::field(key, "a number " + range, found(*j));
  const double v = j->get<double>();
  if (!(v >= lo && v <= hi)) throw ApiError::field(key, "a number " + range, found(*j));
  return v;
}

// An integer (an integral float such as 16.0 is accepted, as Python clients may send one).
std::optional<int64_t> get_int(const json& body, const char* key, int64_t lo, int64_t hi,
                               const std::string& range) {
  const json* j = opt(body, key);
  if (!j) return std::nullopt;
  int64_t v = 0;
  if (j->is_number_unsigned()) {
    const uint64_t u = j->get<uint64_t>();
    v = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
            ? std::numeric_limits<int64_t>::max()
            : static_cast<int64_t>(u);
  } else if (j->is_number_integer()) {
    v = j->get<int64_t>();
  } else if (j->is_number_float() && std::trunc(j->get<double>()) == j->get<double>() &&
             std::abs(j->get<double>()) < 9e18) {
    v = static_cast<int64_t>(j->get<double>());
  } else {
    throw ApiError::field(key, "an integer " + range, found(*j));
  }
  if (v < lo || v > hi) throw ApiError::field(key, "an integer " + range, found(*j));
  return v;
}

std::string get_string(const json& body, const char* key) {
  const json* j = opt(body, key);
  if (!j) return {};
  if (!j->is_string()) throw ApiError::field(key, "a string", found(*j));
  return j->get<std::string>();
}

void check_object(const json& body) {
  if (!body.is_object())
    throw ApiError(400,
                   "request body: expected a JSON object, found " + std::string(body.type_name()));
}

void check_model(const json& body, const ParseContext& ctx, OpenAIRequest& r) {
  r.model = get_string(body, "model");
  if (r.model.empty() || ctx.model_ids.empty()) return;
  if (std::find(ctx.model_ids.begin(), ctx.model_ids.end(), r.model) != ctx.model_ids.end()) return;
  throw ApiError(404, "The model `" + r.model + "` does not exist or you do not have access to it.",
                 "model", "invalid_request_error", "model_not_found");
}

int32_t token_id(const json& j, const std::string& field, const ParseContext& ctx) {
  const std::string range =
      ctx.n_vocab > 0 ? "in [0, " + std::to_string(ctx.n_vocab) + ")" : ">= 0";
  if (!j.is_number_integer()) throw ApiError::field(field, "a token id " + range, found(j));
  const int64_t v = j.get<int64_t>();
  if (v < 0 || (ctx.n_vocab > 0 && v >= ctx.n_vocab))
    throw ApiError::field(field, "a token id " + range, found(j));
  return static_cast<int32_t>(v);
}

// The fields both endpoints share: sampling, limits, stop, n, user, stream.
void parse_common(const json& body, const ParseContext& ctx, OpenAIRequest& r) {
  check_model(body, ctx, r);
  constexpr int64_t kMaxTok = std::numeric_limits<int32_t>::max();
  // max_completion_tokens is the newer name (chat); when both are given it wins, as in OpenAI.
  std::optional<int64_t> max_tokens = get_int(body, "max_tokens", 1, kMaxTok, ">= 1");
  if (r.kind == ApiKind::kChat) {
    if (auto m = get_int(body, "max_completion_tokens", 1, kMaxTok, ">= 1")) max_tokens = m;
  } else if (!max_tokens) {
    max_tokens = 16;  // OpenAI's (and vLLM's) default for legacy completions
  }
  r.max_tokens = max_tokens ? static_cast<int32_t>(*max_tokens) : -1;

  SamplerParams& s = r.sampling;
  // OpenAI's defaults, not the CLI's: plain sampling from the model's distribution.
  s.temperature = static_cast<float>(get_number(body, "temperature", 1.0, 0.0, 2.0, "in [0, 2]"));
  s.top_p = static_cast<float>(get_number(body, "top_p", 1.0, 0.0, 1.0, "in [0, 1]"));
  const auto top_k = get_int(body, "top_k", -1, kMaxTok, ">= -1 (-1 or 0: off)");
  s.top_k = top_k ? static_cast<int32_t>(*top_k) : 0;
  s.min_p = static_cast<float>(get_number(body, "min_p", 0.0, 0.0, 1.0, "in [0, 1]"));
  s.presence_penalty =
      static_cast<float>(get_number(body, "presence_penalty", 0.0, -2.0, 2.0, "in [-2, 2]"));
  s.frequency_penalty =
      static_cast<float>(get_number(body, "frequency_penalty", 0.0, -2.0, 2.0, "in [-2, 2]"));
  const double rep = get_number(body, "repetition_penalty", 1.0, 0.0, 2.0, "in (0, 2]");
  if (rep <= 0.0)
    throw ApiError::field("repetition_penalty", "a number in (0, 2]",
                          found(body["repetition_penalty"]));
  s.repeat_penalty = static_cast<float>(rep);
  s.repeat_last_n = -1;  // OpenAI's penalties count the whole completion so far
  if (auto seed = get_int(body, "seed", std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max(), "")) {
    s.seed = static_cast<uint64_t>(*seed);
    r.has_seed = true;
  }
  if (const json* lb = opt(body, "logit_bias")) {
    if (!lb->is_object())
      throw ApiError::field("logit_bias", "an object of token id → bias", found(*lb));
    for (const auto& [key, value] : lb->items()) {
      const std::string field = "logit_bias." + key;
      size_t used = 0;
      int64_t id = -1;
      try {
        id = std::stoll(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      const std::string range =
          ctx.n_vocab > 0 ? "in [0, " + std::to_string(ctx.n_vocab) + ")" : ">= 0";
      if (used != key.size() || key.empty() || id < 0 || (ctx.n_vocab > 0 && id >= ctx.n_vocab))
        throw ApiError::field("logit_bias", "keys that are token ids " + range, "\"" + key + "\"");
      if (!value.is_number() || !(value.get<double>() >= -100 && value.get<double>() <= 100))
        throw ApiError::field(field, "a number in [-100, 100]", found(value));
      s.logit_bias.emplace_back(static_cast<TokenId>(id), value.get<float>());
    }
  }
  if (const json* stop = opt(body, "stop")) {
    if (stop->is_string()) {
      r.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 4)
        throw ApiError::field("stop", "at most 4 sequences", std::to_string(stop->size()));
      for (const json& s1 : *stop) {
        if (!s1.is_string())
          throw ApiError::field("stop", "a string or an array of strings", found(s1));
        r.stop.push_back(s1.get<std::string>());
      }
    } else {
      throw ApiError::field("stop", "a string or an array of strings", found(*stop));
    }
    for (const std::string& s1 : r.stop)
      if (s1.empty()) throw ApiError::field("stop", "non-empty strings", "\"\"");
  }
  const std::string n_range = "in [1, " + std::to_string(ctx.max_n) + "]";
  if (auto n = get_int(body, "n", 1, ctx.max_n, n_range)) r.n = static_cast<int32_t>(*n);
  r.user = get_string(body, "user");
  // llama.cpp's and vLLM's extension: keep generating past end-of-generation tokens (benchmarks).
  r.ignore_eos = get_bool(body, "ignore_eos", false);
  r.stream = get_bool(body, "stream", false);
  if (const json* v = opt(body, "vote")) {
    if (!v->is_string() || v->get<std::string>() != "majority")
      throw ApiError::field("vote", "\"majority\"", found(*v));
    if (r.stream) throw ApiError::field("vote", "only with \"stream\": false", "stream true");
    r.vote_majority = true;
  }
  if (const json* so = opt(body, "stream_options")) {
    if (!so->is_object()) throw ApiError::field("stream_options", "an object", found(*so));
    if (!r.stream)
      throw ApiError::field("stream_options", "only with \"stream\": true", "stream false");
    if (const json* iu = opt(*so, "include_usage")) {
      if (!iu->is_boolean())
        throw ApiError::field("stream_options.include_usage", "a boolean", found(*iu));
      r.include_usage = iu->get<bool>();
    }
  }
}

// "content": a string, or an array of {"type": "text", "text": "..."} parts joined with "\n"
// (vLLM's rule); null only where the role allows it.
json message_content(const json& m, const std::string& field, bool null_ok) {
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) {
    if (null_ok) return nullptr;
    throw ApiError::field(field + ".content", "a string or an array of text parts", "none");
  }
  if (it->is_string()) return *it;
  if (!it->is_array())
    throw ApiError::field(field + ".content", "a string or an array of text parts", found(*it));
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    const std::string pf = field + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) throw ApiError::field(pf, "a content part object", found(part));
    auto type = part.find("type");
    if (type == part.end() || !type->is_string() || *type != "text")
      throw ApiError::field(pf + ".type", "\"text\" (the only part type served)",
                            type == part.end() ? "none" : found(*type));
    auto t = part.find("text");
    if (t == part.end() || !t->is_string())
      throw ApiError::field(pf + ".text", "a string", t == part.end() ? "none" : found(*t));
    if (i > 0) text += '\n';
    text += t->get<std::string>();
  }
  return text;
}

}  // namespace

OpenAIRequest parse_chat_request(const json& body, const ParseContext& ctx) {
  check_object(body);
  OpenAIRequest r;
  r.kind = ApiKind::kChat;
  const json* msgs = opt(body, "messages");
  if (!msgs) throw ApiError::field("messages", "an array of messages", "none");
  if (!msgs->is_array() || msgs->empty())
    throw ApiError::field("messages", "a non-empty array of messages", found(*msgs));
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string field = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw ApiError::field(field, "a message object", found(m));
    auto role_it = m.find("role");
    if (role_it == m.end() || !role_it->is_string())
      throw ApiError::field(field + ".role", "one of system, user, assistant, tool",
                            role_it == m.end() ? "none" : found(*role_it));
    std::string role = role_it->get<std::string>();
    if (role == "developer") role = "system";  // OpenAI's newer name for the system prompt
    if (role != "system" && role != "user" && role != "assistant" && role != "tool")
      throw ApiError::field(field + ".role", "one of system, user, assistant, tool",
                            found(*role_it));
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    out["role"] = role;
    const bool has_tool_calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
    out["content"] = message_content(m, field, role == "assistant" && has_tool_calls);
    // Passed through for templates that use them.
    for (const char* key : {"name", "tool_calls", "tool_call_id", "reasoning_content"}) {
      auto it = m.find(key);
      if (it != m.end() && !it->is_null()) out[key] = *it;
    }
    if (out.contains("name") && !out["name"].is_string())
      throw ApiError::field(field + ".name", "a string", found(m["name"]));
    r.messages.push_back(std::move(out));
  }
  parse_common(body, ctx, r);
  parse_structured_fields(body, ctx, r);
  parse_tool_fields(body, ctx, r);
  // Chat logprobs: a boolean plus top_logprobs (which needs logprobs: true).
  const bool logprobs = get_bool(body, "logprobs", false);
  const std::string tl_range = "in [0, " + std::to_string(ctx.max_top_logprobs) + "]";
  const auto top = get_int(body, "top_logprobs", 0, ctx.max_top_logprobs, tl_range);
  if (top && !logprobs)
    throw ApiError::field("top_logprobs", "only with \"logprobs\": true", "logprobs false");
  r.top_logprobs = logprobs ? static_cast<int32_t>(top.value_or(0)) : -1;
  return r;
}

OpenAIRequest parse_completion_request(const json& body, const ParseContext& ctx) {
  check_object(body);
  OpenAIRequest r;
  r.kind = ApiKind::kCompletion;
  const json* p = opt(body, "prompt");
  if (!p) throw ApiError::field("prompt", "a string or an array of token ids", "none");
  // A one-element batch is the same as its element; larger batches are not served.
  const json* prompt = p;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array()))
    prompt = &(*p)[0];
  if (prompt->is_string()) {
    r.prompt_text = prompt->get<std::string>();
    if (r.prompt_text.empty()) throw ApiError::field("prompt", "a non-empty string", "\"\"");
  } else if (prompt->is_array()) {
    if (prompt->empty()) throw ApiError::field("prompt", "a non-empty array of token ids", "[]");
    for (size_t i = 0; i < prompt->size(); ++i) {
      const json& t = (*prompt)[i];
      if (t.is_string() || t.is_array())
        throw ApiError::field("prompt", "one prompt (batches of prompts are not served)",
                              "an array of " + std::to_string(p->size()) + " prompts");
      r.prompt_tokens.push_back(token_id(t, "prompt[" + std::to_string(i) + "]", ctx));
    }
    r.prompt_is_tokens = true;
  } else {
    throw ApiError::field("prompt", "a string or an array of token ids", found(*prompt));
  }
  parse_common(body, ctx, r);
  parse_structured_fields(body, ctx, r);
  // Legacy completions: "logprobs" is the number of alternatives (OpenAI allows ≤ 5, vLLM ≤ 20).
  const std::string lp_range = "in [0, " + std::to_string(ctx.max_top_logprobs) + "]";
  if (const json* lp = opt(body, "logprobs"); lp && lp->is_boolean())
    throw ApiError::field("logprobs", "an integer " + lp_range, found(*lp));
  if (auto lp = get_int(body, "logprobs", 0, ctx.max_top_logprobs, lp_range))
    r.top_logprobs = static_cast<int32_t>(*lp);
  if (get_bool(body, "echo", false))
    throw ApiError::field("echo", "false (echo is not served)", "true");
  const std::string suffix = get_string(body, "suffix");
  if (!suffix.empty()) throw ApiError::field("suffix", "none (suffix is not served)", "a string");
  return r;
}

std::string finish_reason_string(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
    case FinishReason::kContextFull:  // OpenAI reports a full context as "length" too
      return "length";
    case FinishReason::kCancelled:
      return "abort";
  }
  return "stop";
}

}  // namespace latent::server
