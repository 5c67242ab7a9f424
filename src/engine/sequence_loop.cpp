// The prefill and decode steps of the single-sequence engine loop.
#include "engine/sequence_loop.h"

#include <algorithm>
#include <chrono>

#include "base/error.h"

namespace latent {

int32_t resolve_n_ctx(const ModelConfig& c, const GenerateOptions& opt) {
  return opt.n_ctx > 0 ? opt.n_ctx : std::min(c.n_ctx_train, 4096);
}

void prefill(Model& model, SequenceState& s, std::span<const TokenId> tokens, int32_t chunk_size) {
  const int64_t n_ctx = s.cache.n_ctx();
  if (tokens.empty()) throw Error("prompt: expected at least one token, found none");
  s.history.resize(s.n_cached);
  const int64_t start = static_cast<int64_t>(s.history.size());
  if (start + static_cast<int64_t>(tokens.size()) >= n_ctx) {
    throw Error("prompt: expected fewer tokens than the context size " + std::to_string(n_ctx) +
                ", found " + std::to_string(start + static_cast<int64_t>(tokens.size())) +
                " tokens");
  }
  // Only the last chunk's last row of logits is needed.
  std::vector<Pos> pos;
  const int64_t n = static_cast<int64_t>(tokens.size()), chunk = std::max(1, chunk_size);
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t len = std::min(chunk, n - i);
    pos.resize(static_cast<size_t>(len));
    for (int64_t j = 0; j < len; ++j) pos[j] = static_cast<Pos>(start + i + j);
    model.forward(tokens.subspan(i, len), pos, s.cache, /*all_logits=*/false, s.logits.data());
  }
  s.history.insert(s.history.end(), tokens.begin(), tokens.end());
  s.n_cached = s.history.size();
}

void decode(Model& model, const Tokenizer& tokenizer, SequenceState& s, StreamingDetokenizer& detok,
            const GenerateOptions& opt, const TokenCallback& on_token, GenerateResult& r) {
  using Clock = std::chrono::steady_clock;
  const auto t1 = Clock::now();
  const int32_t n_ctx = s.cache.n_ctx();
  for (;;) {
    if (opt.max_tokens >= 0 && static_cast<int32_t>(r.tokens.size()) >= opt.max_tokens) {
      r.stop = StopReason::kMaxTokens;
      break;
    }
    const TokenId next = s.sampler.sample(s.logits, s.history);
    if (tokenizer.is_eog(next)) {
      r.stop = StopReason::kEndOfGeneration;
      break;
    }
    r.tokens.push_back(next);
    s.history.push_back(next);
    if (on_token && !on_token(next, detok.push(next))) {
      r.stop = StopReason::kCallback;
      break;
    }
    const Pos p = static_cast<Pos>(s.history.size() - 1);
    if (p >= n_ctx) {
      r.stop = StopReason::kContextFull;
      break;
    }
    // Only the next sample needs this forward; skip it when the limit is reached.
    if (opt.max_tokens >= 0 && static_cast<int32_t>(r.tokens.size()) >= opt.max_tokens) continue;
    model.forward(std::span<const TokenId>(&next, 1), std::span<const Pos>(&p, 1), s.cache, false,
                  s.logits.data());
    s.n_cached = s.history.size();
  }
  if (on_token) {
    const std::string rest = detok.flush();
    if (!rest.empty()) on_token(-1, rest);
  }
  r.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
}

}  // namespace latent
