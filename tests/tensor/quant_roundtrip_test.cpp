// Round trips quantize -> dequantize on random and edge-case rows, with error bounds argued from
// each format (comments at each bound). Legacy formats get a per-element analytic bound; K-quants
// get the exact property of their last step (each element lands on the nearest point of its group's
// grid as stored) plus an RMS error budget on gaussian data from the level spacing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "quant_test_util.h"
#include "tensor/quant_blocks.h"

namespace latent {
namespace {

constexpr float kEps = 0x1p-23f;  // f32 relative rounding slack

struct Case {
  std::string name;
  std::vector<float> x;
};

std::vector<Case> cases(int64_t n) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto gauss = [&](float scale) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& f : v) f = scale * normal(rng);
    return v;
  };
  std::vector<Case> c;
  c.push_back({"gaussian", gauss(1.0f)});
  c.push_back({"gaussian_large", gauss(300.0f)});
  c.push_back({"zeros", std::vector<float>(static_cast<size_t>(n), 0.0f)});
  c.push_back({"constant_0.75", std::vector<float>(static_cast<size_t>(n), 0.75f)});
  c.push_back({"constant_third", std::vector<float>(static_cast<size_t>(n), -1.0f / 3.0f)});
  Case outlier{"outlier", gauss(1.0f)};
  for (int64_t i = 7; i < n; i += 300) outlier.x[static_cast<size_t>(i)] = 1e4f;  // one per block
  c.push_back(outlier);
  c.push_back({"tiny", gauss(1e-6f)});
  Case mixed{"mixed_magnitudes", gauss(1.0f)};
  for (size_t i = 0; i < mixed.x.size(); ++i)
    mixed.x[i] *= std::ldexp(1.0f, static_cast<int>(i / 16 % 20) - 10);
  c.push_back(mixed);
  return c;
}

// |d - fp16(d)| for a correctly rounded fp16: half an ulp, 2^-11 |d| when normal, 2^-25 when
// subnormal.
float fp16_rounding_bound(float d) {
  return std::max(std::ldexp(std::fabs(d), -11), 0x1p-25f);
}

// Per-element error bound for the legacy formats, from the block's own input values and stored
// scales. Symmetric (Q4_0, Q5_0, Q8_0) with k = levels below zero (8, 16, 127-ish):
//   d = max / -k (Q8_0: amax / 127); elements are rounded to the nearest multiple of d, error <=
//   |d|/2, except Q4_0/Q5_0's top level: x/d in [k - 0.5, k] would be level k, clamped to k - 1
//   (error <= |d|). Storing d as fp16 dh moves each value by |q| |d - dh| <= k |d - dh|.
// Asymmetric (Q4_1, Q5_1) with L = 15, 31: d = (max - min) / L, m = min; error <= d/2 + L |d - dh|
//   + |min - mh| (both fp16 roundings).
// Plus f32 slack for the products and sums: 8 eps (|x| + amax).
float legacy_bound(DType type, const float* xb, const uint8_t* blk, int j) {
  float amax = 0, max = 0, mn = xb[0], mx = xb[0];
  for (int i = 0; i < kQK; ++i) {
    if (std::fabs(xb[i]) > amax) {
      amax = std::fabs(xb[i]);
      max = xb[i];
    }
    mn = std::min(mn, xb[i]);
    mx = std::max(mx, xb[i]);
  }
  uint16_t h[2];
  std::memcpy(h, blk, sizeof h);
  const float dh = fp16_to_fp32(h[0]);
  const float slack = 8 * kEps * (std::fabs(xb[j]) + amax + std::fabs(mn));
  auto symmetric = [&](float d, float k, bool clamps) {
    EXPECT_LE(std::fabs(d - dh), fp16_rounding_bound(d));
    const bool top = clamps && xb[j] / d > k - 0.5f - 1e-4f;
    return std::fabs(d) * (top ? 1.0f : 0.5f) * (1 + 1e-5f) + k * std::fabs(d - dh) + slack;
  };
  auto asymmetric = [&](float levels) {
    const float d = (mx - mn) / levels, mh = fp16_to_fp32(h[1]);
    EXPECT_LE(std::fabs(d - dh), fp16_rounding_bound(d));
    EXPECT_LE(std::fabs(mn - mh), fp16_rounding_bound(mn));
    return d * 0.5f * (1 + 1e-5f) + levels * std::fabs(d - dh) + std::fabs(mn - mh) + slack;
  };
  switch (type) {
    case DType::Q8_0:
      return symmetric(amax / 127, 127, false);
    case DType::Q4_0:
      return symmetric(max / -8, 8, true);
    case DType::Q5_0:
      return symmetric(max / -16, 16, true);
    case DType::Q4_1:
      return asymmetric(15);
    case DType::Q5_1:
      return asymmetric(31);
    default:
      ADD_FAILURE();
      return 0;
  }
}

// The grid of representable values of element e's group in a K-quant block: v(l) = a * l - b for
// l in [lo, hi], a and b computed exactly as the dequantizer does.
struct Grid {
  float a, b;
  int lo, hi;
};

Grid k_grid(DType type, const uint8_t* raw, int e) {
  switch (type) {
    case DType::Q2_K: {
      const auto* blk = reinterpret_cast<const BlockQ2_K*>(raw);
      const uint8_t sc = blk->scales[e / 16];
      return {fp16_to_fp32(blk->d) * float(sc & 15), fp16_to_fp32(blk->dmin) * float(sc >> 4), 0,
              3};
    }
    case DType::Q3_K: {
      const auto* blk = reinterpret_cast<const BlockQ3_K*>(raw);
      return {fp16_to_fp32(blk->d) * float(q3k_scale(blk->scales, e / 16) - 32), 0.0f, -4, 3};
    }
    case DType::Q4_K:
    case DType::Q5_K: {
      // Q4_K and Q5_K share the leading d, dmin, scales[12] layout.
      const auto* blk = reinterpret_cast<const BlockQ4_K*>(raw);
      const ScaleMin sm = k4_scale_min(blk->scales, e / 32);
      return {fp16_to_fp32(blk->d) * float(sm.scale), fp16_to_fp32(blk->dmin) * float(sm.min), 0,
              type == DType::Q4_K ? 15 : 31};
    }
    case DType::Q6_K: {
      const auto* blk = reinterpret_cast<const BlockQ6_K*>(raw);
      return {fp16_to_fp32(blk->d) * float(blk->scales[e / 16]), 0.0f, -32, 31};
    }
    case DType::Q8_K:
      return {reinterpret_cast<const BlockQ8_K*>(raw)->d, 0.0f, -128, 127};
    default:
      ADD_FAILURE();
      return {};
  }
}

bool is_k_quant(DType t) {
  return traits(t).block_size == kQK_K;
}

class RoundTripTest : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTripTest, ErrorWithinFormatBound) {
  const DType type = GetParam();
  const DTypeTraits& t = traits(type);
  const int64_t n = 64 * kQK_K;
  for (const Case& c : cases(n)) {
    SCOPED_TRACE(c.name);
    const std::string bytes = test::quantize(type, c.x);
    const std::vector<float> y = test::dequantize(type, bytes, n);
    for (int64_t i = 0; i < n; ++i) {
      const float x = c.x[i], err = std::fabs(x - y[i]);
      ASSERT_TRUE(std::isfinite(y[i])) << i;
      if (c.name == "zeros") {
        ASSERT_EQ(y[i], 0.0f) << i;  // every format represents 0 exactly
      }
      const uint8_t* blk =
          reinterpret_cast<const uint8_t*>(bytes.data()) + i / t.block_size * t.type_size;
      const int j = static_cast<int>(i % t.block_size);
      float bound;
      if (type == DType::F16) {
        bound = fp16_rounding_bound(x);  // round to nearest: half an ulp (|x| < 65504 here)
      } else if (type == DType::BF16) {
        bound = std::ldexp(std::fabs(x), -8);  // 8 significant bits (no subnormal inputs here)
      } else if (!is_k_quant(type)) {
        bound = legacy_bound(type, c.x.data() + (i - j), blk, j);
      } else {
        // The quantizer's last step re-rounds every element against its group's stored scales:
        // l = clamp(nearest_int((x + b) / a)). So x^ is the grid point nearest to x, up to f32
        // rounding in that division (a level off only within ~eps (|x| + |b|) of a midpoint).
        const Grid g = k_grid(type, blk, j);
        float nearest = INFINITY;
        for (int l = g.lo; l <= g.hi; ++l)
          nearest = std::min(nearest, std::fabs(x - (g.a * float(l) - g.b)));
        bound = nearest +
                8 * kEps * (std::fabs(x) + std::fabs(g.b) + std::fabs(g.a) * float(g.hi - g.lo));
      }
      ASSERT_LE(err, bound) << dtype_name(type) << " element " << i << " x=" << x << " x^=" << y[i];
    }
  }
}

// RMS error on N(0, 1) rows relative to sigma, against a budget from the level spacing: uniform
// rounding with step D has RMS error D / sqrt(12). Expected block extremes of normal samples: max
// |x| of 16 / 32 / 256 values ~ 2.0 / 2.3 / 3.0 sigma, range (max - min) of 16 / 32 ~ 3.5 / 4.1
// sigma. The budget is that estimate times 1.25 (slack for fp16/6-bit scale rounding and Q4_0's
// clamped top level); K-quant searches trade extremes for the bulk and land below it.
TEST_P(RoundTripTest, GaussianRmsWithinBudget) {
  const DType type = GetParam();
  struct Budget {
    DType type;
    double step;  // D in units of sigma
  };
  const Budget budgets[] = {
      {DType::F16, 0x1p-10},    {DType::BF16, 0x1p-7},  // relative: one ulp of a mantissa near 1
      {DType::Q8_0, 2.3 / 127}, {DType::Q4_0, 2.3 / 8},   {DType::Q5_0, 2.3 / 16},
      {DType::Q4_1, 4.1 / 15},  {DType::Q5_1, 4.1 / 31},  {DType::Q2_K, 3.5 / 3},
      {DType::Q3_K, 2.0 / 4},   {DType::Q4_K, 4.1 / 15},  {DType::Q5_K, 4.1 / 31},
      {DType::Q6_K, 2.0 / 32},  {DType::Q8_K, 3.0 / 127},
  };
  const auto it = std::find_if(std::begin(budgets), std::end(budgets),
                               [&](const Budget& b) { return b.type == type; });
  ASSERT_NE(it, std::end(budgets));
  const std::vector<float> x = cases(64 * kQK_K)[0].x;
  const std::vector<float> y =
      test::dequantize(type, test::quantize(type, x), static_cast<int64_t>(x.size()));
  double se = 0, sx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    se += double(x[i] - y[i]) * double(x[i] - y[i]);
    sx += double(x[i]) * double(x[i]);
  }
  const double rel_rms = std::sqrt(se / sx);
  const double budget = 1.25 * it->step / std::sqrt(12.0);
  RecordProperty("rel_rms", std::to_string(rel_rms));
  EXPECT_LE(rel_rms, budget) << dtype_name(type) << " budget " << budget;
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RoundTripTest, ::testing::ValuesIn(test::quant_formats()),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace latent
