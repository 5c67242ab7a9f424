// End-to-end training on the task: the loss falls on a tiny model, and an interrupted run resumed
// from its checkpoint ends bit-identical to an uninterrupted one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/testdata.h"
#include "tokenizer/tokenizer.h"
#include "train/arith_vocab.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace latent::train {
namespace {

ModelDims tiny() {
  ModelDims d = preset_dims("tiny", static_cast<int32_t>(arith_vocab().tokens.size()));
  d.n_ctx = 128;
  return d;
}

TrainRecipe recipe(int64_t steps) {
  TrainRecipe r;
  r.optim.lr = 1e-2f;
  r.optim.warmup = 10;
  r.optim.total_steps = steps;
  r.batch = 8;
  r.seed = 7;
  r.max_digits = 1;
  r.mixed_order = false;  // single digits: learnable by a 22k-parameter model in 150 steps
  return r;
}

TEST(Training, LossFallsOnATinyModel) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  ParamSet p(tiny());
  p.init_random(7);
  AdamW opt(p);
  std::vector<double> losses;
  SftRunOptions o;
  o.out = latent::test::temp_path("loss.gguf");
  o.threads = 2;
  o.max_len = 128;
  o.on_step = [&](const SftProgress& s) { losses.push_back(s.last.loss); };
  run_sft(*tok, p, opt, recipe(150), o);
  ASSERT_EQ(losses.size(), 150u);
  EXPECT_NEAR(losses.front(), std::log(static_cast<double>(tok->n_vocab())), 0.3);
  double tail = 0.0;
  for (size_t i = losses.size() - 10; i < losses.size(); ++i) tail += losses[i] / 10.0;
  // From ln(101) ≈ 4.6 at the start to 0.95 (2 threads, gcc 12). The bound leaves room for other
  // thread counts and compilers.
  EXPECT_LT(tail, 1.3) << "mean loss of the last 10 steps";
  std::printf("mean loss of the last 10 steps: %.3f\n", tail);
}

TEST(Training, ResumeEqualsAnUninterruptedRun) {
  const auto tok = Tokenizer::from_vocab(arith_vocab());
  constexpr int64_t kN = 6;
  SftRunOptions o;
  o.threads = 2;
  o.max_len = 128;
  TrainRecipe r = recipe(2 * kN);
  r.mixed_operands = true;  // the data options travel in the checkpoint

  ParamSet whole(tiny());
  whole.init_random(3);
  AdamW whole_opt(whole);
  o.out = latent::test::temp_path("whole.gguf");
  run_sft(*tok, whole, whole_opt, r, o);

  ParamSet half(tiny());
  half.init_random(3);
  AdamW half_opt(half);
  o.out = latent::test::temp_path("resumed.gguf");
  o.stop_at = kN;  // "interrupted" after N steps: the checkpoint is all that survives
  run_sft(*tok, half, half_opt, r, o);
  Checkpoint ck = load_checkpoint(o.out);
  EXPECT_EQ(ck.opt.step(), kN);
  EXPECT_EQ(ck.recipe.optim.total_steps, 2 * kN);
  EXPECT_TRUE(ck.recipe.mixed_operands);
  o.stop_at = -1;
  run_sft(*tok, ck.params, ck.opt, ck.recipe, o);

  ASSERT_EQ(ck.params.n_params(), whole.n_params());
  EXPECT_EQ(0, std::memcmp(ck.params.data(), whole.data(), sizeof(float) * whole.n_params()));
  EXPECT_EQ(ck.opt.m(), whole_opt.m());
  EXPECT_EQ(ck.opt.v(), whole_opt.v());
  // ... and the files written at the end are the same model.
  const ParamSet a = read_model_gguf(o.out);
  EXPECT_EQ(0, std::memcmp(a.data(), whole.data(), sizeof(float) * whole.n_params()));
}

}  // namespace
}  // namespace latent::train
