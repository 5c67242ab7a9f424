// Implementation of the single-sequence engine loop.
#include "engine/generate.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "base/error.h"

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
  const ModelConfig& c = model.config();
  const int32_t n_ctx = opt.n_ctx > 0 ? opt.n_ctx : std::min(c.n_ctx_train, 4096);
  if (prompt.empty()) throw Error("prompt: expected at least one token, found none");
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    throw Error("prompt: expected fewer tokens than the context size " + std::to_string(n_ctx) +
                ", found " + std::to_string(prompt.size()) + " tokens");
  }
  KvCache cache(c, n_ctx);
  Sampler sampler(opt.sampling, c.n_vocab);
  StreamingDetokenizer detok(tokenizer);
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  std::vector<TokenId> history(prompt.begin(), prompt.end());
  std::vector<Pos> pos;
  GenerateResult r;
  r.n_prompt = static_cast<int32_t>(prompt.size());

  // Prefill in chunks; only the last chunk's last row of logits is needed.
  auto t0 = Clock::now();
  const int64_t n = static_cast<int64_t>(prompt.size()), chunk = std::max(1, opt.prefill_chunk);
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t len = std::min(chunk, n - i);
    pos.resize(static_cast<size_t>(len));
    for (int64_t j = 0; j < len; ++j) pos[j] = static_cast<Pos>(i + j);
    model.forward(prompt.subspan(i, len), pos, cache, /*all_logits=*/false, logits.data());
  }
  // Prompt tokens go through the detokenizer so the first generated piece knows what precedes it.
  for (TokenId id : prompt) detok.push(id);
  auto t1 = Clock::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  for (;;) {
    if (opt.max_tokens >= 0 && static_cast<int32_t>(r.tokens.size()) >= opt.max_tokens) {
      r.stop = StopReason::kMaxTokens;
      break;
    }
    const TokenId next = sampler.sample(logits, history);
    if (tokenizer.is_eog(next)) {
      r.stop = StopReason::kEndOfGeneration;
      break;
    }
    r.tokens.push_back(next);
    history.push_back(next);
    if (on_token && !on_token(next, detok.push(next))) {
      r.stop = StopReason::kCallback;
      break;
    }
    const Pos p = static_cast<Pos>(history.size() - 1);
    if (p >= n_ctx) {
      r.stop = StopReason::kContextFull;
      break;
    }
    // Only the next sample needs this forward; skip it when the limit is reached.
    if (opt.max_tokens >= 0 && static_cast<int32_t>(r.tokens.size()) >= opt.max_tokens) continue;
    model.forward(std::span<const TokenId>(&next, 1), std::span<const Pos>(&p, 1), cache, false,
                  logits.data());
  }
  if (on_token) {
    const std::string rest = detok.flush();
    if (!rest.empty()) on_token(-1, rest);
  }
  r.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return r;
}

}  // namespace latent
