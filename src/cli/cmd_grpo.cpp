// `latent grpo`: reinforcement learning from verifiable rewards (GRPO) on the arithmetic task,
// starting from a `latent train` checkpoint: per step, G sampled completions per training prompt
// through latent's engine, rewards from the answer checker, group-normalised advantages and a
// clipped policy-gradient update (train/grpo.h). --eval-only measures a model instead: held-out
// accuracy greedy and with majority vote over N samples.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/arith_vocab.h"
#include "train/checkpoint.h"
#include "train/grpo.h"

namespace latent::cli {
namespace {

struct GrpoArgs {
  std::string init, out;
  train::GrpoConfig config;
  int64_t steps = 100;
  float lr = 2e-5f;
  int64_t warmup = 5;
  int64_t seed = 1;
  int threads = 0;
  int64_t save_every = 0;
  bool eval_only = false;
  int eval = 200;  // held-out problems at the end (0: none)
  std::string eval_votes = "1,4,16";
  int64_t eval_seed = 1;
  float eval_temp = 1.0f;
  int eval_top_k = 0;
  float eval_top_p = 1.0f;
  float eval_min_p = 0.0f;
  int eval_tokens = 200;
};

std::vector<int> parse_votes(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      v.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw Error::field("latent grpo", "--eval-votes", "comma-separated sample counts", s);
    }
  }
  return v;
}

// Held-out accuracy of the model in `path`, loaded like any GGUF, greedy and by majority vote.
void evaluate(const GrpoArgs& a, const std::string& path, const char* label) {
  auto model = Model::load(path);
  const auto tok = Tokenizer::from_gguf(model->file());
  train::VoteEvalOptions o;
  o.n_problems = a.eval;
  o.seed = static_cast<uint64_t>(a.eval_seed);
  o.max_digits = a.config.max_digits;
  o.max_tokens = a.eval_tokens;
  o.votes = parse_votes(a.eval_votes);
  o.temperature = a.eval_temp;
  o.top_k = a.eval_top_k;
  o.top_p = a.eval_top_p;
  o.min_p = a.eval_min_p;
  o.sample_seed = static_cast<uint64_t>(a.eval_seed);
  const train::VoteEvalResult r = train::evaluate_majority(*model, *tok, o);
  std::printf("%s: held-out accuracy on %d problems (seed %lld): greedy %.1f%%", label, r.n,
              static_cast<long long>(a.eval_seed), 100.0 * r.greedy_accuracy());
  for (size_t i = 0; i < o.votes.size(); ++i) {
    std::printf(" | maj@%d %.1f%% (pass@%d %.1f%%)", o.votes[i], 100.0 * r.vote_accuracy(i),
                o.votes[i], 100.0 * r.any_correct[i] / std::max(1, r.n));
  }
  std::printf(" | pass@1 %.1f%% (mean of %d samples)", 100.0 * r.sample_accuracy(), r.samples);
  std::printf("  [samples at T=%.2f, top-k %d, top-p %.2f, min-p %.2f]\n", a.eval_temp,
              a.eval_top_k, a.eval_top_p, a.eval_min_p);
  for (size_t i = 0; i < o.votes.size(); ++i) {
    std::printf("  maj@%d - greedy, paired on the same problems: +%d -%d = %+.1f ± %.1f points\n",
                o.votes[i], r.vote_only[i], r.greedy_only[i],
                100.0 * (r.vote_only[i] - r.greedy_only[i]) / std::max(1, r.n),
                100.0 * r.paired_se(i));
  }
  for (size_t i = 0; i < o.votes.size(); ++i) {
    std::printf("  maj@%d - pass@1, paired on the same problems: %+.1f ± %.1f points\n", o.votes[i],
                100.0 * r.vote_over_samples(i), 100.0 * r.vote_over_samples_se(i));
  }
  std::fflush(stdout);
}

int run(GrpoArgs a) {
  kernels::set_num_threads(a.threads);
  // The policy's forward/backward passes split sequences over threads; the engine's matmuls use
  // kernels' OpenMP threads; both get the same count.
  a.config.threads = kernels::num_threads();
  if (a.eval_only) {
    if (a.eval <= 0) throw Error::field("latent grpo", "--eval", "at least 1 problem", "0");
    evaluate(a, a.init, a.init.c_str());
    return 0;
  }
  if (a.out.empty()) throw Error::field("latent grpo", "--out", "a model path to write", "none");
  if (a.steps <= 0)
    throw Error::field("latent grpo", "--steps", "positive", std::to_string(a.steps));
  train::ParamSet params = train::read_model_gguf(a.init);
  const VocabData vocab = train::arith_vocab();
  const auto tok = Tokenizer::from_vocab(vocab);
  if (params.dims().n_vocab != tok->n_vocab()) {
    throw Error::field(a.init, "vocabulary size", std::to_string(tok->n_vocab()) + " (the task's)",
                       std::to_string(params.dims().n_vocab));
  }
  train::GrpoConfig& c = a.config;
  c.seed = static_cast<uint64_t>(a.seed);
  c.optim.lr = a.lr;
  c.optim.warmup = a.warmup;
  c.optim.total_steps = a.steps * c.inner_iters;
  c.optim.min_lr_ratio = 1.0f;  // constant after warm-up: RL steps are few and each one counts
  c.optim.weight_decay = 0.0f;  // decay would pull the SFT weights towards zero, not the task
  std::fprintf(stderr,
               "grpo: %lld steps x %d prompts x %d samples | max-new %d | T %.2f | lr %.1e | clip "
               "%.2f | kl %.3f | mu %d | %d threads\n",
               static_cast<long long>(a.steps), c.prompts_per_step, c.group, c.max_new,
               c.temperature, a.lr, c.clip, c.kl_coef, c.inner_iters, c.threads);
  train::GrpoTrainer trainer(std::move(params), *tok, c);
  trainer.set_policy_path(a.out + ".policy.tmp");
  double total_s = 0.0;
  for (int64_t s = 0; s < a.steps; ++s) {
    const train::GrpoStepStats st = trainer.step();
    total_s += st.rollout_s + st.update_s;
    std::printf(
        "step %4lld  reward %.3f  acc %.3f  format %.2f  len %.1f  think %.1f  kl %.5f  clip "
        "%.3f  flat-groups %.2f  |g| %.3f  (%.1fs rollout, %.1fs update)\n",
        static_cast<long long>(st.step), st.mean_reward, st.accuracy, st.format_rate,
        st.mean_length, st.mean_reasoning, st.kl, st.clip_fraction, st.zero_adv_groups,
        st.grad_norm, st.rollout_s, st.update_s);
    std::fflush(stdout);
    if (a.save_every > 0 && st.step % a.save_every == 0 && s + 1 < a.steps)
      train::write_model_gguf(a.out, trainer.params());
  }
  train::write_model_gguf(a.out, trainer.params());
  std::printf("wrote %s after %lld steps in %.1f s\n", a.out.c_str(),
              static_cast<long long>(a.steps), total_s);
  if (a.eval > 0) {
    evaluate(a, a.init, "before (init)");
    evaluate(a, a.out, "after GRPO   ");
  }
  return 0;
}

}  // namespace

Command add_grpo(CLI::App& app) {
  auto a = std::make_shared<GrpoArgs>();
  CLI::App* sub = app.add_subcommand(
      "grpo", "RL-tune a `latent train` model with GRPO on verifiable arithmetic rewards");
  sub->add_option("--init", a->init, "starting model (a `latent train` GGUF)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("-o,--out", a->out, "model GGUF to write");
  sub->add_option("--steps", a->steps, "GRPO steps")->capture_default_str();
  sub->add_option("--prompts-per-step", a->config.prompts_per_step, "training prompts per step")
      ->capture_default_str();
  sub->add_option("--group", a->config.group, "G: samples per prompt (1-16)")
      ->capture_default_str();
  sub->add_option("--max-new", a->config.max_new, "generated tokens per sample at most")
      ->capture_default_str();
  sub->add_option("--temp", a->config.temperature, "rollout sampling temperature")
      ->capture_default_str();
  sub->add_option("--lr", a->lr, "learning rate (constant after warm-up)")->capture_default_str();
  sub->add_option("--warmup", a->warmup, "linear warm-up steps")->capture_default_str();
  sub->add_option("--clip", a->config.clip, "PPO clip range epsilon")->capture_default_str();
  sub->add_option("--kl-coef", a->config.kl_coef, "k3 KL penalty against --init (0: none)")
      ->capture_default_str();
  sub->add_option("--inner-iters", a->config.inner_iters,
                  "mu: updates per batch of rollouts (the clip matters from the second)")
      ->capture_default_str();
  sub->add_option("--format-reward", a->config.format_weight,
                  "reward for a well-formed <think>...</think> answer")
      ->capture_default_str();
  sub->add_option("--max-digits", a->config.max_digits, "operand digits at most (as trained)")
      ->capture_default_str();
  sub->add_option("--seed", a->seed, "problem and sampling seed")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")->capture_default_str();
  sub->add_option("--save-every", a->save_every, "write --out every N steps (0: only at the end)")
      ->capture_default_str();
  sub->add_flag("--eval-only", a->eval_only, "only evaluate --init (no training)");
  sub->add_option("--eval", a->eval, "held-out problems evaluated at the end (0: none)")
      ->capture_default_str();
  sub->add_option("--eval-votes", a->eval_votes, "majority-vote sample counts, each 1-16")
      ->capture_default_str();
  sub->add_option("--eval-seed", a->eval_seed, "which held-out problems and sampling seed")
      ->capture_default_str();
  sub->add_option("--eval-temp", a->eval_temp, "temperature of the voting samples")
      ->capture_default_str();
  sub->add_option("--eval-top-k", a->eval_top_k, "top-k of the voting samples (0: off)")
      ->capture_default_str();
  sub->add_option("--eval-top-p", a->eval_top_p, "top-p of the voting samples (1: off)")
      ->capture_default_str();
  sub->add_option("--eval-min-p", a->eval_min_p, "min-p of the voting samples (0: off)")
      ->capture_default_str();
  sub->add_option("--eval-tokens", a->eval_tokens, "tokens generated per problem at most")
      ->capture_default_str();
  return [a] { return run(*a); };
}

}  // namespace latent::cli
