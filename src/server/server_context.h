// What the HTTP handlers share (internal to server/): the engine, tokenizer, chat template, config,
// metrics, request ids and the draining state.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "server/grammar_constraint.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_protocol.h"
#include "server/tool_prompt.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace latent::server {

struct ServerContext {
  ServerContext(Engine& e, const Tokenizer& t, ServerConfig c);

  Engine& engine;
  const Tokenizer& tokenizer;
  const ServerConfig config;
  std::optional<ChatTemplate> chat_template;
  bool think_template = false;       // the template opens <think>: split reasoning from content
  ToolTemplateInfo tool_template;    // the template's tool-call format
  GrammarCache grammars{tokenizer};  // vocabulary trie + compiled grammars, shared by requests
  std::string bos_text, eos_text;
  ParseContext parse;
  ServerMetrics metrics;
  std::atomic<int64_t> next_id{1};
  std::atomic<int32_t> active_completions{0};  // completion handlers running (drain waits on it)
  std::atomic<bool> draining{false};
  std::atomic<bool> aborting{false};  // drain timed out: handlers stop waiting for the engine
  int64_t started_unix = 0;
  std::mutex log_mu;

  // One line per request on stderr (when config.log_requests).
  void log_request(const std::string& id, int status, const RequestUsage& usage, double ttft_s,
                   double duration_s, const std::string& note);
};

// Handles POST /v1/chat/completions (kChat) and /v1/completions (kCompletion).
void handle_completion(ServerContext& ctx, ApiKind kind, const httplib::Request& req,
                       httplib::Response& res);

// Sets an OpenAI error body and status.
void set_error(httplib::Response& res, const ApiError& e);

}  // namespace latent::server
