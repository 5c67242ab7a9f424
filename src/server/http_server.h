// HttpServer: `latent serve`'s HTTP front end (cpp-httplib) over an Engine. Routes:
//   POST /v1/chat/completions, POST /v1/completions   OpenAI API, streaming or not
//   GET  /v1/models, GET /health, GET /metrics           discovery, readiness, Prometheus
//   POST /tokenize, POST /detokenize                     llama.cpp-style helpers
// Every refusal is OpenAI's {"error": {...}} body with the right status (400 naming the field, 401,
// 404, 413, 429, 503); one failing request never disturbs the others. shutdown() drains: the
// listener closes, in-flight requests get up to drain_timeout seconds, then run() returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace latent::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;            // 0: any free port (see HttpServer::port())
  std::string model_name;     // the served model id ("model" in requests and responses)
  std::string model_file;     // also accepted as "model" (the GGUF's file name)
  std::string chat_template;  // empty: the model has none (chat completions answer 400)
  std::string api_key;        // empty: no authentication
  int32_t max_queue = 64;     // 429 when requests in flight ≥ max_queue + the engine's parallel
  size_t max_body_bytes = 4 << 20;
  double drain_timeout_s = 30.0;
  int http_threads = 0;      // 0: enough for max_queue + parallel concurrent connections
  bool log_requests = true;  // one line per request on stderr
};

class HttpServer {
 public:
  HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerConfig config);
  ~HttpServer();
  // Binds (throws latent::Error when the address is taken); returns the bound port.
  int bind();
  // Serves until shutdown(); returns after in-flight requests finished or were cancelled.
  void run();
  // Thread-safe and idempotent: stop accepting, drain for up to drain_timeout_s (then cancel what
  // is left). Returns at once; run() returns when draining is over.
  void shutdown();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latent::server
