// generate(): one prompt through the single-sequence loop of sequence_loop.h.
#include "engine/generate.h"

#include <chrono>

#include "engine/sequence_loop.h"

namespace latent {

std::string_view stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kEndOfGeneration:
      return "eos";
    case StopReason::kMaxTokens:
      return "length";
    case StopReason::kContextFull:
      return "context";
    case StopReason::kCallback:
      return "stopped";
  }
  return "?";
}

GenerateResult generate(Model& model, const Tokenizer& tokenizer, std::span<const TokenId> prompt,
                        const GenerateOptions& opt, const TokenCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  SequenceState s(model.config(), resolve_n_ctx(model.config(), opt), opt.sampling);
  StreamingDetokenizer detok(tokenizer);
  GenerateResult r;
  r.n_prompt = static_cast<int32_t>(prompt.size());
  const auto t0 = Clock::now();
  prefill(model, s, prompt, opt.prefill_chunk);
  // Prompt tokens go through the detokenizer so the first generated piece knows what precedes it.
  for (TokenId id : prompt) detok.push(id);
  r.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  decode(model, tokenizer, s, detok, opt, on_token, r);
  return r;
}

}  // namespace latent
