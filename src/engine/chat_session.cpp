// ChatSession: each turn is a request on a long-lived EngineCore whose prefix cache still holds the
// blocks of the previous turns.
#include "engine/chat_session.h"

#include "base/error.h"
#include "engine/sequence_loop.h"

namespace latent {

ChatSession::ChatSession(Model& model, const Tokenizer& tokenizer, const GenerateOptions& options)
    : options_(options),
      core_(std::make_unique<EngineCore>(model, tokenizer,
                                         single_sequence_engine(model.config(), options))) {}

ChatSession::~ChatSession() = default;

int32_t ChatSession::n_ctx() const {
  return core_->config().n_ctx;
}

GenerateResult ChatSession::respond(std::span<const TokenId> conversation,
                                    const TokenCallback& on_token) {
  CompletionRequest req;
  req.prompt.assign(conversation.begin(), conversation.end());
  req.sampling = options_.sampling;
  req.max_tokens = options_.max_tokens;
  GenerateResult r = run_to_completion(*core_, std::move(req), on_token);
  history_.assign(conversation.begin(), conversation.end());
  history_.insert(history_.end(), r.tokens.begin(), r.tokens.end());
  return r;
}

}  // namespace latent
