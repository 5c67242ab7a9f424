// GRPO: rollouts through the engine, group-normalised rewards, the clipped surrogate as per-token
// weights of the training step; and majority-vote evaluation on the held-out split.
#include "train/grpo.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "base/error.h"
#include "train/arith_task.h"
#include "train/checkpoint.h"
#include "train/sft_data.h"
#include "train/trainer.h"

namespace latent::train {

// ---- Maths --------------------------------------------------------------------------------------

std::vector<float> group_advantages(std::span<const double> rewards, double eps) {
  std::vector<float> adv(rewards.size(), 0.0f);
  if (rewards.empty()) return adv;
  const auto [lo, hi] = std::minmax_element(rewards.begin(), rewards.end());
  if (*lo == *hi) return adv;  // no preference among the samples: no gradient at all
  double mean = 0.0;
  for (double r : rewards) mean += r;
  mean /= static_cast<double>(rewards.size());
  double var = 0.0;
  for (double r : rewards) var += (r - mean) * (r - mean);
  const double sd = std::sqrt(var / static_cast<double>(rewards.size()));
  for (size_t i = 0; i < rewards.size(); ++i)
    adv[i] = static_cast<float>((rewards[i] - mean) / (sd + eps));
  return adv;
}

float clipped_surrogate_grad(float logp, float logp_old, float advantage, float clip) {
  const float ratio = std::exp(logp - logp_old);
  // Outside the trust region on the side the advantage pushes towards, min() picks the clipped
  // term, which does not depend on θ.
  if (advantage > 0.0f && ratio > 1.0f + clip) return 0.0f;
  if (advantage < 0.0f && ratio < 1.0f - clip) return 0.0f;
  return ratio * advantage;  // ∂(ρ·A)/∂log π = ρ·A
}

float clipped_surrogate(float logp, float logp_old, float advantage, float clip) {
  const float ratio = std::exp(logp - logp_old);
  const float clipped = std::clamp(ratio, 1.0f - clip, 1.0f + clip);
  return std::min(ratio * advantage, clipped * advantage);
}

double kl_k3(float logp, float logp_ref) {
  const double d = static_cast<double>(logp_ref) - logp;
  return std::exp(d) - d - 1.0;
}

double kl_k3_grad(float logp, float logp_ref) {
  return 1.0 - std::exp(static_cast<double>(logp_ref) - logp);
}

// ---- Reward -------------------------------------------------------------------------------------

bool well_formed(std::string_view c) {
  if (!c.starts_with(kThinkOpen)) return false;
  const size_t close = c.find(kThinkClose);
  if (close == std::string_view::npos) return false;
  const std::string_view reasoning = c.substr(kThinkOpen.size(), close - kThinkOpen.size());
  if (reasoning.find(kThinkOpen) != std::string_view::npos) return false;
  std::string_view rest = c.substr(close + kThinkClose.size());
  if (!rest.starts_with(' ')) return false;
  rest.remove_prefix(1);
  if (rest.starts_with('-')) rest.remove_prefix(1);
  if (rest.empty()) return false;
  return std::all_of(rest.begin(), rest.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

Reward score_completion(std::string_view completion, int64_t answer, double format_weight) {
  Reward r;
  const std::optional<int64_t> got = extract_answer(completion);
  r.correct = got && *got == answer;
  r.formatted = well_formed(completion);
  r.value = (r.correct ? 1.0 : 0.0) + (r.formatted ? format_weight : 0.0);
  return r;
}

// ---- Sampling -----------------------------------------------------------------------------------

std::vector<std::vector<SampledCompletion>> sample_all(Model& model, const Tokenizer& tok,
                                                       std::vector<CompletionRequest> requests,
                                                       const EngineConfig& config) {
  std::vector<std::vector<SampledCompletion>> out(requests.size());
  EngineCore core(model, tok, config);
  for (size_t i = 0; i < requests.size(); ++i) {
    out[i].resize(static_cast<size_t>(std::max(1, requests[i].n)));
    core.add(std::move(requests[i]),
             [&out, i](std::vector<SampleOutput>& outs, bool, const RequestUsage&) {
               for (SampleOutput& o : outs) {
                 SampledCompletion& c = out[i][static_cast<size_t>(o.index)];
                 c.tokens.insert(c.tokens.end(), o.tokens.begin(), o.tokens.end());
                 c.text += o.text;
                 if (o.finish) c.finish = *o.finish;
               }
             });
  }
  while (core.has_work()) core.step();
  return out;
}

SamplerParams policy_sampling(float temperature, uint64_t seed) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

namespace {

EngineConfig engine_config(const Model& model, int32_t max_running) {
  EngineConfig ec;
  ec.n_ctx = model.config().n_ctx_train;
  // Every sample of a request must run at once for the KV blocks of its prompt to be shared;
  // the engine allows 16 samples per request.
  ec.max_running = std::max(16, max_running);
  ec.max_batch_tokens = std::max(512, ec.max_running * 2);
  return ec;
}

// SplitMix64 finaliser: unrelated seeds for neighbouring (seed, step, index) triples.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Runs f(i, acts) for i in [0, n) over the threads, each with its own Activations; the first
// exception is rethrown as latent::Error after the loop (exceptions may not leave an OpenMP
// region).
template <typename F>
void parallel_over(int64_t n, std::vector<Activations>& acts, F&& f) {
  std::vector<std::string> errors(acts.size());
  const int threads = static_cast<int>(acts.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) {
    const size_t tid = static_cast<size_t>(omp_get_thread_num());
    if (!errors[tid].empty()) continue;
    try {
      f(i, acts[tid]);
    } catch (const std::exception& e) {
      errors[tid] = e.what();
    }
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw Error(e);
}

}  // namespace

// ---- Majority-vote evaluation -------------------------------------------------------------------

double VoteEvalResult::paired_se(size_t i) const {
  if (n == 0) return 0.0;
  const double plus = static_cast<double>(vote_only[i]) / n;
  const double minus = static_cast<double>(greedy_only[i]) / n;
  const double var = plus + minus - (plus - minus) * (plus - minus);
  return std::sqrt(std::max(0.0, var) / n);
}

double VoteEvalResult::vote_over_samples_se(size_t i) const {
  if (n == 0) return 0.0;
  const double mean = over_samples_sum[i] / n;
  const double var = over_samples_sq[i] / n - mean * mean;
  return std::sqrt(std::max(0.0, var) / n);
}

VoteEvalResult evaluate_majority(Model& model, const Tokenizer& tok, const VoteEvalOptions& o) {
  int max_votes = 0;
  for (int v : o.votes) {
    if (v < 1 || v > 16)
      throw Error::field("evaluation", "votes", "1..16 samples", std::to_string(v));
    max_votes = std::max(max_votes, v);
  }
  ArithGenerator gen(o.seed, Split::kHeldOut, ArithOptions{o.max_digits});
  std::vector<ArithProblem> problems;
  std::vector<CompletionRequest> reqs;
  for (int i = 0; i < o.n_problems; ++i) {
    problems.push_back(gen.next());
    CompletionRequest greedy;
    greedy.prompt = prompt_tokens(tok, problems.back());
    greedy.max_tokens = o.max_tokens;
    greedy.sampling = policy_sampling(0.0f, 0);
    CompletionRequest voting = greedy;
    voting.n = max_votes;
    voting.sampling = policy_sampling(o.temperature, mix(o.sample_seed ^ mix(i)));
    voting.sampling.top_k = o.top_k;
    voting.sampling.top_p = o.top_p;
    voting.sampling.min_p = o.min_p;
    reqs.push_back(std::move(greedy));
    if (max_votes > 0) reqs.push_back(std::move(voting));
  }
  const auto samples = sample_all(model, tok, std::move(reqs), engine_config(model, o.max_running));
  VoteEvalResult r;
  r.n = o.n_problems;
  r.vote_correct.assign(o.votes.size(), 0);
  r.any_correct.assign(o.votes.size(), 0);
  r.vote_only.assign(o.votes.size(), 0);
  r.greedy_only.assign(o.votes.size(), 0);
  r.samples = max_votes;
  r.over_samples_sum.assign(o.votes.size(), 0.0);
  r.over_samples_sq.assign(o.votes.size(), 0.0);
  const size_t per_problem = max_votes > 0 ? 2 : 1;
  for (size_t i = 0; i < problems.size(); ++i) {
    const int64_t truth = problems[i].answer;
    const auto greedy = extract_answer(samples[i * per_problem][0].text);
    const bool greedy_right = greedy && *greedy == truth;
    if (greedy_right) ++r.greedy_correct;
    if (max_votes == 0) continue;
    std::vector<std::optional<int64_t>> answers;
    for (const SampledCompletion& c : samples[i * per_problem + 1])
      answers.push_back(extract_answer(c.text));
    const auto right_samples = std::count_if(answers.begin(), answers.end(),
                                             [&](const auto& a) { return a && *a == truth; });
    r.sample_correct += right_samples;
    const double sample_share = static_cast<double>(right_samples) / max_votes;
    for (size_t k = 0; k < o.votes.size(); ++k) {
      const auto first = std::span(answers).first(static_cast<size_t>(o.votes[k]));
      const VoteResult v = majority_vote(first);
      const bool vote_right = v.answer && *v.answer == truth;
      if (vote_right) ++r.vote_correct[k];
      if (vote_right && !greedy_right) ++r.vote_only[k];
      if (greedy_right && !vote_right) ++r.greedy_only[k];
      const double d = (vote_right ? 1.0 : 0.0) - sample_share;
      r.over_samples_sum[k] += d;
      r.over_samples_sq[k] += d * d;
      if (std::any_of(first.begin(), first.end(), [&](const auto& a) { return a && *a == truth; }))
        ++r.any_correct[k];
    }
  }
  return r;
}

// ---- GRPO ---------------------------------------------------------------------------------------

std::vector<float> completion_logprobs(const ParamSet& params, const Rollout& r,
                                       Activations& acts) {
  forward(params, r.tokens, acts);
  const int64_t V = params.dims().n_vocab;
  const int64_t T = static_cast<int64_t>(r.tokens.size());
  std::vector<float> lp;
  lp.reserve(static_cast<size_t>(T - r.completion_start));
  for (int64_t t = r.completion_start - 1; t < T - 1; ++t) {
    const float* row = acts.logits.data() + t * V;
    const float mx = *std::max_element(row, row + V);
    double sum = 0.0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - mx));
    // forward_backward's expression, so that its log-probabilities equal these bit for bit.
    const double lse = mx + std::log(sum);
    lp.push_back(static_cast<float>(-(lse - row[r.tokens[static_cast<size_t>(t + 1)]])));
  }
  return lp;
}

int rollout_weights(const Rollout& r, std::span<const float> logp, std::span<const float> logp_old,
                    std::span<const float> logp_ref, float clip, float kl_coef, double n_tokens,
                    std::vector<float>& weights) {
  const size_t T = r.tokens.size();
  const size_t start =
      static_cast<size_t>(r.completion_start) - 1;  // weight of 1st completion token
  weights.assign(T - 1, 0.0f);
  int clipped = 0;
  for (size_t k = 0; k + start < T - 1; ++k) {
    double g = clipped_surrogate_grad(logp[k], logp_old[k], r.advantage, clip);
    if (g == 0.0 && r.advantage != 0.0f) ++clipped;
    if (kl_coef > 0.0f) g -= kl_coef * kl_k3_grad(logp[k], logp_ref[k]);
    // loss = Σ w·(−log p) ⇒ ∂loss/∂log p = −w; we want ∂loss/∂log p = −(∂J/∂log p)/n_tokens.
    weights[start + k] = static_cast<float>(g / n_tokens);
  }
  return clipped;
}

GrpoTrainer::GrpoTrainer(ParamSet params, const Tokenizer& tok, const GrpoConfig& config)
    : params_(std::move(params)),
      ref_(params_),
      tok_(tok),
      config_(config),
      opt_(params_),
      ws_(params_.dims(), config.threads),
      grads_(params_.dims()),
      acts_(static_cast<size_t>(std::max(1, config.threads))) {
  if (config_.group < 1 || config_.group > 16 || config_.prompts_per_step < 1 ||
      config_.inner_iters < 1 || config_.max_new < 1) {
    throw Error::field(
        "grpo", "--group/--prompts-per-step/--inner-iters/--max-new",
        "group 1..16, the others at least 1",
        std::to_string(config_.group) + "/" + std::to_string(config_.prompts_per_step) + "/" +
            std::to_string(config_.inner_iters) + "/" + std::to_string(config_.max_new));
  }
  policy_path_ = (std::filesystem::temp_directory_path() /
                  ("latent-grpo-policy-" + std::to_string(::getpid()) + ".gguf"))
                     .string();
  // The think markers are single tokens of the task vocabulary; looked up rather than assumed.
  const auto open = tok_.encode(std::string(kThinkOpen), false, true);
  const auto close = tok_.encode(std::string(kThinkClose), false, true);
  if (open.size() == 1) think_open_ = open[0];
  if (close.size() == 1) think_close_ = close[0];
}

GrpoStepStats GrpoTrainer::step() {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const int64_t step_index = steps_done_;
  // Problems of the train split, a pure function of (seed, step) as SFT batches are, but drawn
  // from a different stream than `latent train`'s batches of the same seed.
  ArithGenerator gen(mix(config_.seed ^ 0x6772706f00000000ull) ^ static_cast<uint64_t>(step_index),
                     Split::kTrain, ArithOptions{config_.max_digits});
  std::vector<ArithProblem> problems;
  std::vector<CompletionRequest> reqs;
  for (int32_t i = 0; i < config_.prompts_per_step; ++i) {
    problems.push_back(gen.next());
    CompletionRequest req;
    req.prompt = prompt_tokens(tok_, problems.back());
    req.n = config_.group;
    req.max_tokens = config_.max_new;
    req.sampling = policy_sampling(
        config_.temperature, mix(config_.seed) ^ mix(static_cast<uint64_t>(step_index) * 4096 + i));
    reqs.push_back(std::move(req));
  }
  // The engine runs a latent Model; the current parameters reach it as a GGUF file (a few MB,
  // milliseconds to write), which also exercises exactly the path a user's checkpoint takes.
  std::vector<std::vector<SampledCompletion>> groups;
  {
    write_model_gguf(policy_path_, params_);
    auto model = Model::load(policy_path_);
    groups = sample_all(*model, tok_, reqs, engine_config(*model, config_.max_running));
  }
  std::filesystem::remove(policy_path_);
  const auto t1 = Clock::now();

  GrpoStepStats s;
  std::vector<Rollout> rollouts;
  int n_samples = 0, zero_groups = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::vector<double> rewards;
    for (const SampledCompletion& c : groups[i]) {
      const Reward rw = score_completion(c.text, problems[i].answer, config_.format_weight);
      rewards.push_back(rw.value);
      s.mean_reward += rw.value;
      s.accuracy += rw.correct;
      s.format_rate += rw.formatted;
      s.mean_length += static_cast<double>(c.tokens.size());
      // Reasoning length: tokens strictly between <think> and </think> (or the end if unclosed).
      const auto open = std::find(c.tokens.begin(), c.tokens.end(), think_open_);
      if (open != c.tokens.end())
        s.mean_reasoning += std::find(open + 1, c.tokens.end(), think_close_) - (open + 1);
      ++n_samples;
    }
    const std::vector<float> adv = group_advantages(rewards);
    if (std::all_of(adv.begin(), adv.end(), [](float a) { return a == 0.0f; })) ++zero_groups;
    for (size_t j = 0; j < groups[i].size(); ++j) {
      const SampledCompletion& c = groups[i][j];
      Rollout r;
      r.tokens = reqs[i].prompt;
      r.completion_start = static_cast<int32_t>(r.tokens.size());
      r.tokens.insert(r.tokens.end(), c.tokens.begin(), c.tokens.end());
      // The policy chose to stop: train that choice too (the engine leaves the end token out).
      if (c.finish == FinishReason::kStop) r.tokens.push_back(tok_.eos());
      // A sample cut at the context has its last token never run through the training forward
      // beyond n_ctx: keep the sequence within the model's context.
      if (static_cast<int32_t>(r.tokens.size()) > params_.dims().n_ctx)
        r.tokens.resize(static_cast<size_t>(params_.dims().n_ctx));
      if (static_cast<int32_t>(r.tokens.size()) <= r.completion_start) continue;
      r.advantage = adv[j];
      rollouts.push_back(std::move(r));
    }
  }
  const double n = std::max(1, n_samples);
  s.mean_reward /= n, s.accuracy /= n, s.format_rate /= n, s.mean_length /= n;
  s.mean_reasoning /= n;
  s.zero_adv_groups = static_cast<double>(zero_groups) / std::max<size_t>(1, groups.size());

  const GrpoStepStats u = update(rollouts);
  s.kl = u.kl, s.clip_fraction = u.clip_fraction, s.grad_norm = u.grad_norm;
  s.step = ++steps_done_;
  s.rollout_s = std::chrono::duration<double>(t1 - t0).count();
  s.update_s = std::chrono::duration<double>(Clock::now() - t1).count();
  return s;
}

GrpoStepStats GrpoTrainer::update(std::span<const Rollout> rollouts) {
  GrpoStepStats s;
  const int64_t n = static_cast<int64_t>(rollouts.size());
  double n_tokens = 0.0;
  for (const Rollout& r : rollouts)
    n_tokens += static_cast<double>(r.tokens.size() - static_cast<size_t>(r.completion_start));
  if (n == 0 || n_tokens == 0.0) return s;
  const bool kl = config_.kl_coef > 0.0f;
  // Rollouts that no term can move (zero advantage, no KL) are left out of the forward/backward.
  std::vector<int64_t> active;
  for (int64_t i = 0; i < n; ++i)
    if (kl || rollouts[static_cast<size_t>(i)].advantage != 0.0f) active.push_back(i);
  // One pass without the KL penalty needs no log-probabilities for its weights: at θ_old the ratio
  // is exactly 1, so every completion token weighs A/N_tokens. π_old then comes out of the
  // training pass itself and π_ref is taken only for the logged KL, over the trained rollouts;
  // otherwise both are taken first, for every rollout. Saved: the π_old forward of every rollout
  // and the π_ref forward of every rollout left out.
  const bool fast = !kl && config_.inner_iters == 1;
  // π_old: the sampling policy's log-probs, recomputed by the training forward at θ_old; π_ref:
  // the starting model's, for the KL term and its log.
  std::vector<std::vector<float>> old(static_cast<size_t>(n)), ref(static_cast<size_t>(n));
  if (fast) {
    parallel_over(static_cast<int64_t>(active.size()), acts_, [&](int64_t k, Activations& a) {
      const size_t i = static_cast<size_t>(active[static_cast<size_t>(k)]);
      ref[i] = completion_logprobs(ref_, rollouts[i], a);
      old[i].assign(ref[i].size(), 0.0f);  // stands for log π = log π_old: ratio 1
    });
  } else {
    parallel_over(n, acts_, [&](int64_t i, Activations& a) {
      old[static_cast<size_t>(i)] =
          completion_logprobs(params_, rollouts[static_cast<size_t>(i)], a);
      ref[static_cast<size_t>(i)] = completion_logprobs(ref_, rollouts[static_cast<size_t>(i)], a);
    });
    double kl_sum = 0.0;
    for (size_t i = 0; i < old.size(); ++i)
      for (size_t k = 0; k < old[i].size(); ++k) kl_sum += kl_k3(old[i][k], ref[i][k]);
    s.kl = kl_sum / n_tokens;
  }
  if (active.empty()) return s;

  std::vector<std::vector<float>> cur(static_cast<size_t>(n));
  int64_t clipped = 0, counted = 0;
  for (int32_t it = 0; it < config_.inner_iters; ++it) {
    // The first iteration runs at θ_old (ratio 1); later ones need log π at the updated θ.
    if (it > 0) {
      parallel_over(static_cast<int64_t>(active.size()), acts_, [&](int64_t k, Activations& a) {
        const size_t i = static_cast<size_t>(active[static_cast<size_t>(k)]);
        cur[i] = completion_logprobs(params_, rollouts[i], a);
      });
    }
    std::vector<Sequence> batch;
    for (int64_t i : active) {
      const size_t u = static_cast<size_t>(i);
      Sequence seq;
      seq.tokens = rollouts[u].tokens;
      const std::vector<float>& lp = it > 0 ? cur[u] : old[u];
      clipped += rollout_weights(rollouts[u], lp, old[u], ref[u], config_.clip, config_.kl_coef,
                                 n_tokens, seq.weights);
      counted += static_cast<int64_t>(lp.size());
      batch.push_back(std::move(seq));
    }
    std::vector<std::vector<float>> trained_logprobs;
    const StepResult r = train_step(params_, opt_, config_.optim, ws_, grads_, batch,
                                    fast ? &trained_logprobs : nullptr);
    s.grad_norm = r.grad_norm;
    if (fast) {
      double kl_sum = 0.0, kl_tokens = 0.0;
      for (size_t k = 0; k < active.size(); ++k) {
        const Rollout& ro = rollouts[static_cast<size_t>(active[k])];
        const std::vector<float>& rf = ref[static_cast<size_t>(active[k])];
        const size_t start = static_cast<size_t>(ro.completion_start) - 1;
        for (size_t j = 0; j < rf.size(); ++j)
          kl_sum += kl_k3(trained_logprobs[k][start + j], rf[j]);
        kl_tokens += static_cast<double>(rf.size());
      }
      s.kl = kl_tokens > 0.0 ? kl_sum / kl_tokens : 0.0;
    }
  }
  s.clip_fraction = counted ? static_cast<double>(clipped) / static_cast<double>(counted) : 0.0;
  return s;
}

}  // namespace latent::train
