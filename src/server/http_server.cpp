// HttpServer (see http_server.h): routes, authentication, error bodies for httplib's own refusals
// (413, 404), the small endpoints (models, health, metrics, tokenize, detokenize) and draining.
//
// Draining: httplib's Server::stop() would also cut off streams in progress (its chunked writer
// checks for shutdown between chunks), so shutdown() instead shuts the listening socket down
// (captured through set_socket_options): accept() fails, listen_after_bind() stops accepting and
// joins its workers, which finish the requests they hold. New requests on kept-alive connections
// get 503. When drain_timeout_s passes first, the engine is stopped, which cancels what is left.
#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "base/error.h"
#include "server/reasoning.h"
#include "server/server_context.h"

namespace latent::server {
namespace {

using json = nlohmann::json;

std::string token_text(const Tokenizer& tok, TokenId id) {
  return id >= 0 && id < tok.n_vocab() ? tok.vocab().text(id) : std::string();
}

json parse_body(const httplib::Request& req) {
  try {
    json j = json::parse(req.body);
    if (!j.is_object())
      throw ApiError(400,
                     "request body: expected a JSON object, found " + std::string(j.type_name()));
    return j;
  } catch (const json::parse_error& e) {
    throw ApiError(
        400, std::string("request body: expected JSON, found malformed JSON (") + e.what() + ")");
  }
}

std::string default_message(int status) {
  switch (status) {
    case 400:
      return "request: malformed HTTP request";
    case 404:
      return "Not found.";
    case 405:
      return "Method not allowed.";
    case 413:
      return "request body: too large";
    default:
      return "HTTP error " + std::to_string(status);
  }
}

}  // namespace

ServerContext::ServerContext(Engine& e, const Tokenizer& t, ServerConfig c)
    : engine(e), tokenizer(t), config(std::move(c)) {
  if (!config.chat_template.empty()) {
    chat_template.emplace(config.chat_template);
    think_template = template_uses_think(config.chat_template);
    tool_template = detect_tool_template(config.chat_template);
  }
  bos_text = token_text(t, t.bos());
  eos_text = token_text(t, t.eos());
  parse.n_vocab = t.n_vocab();
  parse.model_ids = {config.model_name};
  if (!config.model_file.empty() && config.model_file != config.model_name)
    parse.model_ids.push_back(config.model_file);
  started_unix = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
}

void ServerContext::log_request(const std::string& id, int status, const RequestUsage& usage,
                                double ttft_s, double duration_s, const std::string& note) {
  if (!config.log_requests) return;
  std::string n = note.size() > 160 ? note.substr(0, 157) + "..." : note;
  for (char& ch : n)
    if (ch == '\n') ch = ' ';
  std::lock_guard<std::mutex> lock(log_mu);
  std::fprintf(stderr,
               "[latent] %s %d prompt=%d cached=%d completion=%d ttft=%.3fs duration=%.3fs %s\n",
               id.c_str(), status, usage.prompt_tokens, usage.cached_prompt_tokens,
               usage.completion_tokens, ttft_s, duration_s, n.c_str());
  std::fflush(stderr);
}

void set_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_content(dump_json(e.body()), "application/json");
}

struct HttpServer::Impl {
  Impl(Engine& e, const Tokenizer& t, ServerConfig c) : ctx(e, t, std::move(c)) {}

  ServerContext ctx;
  httplib::Server svr;
  std::atomic<int> listen_fd{-1};
  int bound_port = -1;
  std::mutex mu;
  bool shutdown_requested = false;
  std::thread drainer;

  void routes();
  void drain();
  void handle_models(httplib::Response& res);
  void handle_tokenize(const httplib::Request& req, httplib::Response& res);
  void handle_detokenize(const httplib::Request& req, httplib::Response& res);
};

// Runs a small handler with the per-request error policy: ApiError → its status, latent::Error →
// 400, anything else → 500; the server itself is never affected.
template <typename F>
void guarded(httplib::Response& res, F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    set_error(res, e);
  } catch (const Error& e) {
    set_error(res, ApiError(400, e.what()));
  } catch (const std::exception& e) {
    set_error(res, ApiError(500, std::string("internal error: ") + e.what(), "", "server_error"));
  }
}

void HttpServer::Impl::handle_models(httplib::Response& res) {
  json model = {{"id", ctx.config.model_name},
                {"object", "model"},
                {"created", ctx.started_unix},
                {"owned_by", "latent"},
                {"max_model_len", ctx.engine.config().n_ctx}};
  res.set_content(dump_json({{"object", "list"}, {"data", json::array({model})}}),
                  "application/json");
}

void HttpServer::Impl::handle_tokenize(const httplib::Request& req, httplib::Response& res) {
  const json j = parse_body(req);
  auto content = j.find("content");
  if (content == j.end() || !content->is_string())
    throw ApiError::field("content", "a string",
                          content == j.end() ? "none" : std::string(content->type_name()));
  bool add_special = false;
  if (auto a = j.find("add_special"); a != j.end() && !a->is_null()) {
    if (!a->is_boolean()) throw ApiError::field("add_special", "a boolean", a->type_name());
    add_special = a->get<bool>();
  }
  // Special-token texts become those tokens, as llama.cpp's /tokenize does.
  const std::vector<TokenId> ids =
      ctx.tokenizer.encode(content->get<std::string>(), add_special, /*parse_special=*/true);
  res.set_content(dump_json({{"tokens", ids}}), "application/json");
}

void HttpServer::Impl::handle_detokenize(const httplib::Request& req, httplib::Response& res) {
  const json j = parse_body(req);
  auto tokens = j.find("tokens");
  if (tokens == j.end() || !tokens->is_array())
    throw ApiError::field("tokens", "an array of token ids",
                          tokens == j.end() ? "none" : std::string(tokens->type_name()));
  std::vector<TokenId> ids;
  const int32_t n_vocab = ctx.tokenizer.n_vocab();
  for (size_t i = 0; i < tokens->size(); ++i) {
    const json& t = (*tokens)[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab)
      throw ApiError::field("tokens[" + std::to_string(i) + "]",
                            "a token id in [0, " + std::to_string(n_vocab) + ")", dump_json(t));
    ids.push_back(static_cast<TokenId>(t.get<int64_t>()));
  }
  res.set_content(dump_json({{"content", ctx.tokenizer.decode(ids)}}), "application/json");
}

void HttpServer::Impl::routes() {
  // Authentication before routing, so every protected path answers 401 the same way (and unknown
  // paths do not reveal themselves without a key). /health and /metrics stay open for probes.
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (ctx.config.api_key.empty() || req.path == "/health" || req.path == "/metrics")
      return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + ctx.config.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    set_error(res, ApiError(401,
                            "Incorrect API key provided. Send it as \"Authorization: Bearer "
                            "<key>\".",
                            "", "invalid_request_error", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own refusals (413 over --max-body-bytes, 404, 400 for a broken request) come with an
  // empty body; give them OpenAI's error object.
  using WithResponse = httplib::Server::HandlerWithResponse;
  svr.set_error_handler(WithResponse([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = default_message(res.status);
    if (res.status == 413)
      message = "request body: expected at most " + std::to_string(ctx.config.max_body_bytes) +
                " bytes, found more";
    set_error(res, ApiError(res.status, message, "",
                            res.status >= 500 ? "server_error" : "invalid_request_error"));
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        set_error(res, ApiError(500, "internal error: " + what, "", "server_error"));
      });

  svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_completion(ctx, ApiKind::kChat, req, res);
  });
  svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_completion(ctx, ApiKind::kCompletion, req, res);
  });
  svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] { handle_models(res); });
  });
  svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (ctx.draining.load()) {
      set_error(res, ApiError(503, "The server is shutting down.", "", "server_error"));
      return;
    }
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      res.set_content(render_metrics(ctx.metrics, ctx.engine.counters(), ctx.config.model_name),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
  });
  svr.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { handle_tokenize(req, res); });
  });
  svr.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { handle_detokenize(req, res); });
  });
}

// The drain thread: waits for the active completions to finish, at most drain_timeout_s, then
// stops the engine (cancelling the rest) so the workers can return.
void HttpServer::Impl::drain() {
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(ctx.config.drain_timeout_s));
  while (ctx.active_completions.load() > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (ctx.active_completions.load() > 0) {
    std::fprintf(stderr, "[latent] drain timeout: cancelling %d requests\n",
                 ctx.active_completions.load());
    ctx.aborting.store(true);
    ctx.engine.stop();
  }
}

HttpServer::HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerConfig config)
    : impl_(std::make_unique<Impl>(engine, tokenizer, std::move(config))) {
  Impl& m = *impl_;
  const ServerConfig& c = m.ctx.config;
  int threads = c.http_threads;
  if (threads <= 0) threads = std::max(32, 2 * (c.max_queue + engine.config().max_running) + 8);
  m.svr.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  m.svr.set_payload_max_length(c.max_body_bytes);
  m.svr.set_socket_options([&m](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    m.listen_fd.store(sock);
  });
  m.routes();
}

HttpServer::~HttpServer() {
  shutdown();
  if (impl_->drainer.joinable()) impl_->drainer.join();
}

int HttpServer::bind() {
  Impl& m = *impl_;
  const ServerConfig& c = m.ctx.config;
  if (c.port == 0) {
    m.bound_port = m.svr.bind_to_any_port(c.host);
    if (m.bound_port < 0) throw Error("--host " + c.host + ": cannot bind a port");
  } else {
    if (!m.svr.bind_to_port(c.host, c.port))
      throw Error("--port " + std::to_string(c.port) + ": cannot listen on " + c.host + ":" +
                  std::to_string(c.port) + " (address in use or not available)");
    m.bound_port = c.port;
  }
  return m.bound_port;
}

int HttpServer::port() const {
  return impl_->bound_port;
}

void HttpServer::run() {
  Impl& m = *impl_;
  if (m.bound_port < 0) bind();
  m.svr.listen_after_bind();  // returns false once shutdown() breaks accept(); not an error then
  if (m.drainer.joinable()) m.drainer.join();
}

void HttpServer::shutdown() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.shutdown_requested) return;
    m.shutdown_requested = true;
  }
  m.ctx.draining.store(true);
  const int fd = m.listen_fd.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  m.drainer = std::thread([&m] { m.drain(); });
}

}  // namespace latent::server
