// ChatSession: a multi-turn conversation. Each turn gets the whole conversation as tokens (the
// caller renders and tokenizes the chat template) and runs as one request of a long-lived
// EngineCore, whose prefix cache still holds the KV blocks of the earlier turns: only the tokens
// after the longest cached run of full blocks are computed. A template that re-renders history
// differently (e.g. R1 stripping `<think>`) simply hits fewer blocks. Not templates or text.
#pragma once

#include <memory>
#include <span>

#include "engine/engine_core.h"
#include "engine/generate.h"

namespace latent {

class ChatSession {
 public:
  ChatSession(Model& model, const Tokenizer& tokenizer, const GenerateOptions& options);
  ~ChatSession();

  // Generates the reply to `conversation`. r.n_reused counts the prompt tokens served by the
  // prefix cache (whole blocks), r.n_prompt those run. Throws latent::Error when the conversation
  // does not fit the context.
  GenerateResult respond(std::span<const TokenId> conversation, const TokenCallback& on_token);

  int32_t n_ctx() const;
  // Tokens of the sequence so far (conversation + the last reply).
  const std::vector<TokenId>& history() const { return history_; }

 private:
  GenerateOptions options_;
  std::unique_ptr<EngineCore> core_;
  std::vector<TokenId> history_;
};

}  // namespace latent
