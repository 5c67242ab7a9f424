// ChatSession: prefix reuse of the KV cache across the turns of a conversation.
#include "engine/chat_session.h"

#include <algorithm>
#include <chrono>

namespace latent {

ChatSession::ChatSession(Model& model, const Tokenizer& tokenizer, const GenerateOptions& options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      state_(model.config(), resolve_n_ctx(model.config(), options), options.sampling) {}

GenerateResult ChatSession::respond(std::span<const TokenId> conversation,
                                    const TokenCallback& on_token) {
  using Clock = std::chrono::steady_clock;
  // Keep the common prefix of what is cached and the conversation, but always run at least one
  // token so there are fresh logits to sample from.
  size_t keep = 0;
  const size_t limit =
      std::min(state_.n_cached, conversation.size() - (conversation.empty() ? 0 : 1));
  while (keep < limit && state_.history[keep] == conversation[keep]) ++keep;
  state_.n_cached = keep;
  GenerateResult r;
  r.n_reused = static_cast<int32_t>(keep);
  r.n_prompt = static_cast<int32_t>(conversation.size() - keep);
  const auto t0 = Clock::now();
  const auto fresh = conversation.subspan(keep);
  prefill(model_, state_, fresh, options_.prefill_chunk);
  StreamingDetokenizer detok(tokenizer_);
  for (TokenId id : fresh) detok.push(id);
  r.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  decode(model_, tokenizer_, state_, detok, options_, on_token, r);
  return r;
}

}  // namespace latent
