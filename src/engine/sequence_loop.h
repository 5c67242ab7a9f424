// Driving one request through an EngineCore in the caller's thread: the loop behind generate()
// (`latent run`) and ChatSession (`latent chat`), the same EngineCore::step() the server's engine
// thread runs. Maps the engine's outputs onto the single-sequence TokenCallback/GenerateResult.
#pragma once

#include "engine/engine_core.h"
#include "engine/generate.h"

namespace latent {

// The KV cache size generate() uses for options.n_ctx (0: the training context, at most 4096).
int32_t resolve_n_ctx(const ModelConfig& config, const GenerateOptions& options);

// The engine configuration of a single-sequence loop: one running sequence, prefill chunks of
// options.prefill_chunk tokens, KV blocks for one context.
EngineConfig single_sequence_engine(const ModelConfig& config, const GenerateOptions& options);

// Adds the request, steps the engine until it finishes and streams its tokens to on_token
// (returning false cancels the request: StopReason::kCallback). Fills tokens, stop, n_prompt
// (prompt tokens run), n_reused (prefix-cache hits) and the timings. Throws latent::Error for a
// request the engine rejects.
GenerateResult run_to_completion(EngineCore& core, CompletionRequest request,
                                 const TokenCallback& on_token);

}  // namespace latent
