// GRPO: advantage maths on hand-computed groups, the clipped surrogate's gradient, the k3 KL
// estimator, the reward's edge cases, and on a tiny model that one update moves the
// log-probabilities of the sampled completions in their advantage's direction.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "base/error.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/arith_vocab.h"
#include "train/checkpoint.h"
#include "train/grpo.h"
#include "train/trainer.h"

namespace latent::train {
namespace {

std::vector<float> adv(std::vector<double> r) {
  return group_advantages(r, 0.0);
}

TEST(GrpoAdvantages, HandComputedGroups) {
  // One right out of four: mean 0.25, sd sqrt(0.25·0.75) = 0.4330.
  const auto a = adv({1, 0, 0, 0});
  EXPECT_NEAR(a[0], 0.75 / std::sqrt(0.1875), 1e-5);                               // 1.7321
  for (int i = 1; i < 4; ++i) EXPECT_NEAR(a[i], -0.25 / std::sqrt(0.1875), 1e-5);  // −0.5774
  // Two values: ±1 whatever their gap.
  const auto b = adv({0.1, 1.1});
  EXPECT_NEAR(b[0], -1.0f, 1e-6);
  EXPECT_NEAR(b[1], 1.0f, 1e-6);
  // Rewards 0, 1, 2: mean 1, sd sqrt(2/3).
  const auto c = adv({0, 1, 2});
  EXPECT_NEAR(c[0], -std::sqrt(1.5), 1e-5);
  EXPECT_EQ(c[1], 0.0f);
  EXPECT_NEAR(c[2], std::sqrt(1.5), 1e-5);
  // Advantages of a group sum to zero.
  const auto d = adv({1.1, 0.1, 1.0, 0.0, 1.1});
  double sum = 0.0;
  for (float x : d) sum += x;
  EXPECT_NEAR(sum, 0.0, 1e-5);
}

TEST(GrpoAdvantages, AllEqualGroupsHaveExactlyZeroAdvantage) {
  for (double r : {0.0, 0.1, 1.0, 1.1}) {
    const std::vector<double> g(8, r);
    for (float x : group_advantages(g)) EXPECT_EQ(x, 0.0f) << r;
  }
  EXPECT_TRUE(group_advantages(std::vector<double>{}).empty());
  EXPECT_EQ(group_advantages(std::vector<double>{1.0})[0], 0.0f);  // a group of one
}

TEST(GrpoAdvantages, EpsKeepsTinySpreadsFinite) {
  const auto a = group_advantages(std::vector<double>{0.0, 1e-9}, 1e-4);
  EXPECT_TRUE(std::isfinite(a[0]) && std::isfinite(a[1]));
  EXPECT_LT(std::fabs(a[1]), 1e-4);  // sd ≪ eps: the gap is not blown up to ±1
}

TEST(GrpoClip, GradientInsideAndOutsideTheTrustRegion) {
  const float eps = 0.2f;
  auto g = [&](float ratio, float a) {
    return clipped_surrogate_grad(std::log(ratio), 0.0f, a, eps);
  };
  // Inside [1−ε, 1+ε]: ρ·A, with the advantage's sign.
  EXPECT_NEAR(g(1.0f, 2.0f), 2.0f, 1e-6);
  EXPECT_NEAR(g(1.1f, 1.0f), 1.1f, 1e-6);
  EXPECT_NEAR(g(0.9f, -1.0f), -0.9f, 1e-6);
  // Moved past the region in the advantage's direction: zero gradient.
  EXPECT_EQ(g(1.3f, 1.0f), 0.0f);
  EXPECT_EQ(g(0.7f, -1.0f), 0.0f);
  // Moved the wrong way: never clipped (the pessimistic min keeps the unclipped term).
  EXPECT_NEAR(g(0.7f, 1.0f), 0.7f, 1e-6);
  EXPECT_NEAR(g(1.3f, -1.0f), -1.3f, 1e-6);
  EXPECT_EQ(g(1.5f, 0.0f), 0.0f);
  // The gradient is the derivative of the surrogate: central differences in log-ratio space.
  for (float ratio : {0.5f, 0.85f, 1.0f, 1.15f, 1.5f}) {
    for (float a : {-1.5f, 0.7f}) {
      const float h = 1e-3f, lp = std::log(ratio);
      const double fd =
          (clipped_surrogate(lp + h, 0.0f, a, eps) - clipped_surrogate(lp - h, 0.0f, a, eps)) /
          (2.0 * h);
      EXPECT_NEAR(clipped_surrogate_grad(lp, 0.0f, a, eps), fd, 2e-3) << ratio << " " << a;
    }
  }
}

TEST(GrpoKl, K3Values) {
  EXPECT_EQ(kl_k3(-1.3f, -1.3f), 0.0);
  EXPECT_EQ(kl_k3_grad(-1.3f, -1.3f), 0.0);
  // log π = 0, log π_ref = log ½: e^d − d − 1 = 0.5 + ln 2 − 1.
  EXPECT_NEAR(kl_k3(0.0f, std::log(0.5f)), 0.5 + std::log(2.0) - 1.0, 1e-6);
  EXPECT_NEAR(kl_k3_grad(0.0f, std::log(0.5f)), 0.5, 1e-6);
  EXPECT_NEAR(kl_k3(std::log(0.5f), 0.0f), 2.0 - std::log(2.0) - 1.0, 1e-6);
  for (float d : {-3.0f, -0.1f, 0.1f, 3.0f}) EXPECT_GE(kl_k3(0.0f, d), 0.0);
  // Unbiased: E_{x~p}[k3] = Σ p·(q/p − log(q/p) − 1) = KL(p‖q) exactly.
  const double p[3] = {0.5, 0.3, 0.2}, q[3] = {0.2, 0.5, 0.3};
  double expect = 0.0, kl = 0.0;
  for (int i = 0; i < 3; ++i) {
    expect += p[i] * kl_k3(std::log(static_cast<float>(p[i])), std::log(static_cast<float>(q[i])));
    kl += p[i] * std::log(p[i] / q[i]);
  }
  EXPECT_NEAR(expect, kl, 1e-6);
}

TEST(GrpoReward, EdgeCases) {
  const double f = 0.1;
  auto value = [&](std::string_view c, int64_t ans) { return score_completion(c, ans, f).value; };
  EXPECT_NEAR(value("<think>1+2:1+2+0=3;3</think> 3", 3), 1.1, 1e-12);
  EXPECT_NEAR(value("<think>1+2:1+2+0=3;3</think> 4", 3), 0.1, 1e-12);  // formatted, wrong
  EXPECT_NEAR(value("<think>9-12:...</think> -3", -3), 1.1, 1e-12);     // negative answer
  EXPECT_NEAR(value("3", 3), 1.0, 1e-12);               // direct answer: right, no format
  EXPECT_NEAR(value("<think>1+2:1+2", 3), 0.0, 1e-12);  // never closed: no answer
  EXPECT_NEAR(value("", 3), 0.0, 1e-12);
  EXPECT_NEAR(value("<think>x</think> 3 and more", 3), 1.0, 1e-12);  // extra text: unformatted
  EXPECT_NEAR(value("<think>a</think> 5<think>b</think> 3", 3), 1.0, 1e-12);  // last block wins
  EXPECT_FALSE(well_formed("<think>x</think>3"));  // the space is part of the format
  EXPECT_FALSE(well_formed("<think>x</think> "));  // no number
  EXPECT_FALSE(well_formed("<think>x</think> -"));
  EXPECT_FALSE(well_formed(" <think>x</think> 3"));  // must open at the start
  EXPECT_FALSE(well_formed("<think><think>x</think> 3"));
  EXPECT_TRUE(well_formed("<think></think> 0"));
}

ModelDims tiny_dims() {
  ModelDims d = preset_dims("tiny", static_cast<int32_t>(arith_vocab().tokens.size()));
  d.n_ctx = 64;
  return d;
}

Rollout make_rollout(const Tokenizer& tok, const std::string& question,
                     const std::string& completion, float advantage) {
  Rollout r;
  r.tokens = tok.encode(question, true, true);
  r.completion_start = static_cast<int32_t>(r.tokens.size());
  for (int32_t t : tok.encode(completion, false, true)) r.tokens.push_back(t);
  r.tokens.push_back(tok.eos());
  r.advantage = advantage;
  return r;
}

TEST(GrpoWeights, OnlyCompletionTokensAndScaledByTheBatch) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  const Rollout r = make_rollout(*tok, "What is 1+2?", "<think>3</think> 3", 0.5f);
  const size_t n_c = r.tokens.size() - static_cast<size_t>(r.completion_start);
  const std::vector<float> lp(n_c, -1.0f);
  std::vector<float> w;
  EXPECT_EQ(rollout_weights(r, lp, lp, lp, 0.2f, 0.0f, 10.0, w), 0);
  ASSERT_EQ(w.size(), r.tokens.size() - 1);
  for (size_t t = 0; t < w.size(); ++t)
    EXPECT_FLOAT_EQ(w[t], t + 1 < static_cast<size_t>(r.completion_start) ? 0.0f : 0.05f) << t;
  // Every completion token pushed past 1+ε with A > 0 is clipped; the KL term still pulls back
  // towards the reference (π above π_ref ⇒ 1 − π_ref/π > 0 ⇒ negative weight).
  const std::vector<float> moved(n_c, -0.5f);
  EXPECT_EQ(rollout_weights(r, moved, lp, lp, 0.2f, 0.1f, 10.0, w), static_cast<int>(n_c));
  EXPECT_NEAR(w.back(), -0.1 * (1.0 - std::exp(-0.5)) / 10.0, 1e-7);
}

double sum(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += x;
  return s;
}

// A constant learning rate from the first update on (no warm-up, no decay of the rate).
GrpoConfig constant_lr_config(float lr, int64_t total_steps, int threads) {
  GrpoConfig c;
  c.optim.lr = lr;
  c.optim.warmup = 0;
  c.optim.total_steps = total_steps;
  c.optim.min_lr_ratio = 1.0f;
  c.threads = threads;
  return c;
}

TEST(GrpoUpdate, OneStepRaisesPositiveAndLowersNegativeAdvantageCompletions) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  ParamSet p(tiny_dims());
  p.init_random(3);
  GrpoConfig c = constant_lr_config(3e-3f, 10, 2);
  c.optim.weight_decay = 0.0f;
  GrpoTrainer trainer(p, *tok, c);
  // A group of three for one prompt: the right completion, two wrong ones; advantages from the
  // rewards 1.1, 0, 0. The wrong ones share no text with the right one: a shared token gets
  // the sum of both pulls, where the larger positive advantage wins.
  const std::vector<double> rewards = {1.1, 0.0, 0.0};
  const auto a = group_advantages(rewards);
  const std::vector<Rollout> rs = {
      make_rollout(*tok, "What is 4+5?", "<think>4+5:4+5+0=9;9</think> 9", a[0]),
      make_rollout(*tok, "What is 4+5?", "12", a[1]),
      make_rollout(*tok, "What is 4+5?", "7", a[2])};
  Activations acts;
  std::vector<double> before;
  for (const Rollout& r : rs) before.push_back(sum(completion_logprobs(trainer.params(), r, acts)));
  const GrpoStepStats s = trainer.update(rs);
  EXPECT_EQ(s.kl, 0.0);  // the policy is still the reference when the log-probs are taken
  EXPECT_EQ(s.clip_fraction, 0.0);  // one update: ratio 1
  for (size_t i = 0; i < rs.size(); ++i) {
    const double after = sum(completion_logprobs(trainer.params(), rs[i], acts));
    std::printf("advantage %+.3f: log p %.4f -> %.4f\n", rs[i].advantage, before[i], after);
    if (rs[i].advantage > 0) {
      EXPECT_GT(after, before[i] + 0.05) << i;
    } else {
      EXPECT_LT(after, before[i] - 0.05) << i;
    }
  }
  // With the KL now non-zero, the next update logs it.
  EXPECT_GT(trainer.update(rs).kl, 0.0);
}

// One pass without the KL penalty skips the log-probability forwards: its update must be exactly
// one training step whose weights are A/N_tokens on every completion token of the rollouts with an
// advantage (N_tokens counting all rollouts' completion tokens), and its logged KL the k3 of the
// trained rollouts against the start.
TEST(GrpoUpdate, OnePassWithoutKlIsOneStepOnAdvantageWeights) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  ParamSet p(tiny_dims());
  p.init_random(5);
  const GrpoConfig c = constant_lr_config(1e-2f, 10, 2);
  GrpoTrainer trainer(p, *tok, c);
  const std::vector<Rollout> rs = {
      make_rollout(*tok, "What is 3+4?", "<think>3+4:3+4+0=7;7</think> 7", 1.5f),
      make_rollout(*tok, "What is 3+4?", "8", 0.0f),  // no advantage: not trained
      make_rollout(*tok, "What is 3+4?", "<think>9</think> 9", -0.75f)};
  double n_tokens = 0.0;
  for (const Rollout& r : rs) n_tokens += static_cast<double>(r.tokens.size() - r.completion_start);
  std::vector<Sequence> batch;
  for (const Rollout& r : rs) {
    if (r.advantage == 0.0f) continue;
    Sequence seq{r.tokens, std::vector<float>(r.tokens.size() - 1, 0.0f)};
    for (size_t t = static_cast<size_t>(r.completion_start) - 1; t + 1 < r.tokens.size(); ++t)
      seq.weights[t] = static_cast<float>(r.advantage / n_tokens);
    batch.push_back(std::move(seq));
  }
  ParamSet expected = p;
  AdamW opt(expected);
  BatchWorkspace ws(expected.dims(), c.threads);
  ParamSet grads(expected.dims());
  train_step(expected, opt, c.optim, ws, grads, batch);

  EXPECT_EQ(trainer.update(rs).kl, 0.0);  // θ is still the start
  ASSERT_EQ(trainer.params().n_params(), expected.n_params());
  for (int64_t i = 0; i < expected.n_params(); ++i)
    ASSERT_EQ(trainer.params().data()[i], expected.data()[i]) << "parameter " << i;

  // The next update logs k3(θ₁ ‖ θ₀) over rollouts 0 and 2, as completion_logprobs gives them.
  Activations acts;
  double kl_sum = 0.0, kl_tokens = 0.0;
  for (size_t i : {size_t{0}, size_t{2}}) {
    const auto now = completion_logprobs(trainer.params(), rs[i], acts);
    const auto start = completion_logprobs(p, rs[i], acts);
    for (size_t k = 0; k < now.size(); ++k) kl_sum += kl_k3(now[k], start[k]);
    kl_tokens += static_cast<double>(now.size());
  }
  const double kl = trainer.update(rs).kl;
  EXPECT_GT(kl, 0.0);
  EXPECT_NEAR(kl, kl_sum / kl_tokens, 1e-12);
}

TEST(GrpoUpdate, InnerIterationsClipOnceTheRatioLeavesTheRegion) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  ParamSet p(tiny_dims());
  p.init_random(4);
  // A large rate on purpose: the ratio leaves [0.8, 1.2] within a few updates.
  GrpoConfig c = constant_lr_config(2e-2f, 100, 1);
  c.inner_iters = 4;
  GrpoTrainer trainer(p, *tok, c);
  const std::vector<Rollout> rs = {make_rollout(*tok, "What is 2*3?", "<think>6</think> 6", 1.0f),
                                   make_rollout(*tok, "What is 2*3?", "5", -1.0f)};
  const GrpoStepStats s = trainer.update(rs);
  EXPECT_GT(s.clip_fraction, 0.0);
  EXPECT_LE(s.clip_fraction, 0.75);  // the first of the four passes never clips
}

TEST(GrpoStep, RolloutsThroughTheEngineOnATinyModel) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  ParamSet p(tiny_dims());
  p.init_random(5);
  GrpoConfig c;
  c.prompts_per_step = 2;
  c.group = 4;
  c.max_new = 12;
  c.max_digits = 1;
  c.threads = 2;
  GrpoTrainer trainer(p, *tok, c);
  for (int i = 0; i < 2; ++i) {
    const GrpoStepStats s = trainer.step();
    EXPECT_EQ(s.step, i + 1);
    EXPECT_GT(s.mean_length, 0.0);
    EXPECT_LE(s.mean_length, 12.0);
    EXPECT_GE(s.mean_reward, 0.0);
    EXPECT_LE(s.mean_reward, 1.1);
    EXPECT_GE(s.kl, 0.0);
    EXPECT_TRUE(std::isfinite(s.grad_norm));
  }
}

TEST(GrpoEval, MajorityVoteCountsOnATinyModel) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  ParamSet p(tiny_dims());
  p.init_random(6);
  // Through a file, as the CLI does.
  const std::string path = ::testing::TempDir() + "grpo_eval_tiny.gguf";
  write_model_gguf(path, p);
  auto model = Model::load(path);
  VoteEvalOptions o;
  o.n_problems = 3;
  o.max_digits = 1;
  o.max_tokens = 8;
  o.votes = {1, 4};
  const VoteEvalResult r = evaluate_majority(*model, *tok, o);
  EXPECT_EQ(r.n, 3);
  ASSERT_EQ(r.vote_correct.size(), 2u);
  EXPECT_LE(r.vote_correct[0], r.any_correct[0]);
  EXPECT_LE(r.any_correct[0], r.any_correct[1]);  // pass@N grows with N over nested prefixes
  // Paired standard error on hand numbers: 100 problems, 10 won and 4 lost by voting:
  // var(d) = 0.14 − 0.06² = 0.1364, se = √(0.1364 / 100).
  VoteEvalResult hand;
  hand.n = 100;
  hand.vote_only = {10};
  hand.greedy_only = {4};
  EXPECT_NEAR(hand.paired_se(0), std::sqrt(0.1364 / 100), 1e-12);
  // The paired counts account exactly for the difference between voting and greedy.
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(r.vote_correct[k] - r.greedy_correct, r.vote_only[k] - r.greedy_only[k]);
    EXPECT_GE(r.paired_se(k), 0.0);
  }
  // maj@N − pass@1 (mean of the samples) sums per-problem differences exactly.
  EXPECT_EQ(r.samples, 4);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(r.over_samples_sum[k],
                r.vote_correct[k] - static_cast<double>(r.sample_correct) / r.samples, 1e-9);
  }
  // Its standard error on hand numbers: 4 problems with right-sample shares 1, 0.5, 0, 0.25 and
  // majorities right on the first two: d = 0, 0.5, 0, −0.25; mean 0.0625, E[d²] 0.078125.
  VoteEvalResult four;
  four.n = 4;
  four.samples = 4;
  four.sample_correct = 7;
  four.over_samples_sum = {0.25};
  four.over_samples_sq = {0.3125};
  EXPECT_DOUBLE_EQ(four.sample_accuracy(), 7.0 / 16);
  EXPECT_DOUBLE_EQ(four.vote_over_samples(0), 0.0625);
  EXPECT_NEAR(four.vote_over_samples_se(0), std::sqrt((0.078125 - 0.0625 * 0.0625) / 4), 1e-12);
  o.votes = {17};
  EXPECT_THROW(evaluate_majority(*model, *tok, o), Error);
}

}  // namespace
}  // namespace latent::train
