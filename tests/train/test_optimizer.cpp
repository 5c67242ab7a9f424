// AdamW against hand-computed values, the learning-rate schedule, and gradient clipping.
#include <gtest/gtest.h>

#include "train/optimizer.h"
#include "train_test_util.h"

namespace latent::train {
namespace {

TEST(AdamW, TwoStepsMatchHandComputedValues) {
  ParamSet p(test::grad_dims(true)), g(p.dims());
  const int64_t matrix = p.layer(0).wq, norm = p.layer(0).attn_norm;
  p.data()[matrix] = 0.5f;
  p.data()[norm] = 0.5f;
  OptimConfig c;
  c.weight_decay = 0.1f;
  AdamW opt(p);
  // Step 1, g = 0.2: m = 0.02, v = 0.002, m̂ = 0.2, v̂ = 0.04, step = lr·0.2/(0.2 + 1e-8);
  // the matrix is first decayed by (1 − lr·wd) = 0.999: 0.4995 − 0.00999999995.
  g.data()[matrix] = 0.2f;
  g.data()[norm] = 0.2f;
  opt.update(p, g, c, 0.01f);
  EXPECT_NEAR(p.data()[matrix], 0.4895000005, 1e-7);
  EXPECT_NEAR(p.data()[norm], 0.4900000005, 1e-7);  // norm gains are not decayed
  // Step 2, g = −0.1: m = 0.008, v = 0.0024, m̂ = 0.008/0.19, v̂ = 0.0024/0.0975.
  g.data()[matrix] = -0.1f;
  g.data()[norm] = -0.1f;
  opt.update(p, g, c, 0.01f);
  EXPECT_NEAR(p.data()[matrix], 0.48632680619, 1e-7);
  EXPECT_NEAR(p.data()[norm], 0.48731630619, 1e-7);
  EXPECT_EQ(opt.step(), 2);
  // A parameter with zero gradient only decays.
  EXPECT_EQ(p.data()[matrix + 1], 0.0f);
}

TEST(Schedule, WarmupThenCosine) {
  OptimConfig c;
  c.lr = 1e-3f, c.warmup = 10, c.total_steps = 110, c.min_lr_ratio = 0.1f;
  EXPECT_FLOAT_EQ(learning_rate(c, 0), 1e-4f);
  EXPECT_FLOAT_EQ(learning_rate(c, 4), 5e-4f);
  EXPECT_FLOAT_EQ(learning_rate(c, 9), 1e-3f);
  EXPECT_FLOAT_EQ(learning_rate(c, 10), 1e-3f);
  EXPECT_FLOAT_EQ(learning_rate(c, 60), 5.5e-4f);  // halfway: min + (lr − min)/2
  EXPECT_FLOAT_EQ(learning_rate(c, 110), 1e-4f);
  EXPECT_FLOAT_EQ(learning_rate(c, 500), 1e-4f);
  for (int64_t s = 11; s < 110; ++s) EXPECT_LT(learning_rate(c, s), learning_rate(c, s - 1));
  c.warmup = 0;
  EXPECT_FLOAT_EQ(learning_rate(c, 0), 1e-3f);
}

TEST(Clip, ScalesToTheGlobalNorm) {
  ParamSet g(test::grad_dims(true));
  g.data()[0] = 3.0f;
  g.data()[g.n_params() - 1] = 4.0f;
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 10.0f), 5.0);  // under the limit: untouched
  EXPECT_EQ(g.data()[0], 3.0f);
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 1.0f), 5.0);
  EXPECT_NEAR(g.data()[0], 0.6f, 1e-6);
  EXPECT_NEAR(g.data()[g.n_params() - 1], 0.8f, 1e-6);
  EXPECT_NEAR(clip_grad_norm(g, 0.0f), 1.0, 1e-6);  // 0: measure only
}

}  // namespace
}  // namespace latent::train
