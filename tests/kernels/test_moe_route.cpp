// kernels::moe_route on hand-built cases (ties → lowest index, negative biased scores, group
// scores by max vs sum of top two, masked groups, weight normalisation and scale) and the YaRN
// rotation of kernels::rope against its formula.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/kernels.h"

namespace latent {
namespace {

using kernels::MoeGating;
using kernels::MoeGroupScore;
using kernels::MoeRouteParams;

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> w;
};

Routed route(const std::vector<float>& logits, const MoeRouteParams& p) {
  Routed r{std::vector<int32_t>(p.n_used), std::vector<float>(p.n_used)};
  kernels::moe_route(logits.data(), 1, p, r.ids.data(), r.w.data());
  return r;
}

TEST(MoeRoute, SoftmaxTiesGoToLowestIndex) {
  const std::vector<float> logits = {1, 3, 3, 0, 3};
  MoeRouteParams p;
  p.n_expert = 5, p.n_used = 2, p.scale = 16.0f;
  const Routed r = route(logits, p);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 2}));
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(r.w[0], 16.0 * std::exp(3.0) / z, 1e-5);  // V2: no renormalisation, scaled
  EXPECT_NEAR(r.w[1], r.w[0], 0);
}

TEST(MoeRoute, SigmoidBiasChoosesNegativeScoresWeightsStayUnbiased) {
  const std::vector<float> logits = {0, 0, 0, 0};  // p = 0.5 each
  const std::vector<float> bias = {-1.0f, -0.625f, -0.875f, -0.625f};
  MoeRouteParams p;
  p.n_expert = 4, p.n_used = 2, p.gating = MoeGating::kSigmoid, p.bias = bias.data();
  p.norm_weights = true, p.scale = 2.5f;
  const Routed r = route(logits, p);  // s = [-0.5, -0.125, -0.375, -0.125]
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
  EXPECT_FLOAT_EQ(r.w[0], 0.5f / 1.0f * 2.5f);
  EXPECT_FLOAT_EQ(r.w[1], 0.5f / 1.0f * 2.5f);
}

// 8 experts in 4 groups of 2, s = 0.5 + bias exactly: group 0 has the best single expert, groups 1
// and 2 tie on the sum of their top two.
struct Grouped {
  std::vector<float> logits = std::vector<float>(8, 0.0f);
  std::vector<float> bias = {0.625f, -1.0f, 0.25f, -0.25f, 0.0f, 0.0f, -0.375f, -0.375f};
  MoeRouteParams params(MoeGroupScore score, int64_t used_groups, int64_t k) const {
    MoeRouteParams p;
    p.n_expert = 8, p.n_used = k, p.n_group = 4, p.n_group_used = used_groups;
    p.gating = MoeGating::kSigmoid, p.group_score = score, p.bias = bias.data();
    return p;
  }
};

TEST(MoeRoute, GroupsRankedByMaxOrTopTwoSum) {
  const Grouped g;
  EXPECT_EQ(route(g.logits, g.params(MoeGroupScore::kMax, 1, 2)).ids, (std::vector<int32_t>{0, 1}));
  // top-2 sums: g0 0.625, g1 1.0, g2 1.0, g3 0.25: the tie goes to group 1
  EXPECT_EQ(route(g.logits, g.params(MoeGroupScore::kTop2Sum, 1, 2)).ids,
            (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(route(g.logits, g.params(MoeGroupScore::kTop2Sum, 2, 2)).ids,
            (std::vector<int32_t>{2, 4}));
  // every expert of the kept groups, none of the masked ones (−∞), ties by index
  EXPECT_EQ(route(g.logits, g.params(MoeGroupScore::kTop2Sum, 2, 4)).ids,
            (std::vector<int32_t>{2, 4, 5, 3}));
}

TEST(MoeRoute, TokensAreIndependent) {
  const Grouped g;
  std::vector<float> two = g.logits;
  two.insert(two.end(), {5, 0, -9, 0, 0, 0, 0, 8});  // groups 0 and 3 win
  const MoeRouteParams p = g.params(MoeGroupScore::kMax, 2, 2);
  std::vector<int32_t> ids(4);
  std::vector<float> w(4);
  kernels::moe_route(two.data(), 2, p, ids.data(), w.data());
  EXPECT_EQ(ids, (std::vector<int32_t>{0, 2, 0, 7}));
}

// YaRN: θ_i = θ_interp·(1 − r_i) + θ_extrap·r_i with the ramp r_i between yarn_low and yarn_high;
// cos/sin scaled by mscale.
TEST(RopeYarn, BlendsInterpolatedAndExtrapolatedAngles) {
  const int T = 2, H = 3, D = 12, n_rot = 8;
  std::vector<float> x(T * H * D);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) + 0.1f;
  auto y = x;
  const int32_t pos[T] = {3, 700};
  kernels::RopeParams p;
  p.n_rot = n_rot, p.freq_scale = 0.25f, p.ext_factor = 1.0f, p.yarn_low = 1, p.yarn_high = 3;
  p.mscale = 1.25f;
  kernels::rope(y.data(), T, H, D, pos, p);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < n_rot / 2; ++i) {
        const double extrap = pos[t] * std::pow(10000.0, -2.0 * i / n_rot);
        const double r = 1.0 - std::min(1.0, std::max(0.0, (i - 1.0) / 2.0));
        const double th = extrap * 0.25 * (1 - r) + extrap * r;
        const float* a = x.data() + (t * H + h) * D;
        const float* b = y.data() + (t * H + h) * D;
        const double c = 1.25 * std::cos(th), s = 1.25 * std::sin(th);
        EXPECT_NEAR(b[2 * i], a[2 * i] * c - a[2 * i + 1] * s, 1e-4) << t << " " << i;
        EXPECT_NEAR(b[2 * i + 1], a[2 * i] * s + a[2 * i + 1] * c, 1e-4) << t << " " << i;
      }
}

}  // namespace
}  // namespace latent
