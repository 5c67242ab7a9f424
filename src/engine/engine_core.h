// EngineCore: the one engine loop. Each step() asks the Scheduler for a ScheduleStep, runs its
// block copies and one batched forward over the PagedKvCache, samples every sequence that
// finished its pending tokens, applies stop rules (end-of-generation, max_tokens, stop strings,
// context) and hands each request its SampleOutputs. `latent run` drives it in its own thread
// with one request; the server's Engine (engine.h) runs it on a dedicated thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/request.h"
#include "engine/scheduler.h"
#include "model/model.h"
#include "model/paged_kv_cache.h"
#include "tokenizer/tokenizer.h"

namespace latent {

struct EngineConfig {
  int32_t n_ctx = 0;        // per-sequence context (0: training context, at most 4096)
  int32_t block_size = 16;  // tokens per KV block
  int32_t n_blocks = 0;     // 0: enough for max_running sequences of n_ctx tokens
  int32_t max_batch_tokens = 512;
  int32_t max_running = 16;
  bool prefix_caching = true;
};

using RequestId = int64_t;
// Called on the engine's thread with one request's outputs of a step (all samples that produced
// something). done: the request finished (every sample has its finish reason); usage is final.
using OutputCallback =
    std::function<void(std::vector<SampleOutput>& outputs, bool done, const RequestUsage& usage)>;

struct EngineCounters {
  int32_t n_running = 0, n_waiting = 0;
  int32_t n_blocks = 0, n_blocks_used = 0, block_size = 0;
  int64_t prompt_tokens_total = 0, generation_tokens_total = 0, preemptions_total = 0;
};

class EngineCore {
 public:
  EngineCore(Model& model, const Tokenizer& tokenizer, const EngineConfig& config);
  ~EngineCore();

  const EngineConfig& config() const { return config_; }  // with n_ctx/n_blocks resolved
  // Validates (throws latent::Error naming the field: empty prompt, ids outside the vocabulary, a
  // prompt that does not fit n_ctx, n out of range, sampler params) and queues the request. A
  // max_tokens past the context is allowed here (the sample stops with kContextFull); the server
  // rejects it as OpenAI does.
  RequestId add(CompletionRequest request, OutputCallback on_output);
  // The checks of add() alone (thread-safe: reads only the configuration).
  void validate(const CompletionRequest& request) const;
  // Cancels a request: its sequences finish with kCancelled at the next step boundary and their
  // blocks return to the pool. Unknown or finished ids are ignored.
  void cancel(RequestId id);
  bool has_work() const;
  // One scheduler step + forward + sampling. Returns the step's decision (tests inspect it).
  ScheduleStep step();
  EngineCounters counters() const;
  const KvCacheManager& kv() const;
  const PagedKvCache& kv_memory() const;

 private:
  struct Impl;
  EngineConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latent
