// One request, stepped to completion in the caller's thread.
#include "engine/sequence_loop.h"

#include <algorithm>
#include <chrono>

namespace latent {

namespace {

StopReason stop_reason_of(FinishReason f) {
  switch (f) {
    case FinishReason::kStop:
      return StopReason::kEndOfGeneration;
    case FinishReason::kLength:
      return StopReason::kMaxTokens;
    case FinishReason::kContextFull:
      return StopReason::kContextFull;
    case FinishReason::kCancelled:
      return StopReason::kCallback;
  }
  return StopReason::kCallback;
}

}  // namespace

int32_t resolve_n_ctx(const ModelConfig& c, const GenerateOptions& opt) {
  return opt.n_ctx > 0 ? opt.n_ctx : std::min(c.n_ctx_train, 4096);
}

EngineConfig single_sequence_engine(const ModelConfig& config, const GenerateOptions& opt) {
  EngineConfig ec;
  ec.n_ctx = resolve_n_ctx(config, opt);
  ec.max_running = 1;
  ec.max_batch_tokens = std::max(1, opt.prefill_chunk);
  ec.block_size = opt.kv_block_size;
  return ec;
}

GenerateResult run_to_completion(EngineCore& core, CompletionRequest request,
                                 const TokenCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  GenerateResult r;
  const auto n_prompt = static_cast<int32_t>(request.prompt.size());
  bool stop_requested = false, first = true;
  const auto t0 = Clock::now();
  auto t1 = t0;
  auto on_output = [&](std::vector<SampleOutput>& outs, bool, const RequestUsage& usage) {
    r.n_reused = usage.cached_prompt_tokens;
    for (SampleOutput& o : outs) {
      if (first && (!o.tokens.empty() || o.finish)) {
        t1 = Clock::now();
        first = false;
      }
      for (size_t i = 0; i < o.tokens.size(); ++i) {
        r.tokens.push_back(o.tokens[i]);
        // A step's text completes with its last token (one token per step for one sequence).
        const std::string_view text = i + 1 == o.tokens.size() ? std::string_view(o.text) : "";
        if (on_token && !stop_requested && !on_token(o.tokens[i], text)) stop_requested = true;
      }
      if (o.tokens.empty() && !o.text.empty() && on_token) on_token(-1, o.text);
      if (o.finish) r.stop = stop_reason_of(*o.finish);
    }
  };
  const RequestId id = core.add(std::move(request), on_output);
  while (core.has_work()) {
    core.step();
    if (stop_requested && core.has_work()) core.cancel(id);
  }
  if (stop_requested) r.stop = StopReason::kCallback;
  const auto t2 = Clock::now();
  r.n_prompt = n_prompt - r.n_reused;
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
  r.generate_seconds = std::chrono::duration<double>(t2 - t1).count();
  return r;
}

}  // namespace latent
