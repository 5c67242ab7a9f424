// GRPO (Shao et al. 2024, DeepSeekMath §4.1; the RL stage of DeepSeek-R1) on the arithmetic task:
// for each training prompt the engine samples a group of G completions from the current policy,
// each is rewarded by checking its extracted answer, and the advantages are the rewards normalised
// within the group — no value network. The policy is updated with PPO's clipped surrogate and an
// optional per-token KL penalty (k3 estimator) against the starting model, turned into per-token
// weights of the ordinary training step (transformer.h: the loss Σ w·(−log p) has gradient
// −Σ w·∇log p, so w_t = ∂J/∂log p_t makes descent ascend the objective J).
//
// Also here: sampling many completions per prompt through the EngineCore (shared by GRPO rollouts,
// majority-vote evaluation and `latent run --samples`), and held-out accuracy with majority vote.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine_core.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/optimizer.h"
#include "train/params.h"
#include "train/transformer.h"

namespace latent::train {

// ---- Maths, exposed for tests -------------------------------------------------------------------

// A_i = (r_i − mean) / (std + eps), std the population standard deviation of the group (as the
// GRPO paper's normalisation). A group whose rewards are all equal carries no signal: every
// advantage is exactly 0 (not ±eps noise).
std::vector<float> group_advantages(std::span<const double> rewards, double eps = 1e-4);

// ∂/∂log π of PPO's clipped surrogate min(ρ·A, clip(ρ, 1−ε, 1+ε)·A), ρ = exp(logp − logp_old):
// ρ·A where the unclipped term is the minimum, 0 where the clipped (constant) one is — i.e. when
// A > 0 and ρ > 1+ε, or A < 0 and ρ < 1−ε: the update stops pushing a token already moved far
// enough in its advantage's direction.
float clipped_surrogate_grad(float logp, float logp_old, float advantage, float clip);
// The surrogate's value (for logs and tests).
float clipped_surrogate(float logp, float logp_old, float advantage, float clip);

// Schulman's k3 estimator of KL(π‖π_ref) from a token sampled from π: with d = logp_ref − logp,
// k3 = e^d − d − 1 ≥ 0 (unbiased, low variance). Its derivative with respect to logp is 1 − e^d.
double kl_k3(float logp, float logp_ref);
double kl_k3_grad(float logp, float logp_ref);

// ---- Reward -------------------------------------------------------------------------------------

// A well-formed completion is "<think>" + reasoning + "</think>" + " " + integer and nothing else:
// one think block, opened at the very start, closed once, followed by exactly the answer.
bool well_formed(std::string_view completion);

struct Reward {
  bool correct = false;
  bool formatted = false;
  double value = 0.0;  // correct + format_weight·formatted
};
// Correctness of extract_answer(completion) against `answer`, plus a small format bonus so early
// policies that ramble still get a gradient towards the structure the extractor reads.
Reward score_completion(std::string_view completion, int64_t answer, double format_weight);

// ---- Sampling through the engine ----------------------------------------------------------------

struct SampledCompletion {
  std::vector<int32_t> tokens;  // generated tokens, the end-of-generation token excluded
  std::string text;
  FinishReason finish = FinishReason::kStop;
};

// Runs every request to completion through one EngineCore (so the prompts and samples share
// batches and n > 1 samples share their prompt's KV blocks) and returns, per request, its n
// samples in index order.
std::vector<std::vector<SampledCompletion>> sample_all(Model& model, const Tokenizer& tok,
                                                       std::vector<CompletionRequest> requests,
                                                       const EngineConfig& config);

// Sampling from the policy itself: temperature only, no top-k/top-p/min-p truncation (those
// change the distribution the surrogate's ratio assumes).
SamplerParams policy_sampling(float temperature, uint64_t seed);

// ---- Held-out accuracy with majority vote -------------------------------------------------------

struct VoteEvalOptions {
  int n_problems = 200;
  uint64_t seed = 1;  // which held-out problems (ArithGenerator seed)
  int32_t max_digits = 3;
  int32_t max_tokens = 128;
  std::vector<int> votes = {1, 4, 16};  // N values; each ≤ 16 (the engine's samples per request)
  float temperature = 1.0f;             // of the voting samples
  // Truncation of the voting samples (off by default: the policy's own distribution; `latent
  // run --samples` uses the sampler's defaults, top-k 40, top-p 0.95, min-p 0.05).
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  uint64_t sample_seed = 1;
  int32_t max_running = 64;  // sequences the engine runs together
};

struct VoteEvalResult {
  int n = 0;
  int greedy_correct = 0;
  // Per votes[i]: problems whose majority over the first votes[i] samples is right. Using nested
  // prefixes of one set of max(votes) independent samples gives each N an unbiased estimate.
  std::vector<int> vote_correct;
  std::vector<int> any_correct;  // pass@N over the same prefixes
  // Paired with greedy decoding on the same problems, per votes[i]: right only by the majority,
  // right only greedily. Their difference is vote_correct − greedy_correct; their sizes give the
  // paired standard error of that difference (paired_se).
  std::vector<int> vote_only, greedy_only;
  // Single-sample accuracy as DeepSeek-R1 reports pass@1: the mean over all max(votes) samples of
  // every problem (lower variance than the first sample alone, maj@1).
  int samples = 0;             // samples per problem, max(votes)
  int64_t sample_correct = 0;  // right samples over all problems
  // Per votes[i], over problems, Σ d and Σ d² of d = [majority right] − (right samples)/samples:
  // maj@N against pass@1 paired on the same problems (vote_over_samples, its standard error).
  std::vector<double> over_samples_sum, over_samples_sq;
  double greedy_accuracy() const { return n ? static_cast<double>(greedy_correct) / n : 0.0; }
  double vote_accuracy(size_t i) const {
    return n ? static_cast<double>(vote_correct[i]) / n : 0.0;
  }
  // Standard error of maj@votes[i] − greedy accuracy, from the per-problem differences
  // d ∈ {−1, 0, +1}: sqrt(var(d) / n).
  double paired_se(size_t i) const;
  double sample_accuracy() const {
    return n && samples ? static_cast<double>(sample_correct) / (static_cast<double>(n) * samples)
                        : 0.0;
  }
  double vote_over_samples(size_t i) const { return n ? over_samples_sum[i] / n : 0.0; }
  double vote_over_samples_se(size_t i) const;
};

VoteEvalResult evaluate_majority(Model& model, const Tokenizer& tok, const VoteEvalOptions& o);

// ---- GRPO ---------------------------------------------------------------------------------------

struct GrpoConfig {
  int32_t prompts_per_step = 8;
  int32_t group = 8;         // G, samples per prompt (≤ 16)
  int32_t max_new = 176;     // per sample at most; 999*99, the longest default problem, takes 151
  float temperature = 1.0f;  // sampling temperature of the rollouts
  float clip = 0.2f;         // PPO's ε
  float kl_coef = 0.0f;      // β of the k3 penalty against the starting model (0: none)
  int32_t inner_iters = 1;   // μ: updates per batch of rollouts (ratio ≠ 1 from the second on)
  double format_weight = 0.1;
  OptimConfig optim;  // lr, warm-up and total_steps of the RL schedule
  uint64_t seed = 1;  // problems and sampling
  int32_t max_digits = 3;
  int threads = 1;
  int32_t max_running = 64;  // engine sequences per forward during rollouts
};

struct GrpoStepStats {
  int64_t step = 0;
  double mean_reward = 0.0;
  double accuracy = 0.0;  // fraction of samples whose answer is right
  double format_rate = 0.0;
  double mean_length = 0.0;     // generated tokens per sample
  double mean_reasoning = 0.0;  // tokens strictly inside <think>…</think> per sample
  // Mean per-token k3 against the starting model, before the update: over every rollout, or,
  // with one pass and no KL penalty, over the rollouts trained (those with an advantage).
  double kl = 0.0;
  double clip_fraction = 0.0;    // completion tokens whose surrogate gradient was clipped to 0
  double zero_adv_groups = 0.0;  // fraction of groups with identical rewards
  double grad_norm = 0.0;
  double rollout_s = 0.0, update_s = 0.0;
};

// A training sequence of one rollout: prompt + completion (+ the end token when the sample
// stopped on it, so the decision to stop is trained too); completion_start = index of the first
// completion token.
struct Rollout {
  std::vector<int32_t> tokens;
  int32_t completion_start = 0;
  float advantage = 0.0f;
};

// Log-probabilities log p(tokens[t+1] | tokens[..t]) for t in [completion_start − 1, T − 1) under
// params, computed by the training forward (so they match the update's own numbers exactly).
std::vector<float> completion_logprobs(const ParamSet& params, const Rollout& r, Activations& acts);

// The per-token weights of one rollout for the current log-probs: w_t = −(∂J/∂logp_t)/n_tokens
// with J = clipped surrogate − β·k3, so the training loss Σ w·nll descends on −J averaged over all
// completion tokens of the batch (token-level normalisation, as DAPO/Dr. GRPO: long and short
// completions weigh the same per token). Returns the number of clipped tokens.
int rollout_weights(const Rollout& r, std::span<const float> logp, std::span<const float> logp_old,
                    std::span<const float> logp_ref, float clip, float kl_coef, double n_tokens,
                    std::vector<float>& weights);

class GrpoTrainer {
 public:
  // params: the starting policy, also the KL reference (logged always, penalised when
  // kl_coef > 0); tok: the task's vocabulary.
  GrpoTrainer(ParamSet params, const Tokenizer& tok, const GrpoConfig& config);
  // One step: rollouts with the current policy, rewards, advantages, μ updates.
  GrpoStepStats step();
  // The update half of a step on given rollouts (tests call it directly). Returns stats of the
  // update fields (kl, clip_fraction, grad_norm).
  GrpoStepStats update(std::span<const Rollout> rollouts);
  const ParamSet& params() const { return params_; }
  int64_t steps_done() const { return steps_done_; }
  // Where the policy GGUF handed to the engine is written (a temp file by default).
  void set_policy_path(std::string path) { policy_path_ = std::move(path); }

 private:
  ParamSet params_;
  ParamSet ref_;  // the starting model
  const Tokenizer& tok_;
  GrpoConfig config_;
  AdamW opt_;
  BatchWorkspace ws_;
  ParamSet grads_;
  std::vector<Activations> acts_;  // one per thread for the forward-only passes
  std::string policy_path_;
  int64_t steps_done_ = 0;
  int32_t think_open_ = -1, think_close_ = -1;
};

}  // namespace latent::train
