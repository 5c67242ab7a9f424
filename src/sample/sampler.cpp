// Sampler: parameter validation and the chain logit_bias → penalties → top-k → top-p → min-p →
// temperature → softmax → draw (see sampler.h). Steps are the free functions of penalties.h,
// filters.h and rng.h; this file only orders them and owns their buffers.
#include "sample/sampler.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "base/error.h"
#include "sample/filters.h"

namespace latent {
namespace {

std::string show(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

[[noreturn]] void reject(std::string_view field, std::string_view expected,
                         const std::string& found) {
  throw Error::field("sampler", field, expected, found);
}

void validate_logit_bias(const SamplerParams& params, int32_t n_vocab) {
  for (size_t i = 0; i < params.logit_bias.size(); ++i) {
    const auto& [id, bias] = params.logit_bias[i];
    const std::string field = "logit_bias[" + std::to_string(i) + "]";
    if (id < 0 || id >= n_vocab) {
      reject(field + ".token", "a token id in [0, " + std::to_string(n_vocab) + ")",
             std::to_string(id));
    }
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
      reject(field + ".bias", "a finite number or -inf (ban)", show(bias));
    }
  }
}

const SamplerParams& validated(const SamplerParams& params, int32_t n_vocab) {
  validate_sampler_params(params, n_vocab);
  return params;
}

}  // namespace

void validate_sampler_params(const SamplerParams& params, int32_t n_vocab) {
  if (n_vocab <= 0) reject("n_vocab", "> 0", std::to_string(n_vocab));
  if (std::isnan(params.temperature)) {
    reject("temperature", "a number (<= 0 means greedy)", show(params.temperature));
  }
  if (!(params.top_p >= 0.0f)) {
    reject("top_p", "a number >= 0 (>= 1 disables)", show(params.top_p));
  }
  if (std::isnan(params.min_p) || params.min_p > 1.0f) {
    reject("min_p", "a number <= 1 (<= 0 disables)", show(params.min_p));
  }
  if (!(params.repeat_penalty > 0.0f) || std::isinf(params.repeat_penalty)) {
    reject("repeat_penalty", "a finite number > 0 (1 disables)", show(params.repeat_penalty));
  }
  if (params.repeat_last_n < -1) {
    reject("repeat_last_n", ">= -1 (0 disables, -1 = whole history)",
           std::to_string(params.repeat_last_n));
  }
  if (!std::isfinite(params.frequency_penalty)) {
    reject("frequency_penalty", "a finite number", show(params.frequency_penalty));
  }
  if (!std::isfinite(params.presence_penalty)) {
    reject("presence_penalty", "a finite number", show(params.presence_penalty));
  }
  validate_logit_bias(params, n_vocab);
}

Sampler::Sampler(const SamplerParams& params, int32_t n_vocab)
    : params_(validated(params, n_vocab)),
      n_vocab_(n_vocab),
      penalties_{params.repeat_penalty, params.frequency_penalty, params.presence_penalty,
                 params.repeat_last_n},
      rng_(params.seed),
      counts_(n_vocab) {
  candidates_.reserve(static_cast<size_t>(n_vocab));
}

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  if (logits.size() != static_cast<size_t>(n_vocab_)) {
    throw Error::field("sampler", "logits", std::to_string(n_vocab_) + " values (n_vocab)",
                       std::to_string(logits.size()));
  }
  const std::span<const TokenId> window = penalty_window(history, penalties_.last_n);
  if (params_.temperature <= 0.0f) return sample_greedy(logits, window);

  fill_candidates(logits, candidates_);                       // vocabulary order
  apply_logit_bias(candidates_, params_.logit_bias);          // l_i += bias_i
  apply_penalties(candidates_, window, penalties_, counts_);  // repeat, then freq/presence
  apply_top_k(candidates_, params_.top_k);                    // k top-ranked rows
  apply_top_p(candidates_, params_.top_p);                    // smallest prefix with Σp >= top_p
  apply_min_p(candidates_, params_.min_p);                    // p_i >= min_p · p_max
  apply_temperature(candidates_, params_.temperature);        // l_i / T
  softmax(candidates_);                                       // p_i ∝ exp(l_i)
  return draw(candidates_, rng_.uniform());                   // inverse CDF, u ∈ [0, 1)
}

TokenId Sampler::sample_greedy(std::span<const float> logits, std::span<const TokenId> window) {
  if (params_.logit_bias.empty() && !penalties_.active()) {
    // Nothing modifies the logits: scan them in place, no copy and no sort.
    const TokenId id = argmax(logits);
    candidates_.assign(1, Candidate{id, logits[static_cast<size_t>(id)], 1.0f});
    return id;
  }
  fill_candidates(logits, candidates_);
  apply_logit_bias(candidates_, params_.logit_bias);
  apply_penalties(candidates_, window, penalties_, counts_);
  const Candidate best = candidates_[argmax(std::span<const Candidate>(candidates_))];
  candidates_.assign(1, Candidate{best.id, best.logit, 1.0f});
  return best.id;
}

}  // namespace latent
