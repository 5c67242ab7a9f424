// generate(): one prompt through EngineCore, the engine loop the server runs too.
#include "engine/generate.h"

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
  EngineCore core(model, tokenizer, single_sequence_engine(model.config(), opt));
  CompletionRequest req;
  req.prompt.assign(prompt.begin(), prompt.end());
  req.sampling = opt.sampling;
  req.max_tokens = opt.max_tokens;
  return run_to_completion(core, std::move(req), on_token);
}

}  // namespace latent
