// The OpenAI wire protocol, without HTTP and without a model: request JSON → OpenAIRequest
// (validated; every refusal is an ApiError naming the field) and engine outputs → response JSON
// (chat.completion, text_completion, their streaming chunks, usage, logprobs). Pure functions, so
// every 4xx case and every response shape is unit-tested without a server.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/api_error.h"
#include "server/tool_calls.h"

namespace latent::server {

enum class ApiKind { kChat, kCompletion };

// What parsing needs to know about the served model.
struct ParseContext {
  int32_t n_vocab = 0;  // token ids (prompt arrays, logit_bias keys) must be below; 0: unchecked
  // Accepted "model" values (the served id and the file name); empty: any. A request without
  // "model" is accepted (llama.cpp does the same; OpenAI requires it).
  std::vector<std::string> model_ids;
  int32_t max_n = 16;
  int32_t max_top_logprobs = 20;
  // The same request body parsed order-preserving (per request; may be null): schemas and tools
  // are taken from it so generated JSON keeps the client's property order.
  const nlohmann::ordered_json* ordered_body = nullptr;
};

struct OpenAIRequest {
  ApiKind kind = ApiKind::kChat;
  std::string model;
  // Chat: the messages as the chat template expects them: role, content (string, or null for an
  // assistant turn that only calls tools), and the optional name / tool_calls / tool_call_id /
  // reasoning_content. Array-of-parts content is joined into one string.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // Completions: the prompt as text, or as token ids when prompt_is_tokens.
  std::string prompt_text;
  std::vector<TokenId> prompt_tokens;
  bool prompt_is_tokens = false;
  int32_t max_tokens = -1;  // -1: until end-of-generation or the context is full
  SamplerParams sampling;   // OpenAI's defaults (temperature 1, top_p 1, no top-k / min-p)
  bool has_seed = false;    // false: the server picks a seed
  std::vector<std::string> stop;
  int32_t n = 1;
  // -1: no logprobs; k >= 0: the chosen token's logprob and k alternatives (engine's encoding).
  int32_t top_logprobs = -1;
  std::string user;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;     // extension (llama.cpp, vLLM): generate past end-of-generation
  // Extension: "vote": "majority" reads each choice's final answer (the integer after </think>)
  // and adds the majority answer with its vote counts to the response (not streamed).
  bool vote_majority = false;

  // Structured output: GBNF that the reply (after any reasoning) must match, from response_format
  // (json_object, json_schema) or the raw `grammar` field; empty: unconstrained. grammar_field is
  // the field later errors (a grammar that does not compile) name.
  std::string grammar;
  std::string grammar_field;
  // Chat tools: null, or [{"type": "function", "function": {"name", "description"?,
  // "parameters"?}}] (checked).
  nlohmann::ordered_json tools;
  enum class ToolChoice { kAuto, kNone, kRequired, kNamed };
  ToolChoice tool_choice = ToolChoice::kAuto;  // OpenAI: "auto" when tools are given
  std::string tool_choice_name;                // kNamed
  bool parallel_tool_calls = true;
};

// Throw ApiError (400 naming the field; 404 model_not_found for an unknown model).
OpenAIRequest parse_chat_request(const nlohmann::json& body, const ParseContext& ctx);
OpenAIRequest parse_completion_request(const nlohmann::json& body, const ParseContext& ctx);
// The structured-output fields of both endpoints (response_format, grammar) and the tool fields
// of chat (tools, tool_choice, parallel_tool_calls); openai_structured.cpp.
void parse_structured_fields(const nlohmann::json& body, const ParseContext& ctx, OpenAIRequest& r);
void parse_tool_fields(const nlohmann::json& body, const ParseContext& ctx, OpenAIRequest& r);

// The OpenAI spelling of a finish reason: "stop", "length"; a cancelled sample reports "abort"
// (vLLM's word; only seen when the server drains or the engine stops).
std::string finish_reason_string(FinishReason reason);

// Identity of one response, shared by all its chunks.
struct ResponseMeta {
  std::string id;  // "chatcmpl-…" / "cmpl-…"
  int64_t created = 0;
  std::string model;
};

// One finished choice of a non-streaming response.
struct ChoiceResult {
  int32_t index = 0;
  std::string text;
  std::optional<std::string> reasoning;  // set for reasoning models (may be empty)
  std::string finish_reason = "stop";
  std::vector<ToolCall> tool_calls;  // chat: calls parsed from the reply (content is the rest)
  std::vector<TokenId> tokens;
  std::vector<TokenLogprob> chosen;
  std::vector<std::vector<TokenLogprob>> top;
};

// Token id → its bytes (Tokenizer::token_to_piece); may be a partial UTF-8 character.
using PieceFn = std::function<std::string(TokenId)>;

nlohmann::json usage_json(const RequestUsage& usage);
// The "vote" extension's object: {"method": "majority", "answer": int or null, "counts":
// [{"answer", "votes"}...] most votes first, "without_answer": n} over the choices' final answers.
nlohmann::json majority_vote_json(const std::vector<ChoiceResult>& choices);
// chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal": null}
nlohmann::json chat_logprobs_json(const std::vector<TokenId>& tokens,
                                  const std::vector<TokenLogprob>& chosen,
                                  const std::vector<std::vector<TokenLogprob>>& top,
                                  const PieceFn& piece);
// completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"};
// text_offset counts bytes from `offset` (the length of the text before these tokens).
nlohmann::json completion_logprobs_json(const std::vector<TokenId>& tokens,
                                        const std::vector<TokenLogprob>& chosen,
                                        const std::vector<std::vector<TokenLogprob>>& top,
                                        const PieceFn& piece, int64_t offset);

nlohmann::json chat_completion_json(const ResponseMeta& meta,
                                    const std::vector<ChoiceResult>& choices,
                                    const RequestUsage& usage, bool logprobs, const PieceFn& piece);
nlohmann::json text_completion_json(const ResponseMeta& meta,
                                    const std::vector<ChoiceResult>& choices,
                                    const RequestUsage& usage, bool logprobs, const PieceFn& piece);

// Streaming chunks. `delta` is the chat delta object ({"role"}, {"content"}, {"reasoning_content"}
// or {} on the last chunk); finish_reason null until the choice's last chunk; logprobs null unless
// requested. with_usage_null: stream_options.include_usage asks for "usage": null on every chunk.
// A chat delta announcing tool call `index`: id, type, name and empty arguments, then one with
// the arguments text (OpenAI's framing: clients append the argument fragments per index).
nlohmann::json tool_call_header_delta(int32_t index, const ToolCall& call);
nlohmann::json tool_call_arguments_delta(int32_t index, const std::string& fragment);

nlohmann::json chat_chunk_json(const ResponseMeta& meta, int32_t index, nlohmann::json delta,
                               const std::optional<std::string>& finish_reason,
                               nlohmann::json logprobs, bool with_usage_null);
nlohmann::json completion_chunk_json(const ResponseMeta& meta, int32_t index,
                                     const std::string& text,
                                     const std::optional<std::string>& finish_reason,
                                     nlohmann::json logprobs, bool with_usage_null);
// The include_usage chunk: empty choices and the final usage.
nlohmann::json usage_chunk_json(const ResponseMeta& meta, ApiKind kind, const RequestUsage& usage);

// JSON text for the wire: invalid UTF-8 (a token piece that splits a character) becomes U+FFFD
// instead of throwing.
std::string dump_json(const nlohmann::json& j);

}  // namespace latent::server
