// Engine: EngineCore on a dedicated thread, for the server. Any thread may submit requests and read
// their outputs through a RequestStream; counters() never waits on the engine loop (a snapshot
// published after every step).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/engine_core.h"

namespace latent {

// One request's outputs, in order; filled by the engine thread, drained by the HTTP handler.
class RequestStream {
 public:
  struct Chunk {
    std::vector<SampleOutput> outputs;
    bool done = false;
    RequestUsage usage;  // final when done
  };
  // Waits up to `timeout` for the next chunk; false on timeout. After the done chunk, returns
  // false immediately.
  bool next(Chunk& chunk, std::chrono::milliseconds timeout);
  // Asks the engine to stop this request (client gone); its blocks are freed at the next step.
  void cancel();
  bool done() const;

 private:
  friend class Engine;
  void push(Chunk chunk);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> chunks_;
  bool done_ = false, delivered_done_ = false;
  std::function<void()> cancel_;
};

class Engine {
 public:
  Engine(Model& model, const Tokenizer& tokenizer, const EngineConfig& config);
  ~Engine();  // stop(): cancels what is left and joins the thread

  // Thread-safe. Validates first (throws latent::Error naming the field, see EngineCore::add).
  std::shared_ptr<RequestStream> submit(CompletionRequest request);
  EngineCounters counters() const;
  const EngineConfig& config() const;
  // Requests accepted but not finished (running + waiting + queued for the engine thread).
  int32_t n_in_flight() const { return in_flight_.load(); }
  // Stops the loop: in-flight requests are cancelled. Idempotent.
  void stop();

 private:
  void loop();
  EngineCore core_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<CompletionRequest, std::shared_ptr<RequestStream>>> incoming_;
  std::deque<std::weak_ptr<RequestStream>> cancels_;
  std::atomic<int32_t> in_flight_{0};
  mutable std::mutex counters_mu_;
  EngineCounters counters_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace latent
