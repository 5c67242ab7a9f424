// Engine: the engine loop on its own thread, with thread-safe submission, cancellation and
// per-request output queues.
#include "engine/engine.h"

#include "base/error.h"
#include "base/log.h"
#include "kernels/kernels.h"

namespace latent {

bool RequestStream::next(Chunk& chunk, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (delivered_done_) return false;
  if (!cv_.wait_for(lock, timeout, [&] { return !chunks_.empty(); })) return false;
  chunk = std::move(chunks_.front());
  chunks_.pop_front();
  if (chunk.done) delivered_done_ = true;
  return true;
}

void RequestStream::cancel() {
  std::function<void()> c;
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    c = cancel_;
  }
  if (c) c();
}

bool RequestStream::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

void RequestStream::push(Chunk chunk) {
  {
    std::lock_guard lock(mu_);
    if (chunk.done) done_ = true;
    chunks_.push_back(std::move(chunk));
  }
  cv_.notify_all();
}

Engine::Engine(Model& model, const Tokenizer& tokenizer, const EngineConfig& config)
    : core_(model, tokenizer, config) {
  counters_ = core_.counters();
  // The kernels run on the engine thread from now on. The constructing thread's kernel workers
  // (from load-time weight repacking) would otherwise stay alive, and with more OpenMP threads than
  // cores libgomp stops spinning between parallel regions: every region of every step then sleeps
  // and wakes its workers (measured: ~160 context switches per token, decode 1.3-2x slower).
  kernels::release_worker_threads();
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  stop();
}

const EngineConfig& Engine::config() const {
  return core_.config();
}

std::shared_ptr<RequestStream> Engine::submit(CompletionRequest request) {
  // Validate on the caller's thread so a bad request is an immediate error, not a stream.
  core_.validate(request);
  auto stream = std::make_shared<RequestStream>();
  std::weak_ptr<RequestStream> weak = stream;
  stream->cancel_ = [this, weak] {
    std::lock_guard lock(mu_);
    cancels_.push_back(weak);
    cv_.notify_all();
  };
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw Error("server: shutting down, not accepting requests");
    ++in_flight_;
    incoming_.emplace_back(std::move(request), stream);
  }
  cv_.notify_all();
  return stream;
}

EngineCounters Engine::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::loop() {
  // Requests the core knows, by the stream that reports them (for cancellation).
  std::vector<std::pair<std::weak_ptr<RequestStream>, RequestId>> live;
  for (;;) {
    std::deque<std::pair<CompletionRequest, std::shared_ptr<RequestStream>>> incoming;
    std::deque<std::weak_ptr<RequestStream>> cancels;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || !incoming_.empty() || !cancels_.empty() || core_.has_work();
      });
      incoming.swap(incoming_);
      cancels.swap(cancels_);
      stopping = stopping_;
    }
    for (auto& [request, stream] : incoming) {
      std::weak_ptr<RequestStream> weak = stream;
      try {
        const RequestId id = core_.add(
            std::move(request),
            [this, weak](std::vector<SampleOutput>& outputs, bool done, const RequestUsage& usage) {
              if (done) --in_flight_;
              if (auto s = weak.lock()) s->push({std::move(outputs), done, usage});
            });
        live.emplace_back(weak, id);
      } catch (const std::exception& e) {
        // Validated at submit; a failure here is reported as a finished, empty request.
        log_error(std::string("engine: request rejected: ") + e.what());
        --in_flight_;
        stream->push({{}, true, {}});
      }
    }
    for (auto& weak : cancels) {
      for (auto& [w, id] : live)
        if (!w.owner_before(weak) && !weak.owner_before(w)) core_.cancel(id);
    }
    if (stopping) {
      for (auto& [w, id] : live) core_.cancel(id);
      live.clear();
    } else if (core_.has_work()) {
      try {
        core_.step();
      } catch (const std::exception& e) {
        // A failing forward must not take the server down silently: cancel everything in it.
        log_error(std::string("engine: step failed, cancelling running requests: ") + e.what());
        for (auto& [w, id] : live) core_.cancel(id);
      }
    }
    // A stream nobody holds any more (the client handler is gone) cancels its request.
    std::erase_if(live, [&](auto& p) {
      auto s = p.first.lock();
      if (!s) core_.cancel(p.second);
      return !s || s->done();
    });
    {
      std::lock_guard lock(counters_mu_);
      counters_ = core_.counters();
    }
    if (stopping) return;
  }
}

}  // namespace latent
