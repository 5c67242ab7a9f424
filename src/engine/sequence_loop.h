// The steps of the single-sequence engine loop, shared by generate() (one prompt) and ChatSession
// (a conversation that keeps its KV cache across turns): SequenceState (cache, sampler, token
// history, last logits), chunked prefill of new tokens at the end of the history, and the
// sample-stream-forward decode loop with its stop rules. Not tokenization or printing.
#pragma once

#include <span>
#include <vector>

#include "engine/generate.h"

namespace latent {

struct SequenceState {
  SequenceState(const ModelConfig& config, int32_t n_ctx, const SamplerParams& sampling)
      : cache(config, n_ctx),
        sampler(sampling, config.n_vocab),
        logits(static_cast<size_t>(config.n_vocab)) {}
  KvCache cache;
  Sampler sampler;
  std::vector<TokenId> history;  // the sequence's tokens, in position order
  // history[0, n_cached) have keys/values in the cache; a last sampled token that was never run
  // through the model (stopped by a limit or the callback) is in history only.
  size_t n_cached = 0;
  std::vector<float> logits;  // next-token logits after the last forward
};

// The KV cache size generate() uses for options.n_ctx (0: the training context, at most 4096).
int32_t resolve_n_ctx(const ModelConfig& config, const GenerateOptions& options);

// Drops history tokens past n_cached, runs tokens through the model at the following positions in
// chunks of `chunk`, appends them to the history and leaves the last token's logits. Throws
// latent::Error when tokens is empty or the history would not leave room for one generated token.
void prefill(Model& model, SequenceState& s, std::span<const TokenId> tokens, int32_t chunk);

// Samples from the current logits, streams and appends each token until end-of-generation (the EOG
// token is not appended), options.max_tokens, a full context or the callback's stop; fills
// r.tokens, r.stop and r.generate_seconds.
void decode(Model& model, const Tokenizer& tokenizer, SequenceState& s, StreamingDetokenizer& detok,
            const GenerateOptions& options, const TokenCallback& on_token, GenerateResult& r);

}  // namespace latent
