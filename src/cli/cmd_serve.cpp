// `latent serve`: the OpenAI-compatible HTTP server (server/http_server.h) over the batched Engine.
// Loads the model, sizes the paged KV cache (--kv-blocks, or --kv-memory MiB), binds, and serves
// until SIGTERM/SIGINT, which drains: the listener closes, in-flight requests get --drain-timeout
// seconds to finish, then the process exits 0. One log line per request goes to stderr.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/paged_kv_cache.h"
#include "server/http_server.h"
#include "tokenizer/tokenizer.h"

namespace latent::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int32_t n_ctx = 0;
  int32_t kv_blocks = 0;
  int64_t kv_memory_mib = 0;
  int32_t max_batch_tokens = 512;
  int32_t parallel = 16;
  int threads = 0;
  std::string api_key;
  int32_t max_queue = 64;
  int64_t max_body_bytes = 4 << 20;
  double drain_timeout = 30.0;
  std::string model_name;
  bool no_prefix_caching = false;
  bool verbose = false;
};

int serve(const ServeArgs& a) {
  if (a.verbose) set_log_level(LogLevel::kInfo);
  if (a.kv_blocks > 0 && a.kv_memory_mib > 0)
    throw Error("--kv-blocks, --kv-memory: expected at most one of them, found both");
  // The signals are taken by a dedicated thread (sigwait); block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a vanished client is a failed write, not a dead server

  kernels::set_num_threads(a.threads);
  const std::string model_path = model_or_default(a.model);
  auto model = Model::load(model_path);
  auto tokenizer = Tokenizer::from_gguf(model->file());

  EngineConfig ec;
  ec.n_ctx = a.n_ctx;
  ec.max_batch_tokens = a.max_batch_tokens;
  ec.max_running = a.parallel;
  ec.prefix_caching = !a.no_prefix_caching;
  ec.n_blocks = a.kv_blocks;
  if (a.kv_memory_mib > 0) {
    const int64_t per_block = PagedKvCache(model->config(), 1, ec.block_size).bytes_per_block();
    ec.n_blocks = static_cast<int32_t>(std::max<int64_t>(1, (a.kv_memory_mib << 20) / per_block));
  }
  Engine engine(*model, *tokenizer, ec);

  server::ServerConfig sc;
  sc.host = a.host;
  sc.port = a.port;
  sc.model_file = std::filesystem::path(model_path).filename().string();
  sc.model_name = a.model_name.empty() ? sc.model_file : a.model_name;
  sc.chat_template = model->file().get_str_opt("tokenizer.chat_template").value_or("");
  sc.api_key = a.api_key;
  sc.max_queue = a.max_queue;
  sc.max_body_bytes = static_cast<size_t>(a.max_body_bytes);
  sc.drain_timeout_s = a.drain_timeout;
  server::HttpServer server(engine, *tokenizer, sc);
  const int port = server.bind();
  const EngineConfig& cfg = engine.config();
  std::fprintf(stderr,
               "[latent] serving %s as \"%s\" on http://%s:%d (context %d, %d KV blocks of %d, "
               "parallel %d, threads %d%s)\n",
               model_path.c_str(), sc.model_name.c_str(), a.host.c_str(), port, cfg.n_ctx,
               cfg.n_blocks, cfg.block_size, cfg.max_running, kernels::num_threads(),
               sc.chat_template.empty() ? ", no chat template" : "");
  std::fflush(stderr);

  std::atomic<bool> stopped{false};
  std::thread signal_thread([&] {
    const timespec tick{0, 200 * 1000 * 1000};
    while (!stopped.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        std::fprintf(stderr, "[latent] %s: draining (at most %.0f s)\n",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT", a.drain_timeout);
        server.shutdown();
        return;
      }
    }
  });
  server.run();
  stopped.store(true);
  signal_thread.join();
  engine.stop();
  std::fprintf(stderr, "[latent] stopped\n");
  return 0;
}

}  // namespace

Command add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "OpenAI-compatible HTTP server with continuous batching (/v1/chat/completions, ...)");
  sub->add_option("-m,--model", a->model, kModelOptionHelp)->check(CLI::ExistingFile);
  sub->add_option("--host", a->host, "Address to listen on")->capture_default_str();
  sub->add_option("--port", a->port, "Port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  sub->add_option("-c,--ctx-size", a->n_ctx, "Context per sequence (0: model's, at most 4096)")
      ->capture_default_str();
  sub->add_option("--kv-blocks", a->kv_blocks,
                  "KV-cache blocks of 16 tokens (0: enough for --parallel full contexts)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--kv-memory", a->kv_memory_mib, "KV-cache size in MiB (instead of --kv-blocks)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-batch-tokens", a->max_batch_tokens, "Tokens per engine step at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--parallel", a->parallel, "Sequences running at once at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  sub->add_option("--api-key", a->api_key, "Require \"Authorization: Bearer KEY\" on the API");
  sub->add_option("--max-queue", a->max_queue,
                  "Requests waiting beyond --parallel before answering 429")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-body-bytes", a->max_body_bytes, "Request body size limit (413 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--drain-timeout", a->drain_timeout,
                  "Seconds in-flight requests may take after SIGTERM before they are cancelled")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--model-name", a->model_name,
                  "Model id in the API (default: the file name; both are accepted)");
  sub->add_flag("--no-prefix-caching", a->no_prefix_caching, "Do not reuse cached prompt blocks");
  sub->add_flag("-v,--verbose", a->verbose, "Log loading details to stderr");
  return [a] { return serve(*a); };
}

}  // namespace latent::cli
