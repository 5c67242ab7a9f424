// ChatSession: a multi-turn conversation on one sequence that keeps its KV cache between turns.
// Each turn gets the whole conversation as tokens (the caller renders and tokenizes the chat
// template); the session keeps the longest prefix it already has in the cache, runs only the rest
// and generates the reply with the same prefill/decode steps as generate(). Not templates or text.
#pragma once

#include <span>

#include "engine/generate.h"
#include "engine/sequence_loop.h"

namespace latent {

class ChatSession {
 public:
  ChatSession(Model& model, const Tokenizer& tokenizer, const GenerateOptions& options);

  // Makes the sequence equal `conversation` and generates the reply. When the cache holds a prefix
  // of it (the previous turns and reply), only the tokens after that prefix are run; if a
  // template re-renders history differently (e.g. stripping reasoning), the cache is rewound to
  // where they differ. r.n_prompt counts the tokens run, r.n_reused those kept. Throws
  // latent::Error when the conversation does not fit the context.
  GenerateResult respond(std::span<const TokenId> conversation, const TokenCallback& on_token);

  int32_t n_ctx() const { return state_.cache.n_ctx(); }
  // Tokens of the sequence so far (conversation + the last reply).
  const std::vector<TokenId>& history() const { return state_.history; }

 private:
  Model& model_;
  const Tokenizer& tokenizer_;
  GenerateOptions options_;
  SequenceState state_;
};

}  // namespace latent
