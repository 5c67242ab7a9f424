// generate(): the engine loop behind `latent run` — one request through EngineCore (the same loop
// the server runs): prefill the prompt in chunks, then one token per step — forward, sample, stream
// the text — until end-of-generation, the token limit or the context is full. Not tokenization of
// the prompt or printing.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/ids.h"
#include "model/model.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"

namespace latent {

struct GenerateOptions {
  int32_t max_tokens = 128;  // generated tokens at most (< 0: until EOS or the context is full)
  int32_t n_ctx = 0;  // KV cache size in tokens; 0 → the model's training context, capped at 4096
  int32_t prefill_chunk = 256;  // prompt tokens per forward call
  int32_t kv_block_size = 16;   // tokens per KV-cache block (the prefix-cache granularity)
  SamplerParams sampling;
};

enum class StopReason { kEndOfGeneration, kMaxTokens, kContextFull, kCallback };
std::string_view stop_reason_name(StopReason reason);

struct GenerateResult {
  std::vector<TokenId> tokens;  // generated ids
  StopReason stop = StopReason::kMaxTokens;
  int32_t n_prompt = 0;  // prompt tokens run through the model
  int32_t n_reused = 0;  // prompt tokens whose cache entries were kept from earlier (ChatSession)
  double prompt_seconds = 0.0;
  double generate_seconds = 0.0;
};

// Called with each generated token and the text that became complete with it (possibly empty, e.g.
// the first bytes of a multi-byte character). Returning false stops generation.
using TokenCallback = std::function<bool(TokenId id, std::string_view text)>;

// Throws latent::Error when the prompt is empty or does not fit the context.
GenerateResult generate(Model& model, const Tokenizer& tokenizer, std::span<const TokenId> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token);

}  // namespace latent
