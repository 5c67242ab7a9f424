// What a client asks the engine for and what it gets back, independent of HTTP: a completion
// request over prompt tokens (n samples, sampling, limits, stop strings, logprobs) and the stream
// of per-step outputs. Shared by `latent run` (one request, driven in the caller's thread) and
// `latent serve` (many, on the engine thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "sample/sampler.h"

namespace latent {

// Restricts the next token (grammar-constrained decoding): sets disallowed logits to -inf before
// sampling and learns the chosen token. One per sample (copied for n > 1 via clone()).
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  virtual void apply(std::span<float> logits) = 0;
  virtual void accept(TokenId token) = 0;
  // True when the constraint cannot continue (forces end of generation).
  virtual bool is_complete() const = 0;
  virtual std::unique_ptr<TokenConstraint> clone() const = 0;
};

struct CompletionRequest {
  std::vector<TokenId> prompt;    // non-empty
  SamplerParams sampling;         // per sample; sample i > 0 uses seed + i
  int32_t max_tokens = -1;        // generated tokens per sample (< 0: until the context is full)
  int32_t n = 1;                  // independent samples sharing the prompt's KV blocks
  std::vector<std::string> stop;  // stop strings: generation ends before the first match
  bool ignore_eos = false;
  // -1: no logprobs; k >= 0: each token's logprob and the k most likely alternatives (k <= 20).
  int32_t top_logprobs = -1;
  // Prompt tokens are echoed through the detokenizer first so the first generated piece knows
  // what precedes it (SentencePiece's space after BOS).
  std::shared_ptr<TokenConstraint> constraint;  // optional; cloned per sample
};

// kStop: end-of-generation, a stop string or a complete constraint; kLength: max_tokens;
// kContextFull: the sequence reached n_ctx (OpenAI reports it as "length" too).
enum class FinishReason { kStop, kLength, kContextFull, kCancelled };
// OpenAI's finish_reason: "stop", "length", "length", "cancelled".
std::string_view finish_reason_name(FinishReason reason);

struct TokenLogprob {
  TokenId token = -1;
  float logprob = 0.0f;
};

// What one sample produced in one engine step.
struct SampleOutput {
  int32_t index = 0;            // which of the request's n samples
  std::vector<TokenId> tokens;  // generated this step (stop-string tokens included)
  std::string text;             // new text; a possible stop-string start is held back until decided
  // Per token in `tokens` when requested: the chosen token's logprob, then the alternatives.
  std::vector<TokenLogprob> chosen;
  std::vector<std::vector<TokenLogprob>> top;
  std::optional<FinishReason> finish;  // set on the sample's last output
};

struct RequestUsage {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prefix-cache hits (the first time the prompt was admitted)
  int32_t completion_tokens = 0;     // over all samples
};

}  // namespace latent
