// fp16 / bf16 conversions: exhaustive over all 65536 halves against the closed-form value, and a
// nearest-even property check of the f32 -> f16/bf16 direction on random and boundary inputs. (The
// ggml-produced special cases are in golden_test.cpp.)
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/quant.h"

namespace latent {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

TEST(Fp16Test, EveryHalfDecodesToItsValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (exp == 31 && mant != 0) {
      // NaN, quieted with the payload at the top of the f32 mantissa (as ggml's float multiply
      // does).
      ASSERT_EQ(bits(f), (sign ? 0xffc00000u : 0x7fc00000u) | static_cast<uint32_t>(mant) << 13)
          << h;
      continue;
    }
    // value = (-1)^s * (exp ? 1024 + mant : mant) * 2^(max(exp, 1) - 25); exp 31, mant 0 is inf.
    const double mag =
        exp == 31 ? INFINITY : std::ldexp(exp ? 1024 + mant : mant, std::max(exp, 1) - 25);
    ASSERT_EQ(bits(f), bits(static_cast<float>(sign ? -mag : mag))) << h;  // also tells -0 from +0
  }
}

TEST(Fp16Test, HalvesRoundTripExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const bool nan = ((h >> 10) & 31) == 31 && (h & 1023) != 0;
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
    ASSERT_EQ(back, nan ? ((h & 0x8000) | 0x7e00) : h) << h;
  }
}

// Checks that h = fp32_to_fp16(f) is the nearest half to f (ties to even mantissa), comparing in
// double against the two neighbours of the same sign; beyond the largest half the neighbour is 2^16
// (-> inf).
void expect_nearest_half(float f) {
  const uint16_t h = fp32_to_fp16(f);
  const double x = std::fabs(static_cast<double>(f));
  const uint16_t mag = h & 0x7fff;
  ASSERT_EQ(h & 0x8000, std::signbit(f) ? 0x8000 : 0) << f;
  auto value = [](uint16_t m) {
    return m >= 0x7c00 ? 65536.0 : std::fabs(double(fp16_to_fp32(m)));
  };
  const double err = std::fabs(value(mag) - x);
  for (int step : {-1, 1}) {
    const int other = mag + step;
    if (other < 0 || other > 0x7c00) continue;
    const double other_err = std::fabs(value(static_cast<uint16_t>(other)) - x);
    ASSERT_LE(err, other_err) << "f=" << f << " h=0x" << std::hex << h;
    if (err == other_err) {
      ASSERT_EQ(mag & 1, 0) << "tie not to even, f=" << f;
    }
  }
}

TEST(Fp16Test, Fp32ToFp16RoundsToNearestEven) {
  std::mt19937 rng(7);
  // Random bit patterns with exponents around the half range (2^-26 .. 2^17), plus all halfway
  // points.
  for (int i = 0; i < 200000; ++i) {
    const uint32_t exp = 101 + rng() % 43;
    const uint32_t u = (rng() & 0x80000000u) | exp << 23 | (rng() & 0x7fffffu);
    expect_nearest_half(from_bits(u));
  }
  for (uint32_t h = 0; h < 0x7bff; ++h) {  // midpoints between consecutive finite halves
    const double mid = (std::fabs(double(fp16_to_fp32(static_cast<uint16_t>(h)))) +
                        std::fabs(double(fp16_to_fp32(static_cast<uint16_t>(h + 1))))) /
                       2;
    expect_nearest_half(static_cast<float>(mid));
    expect_nearest_half(-static_cast<float>(mid));
  }
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);   // 1.5 ulp -> 2
  EXPECT_EQ(fp32_to_fp16(from_bits(0x7f800001u)), 0x7e00);  // sNaN -> canonical qNaN
  EXPECT_EQ(fp32_to_fp16(from_bits(0xffc12345u)), 0xfe00);
}

TEST(Bf16Test, ConversionsRoundToNearestEvenAndKeepNaNs) {
  EXPECT_EQ(bits(bf16_to_fp32(0x3f80)), 0x3f800000u);
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000u)), 0x3f80);  // tie, kept part even -> down
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000u)), 0x3f82);  // tie, kept part odd -> up
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001u)), 0x3f81);  // above the tie -> up
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7f800001u)), 0x7fc0);  // sNaN forced quiet
  EXPECT_EQ(fp32_to_bf16(from_bits(0xffc00001u)), 0xffc0);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00000001u)), 0x0000);  // smallest subnormal rounds to 0
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00018000u)), 0x0002);  // subnormals are not flushed
  std::mt19937 rng(11);
  // Every finite bf16 round-trips; rounding to 8 significant bits errs by at most half an ulp, 2^-8
  // |x|.
  for (int i = 0; i < 100000; ++i) {
    const uint32_t u = rng();
    if ((u & 0x7f800000u) == 0x7f800000u) continue;
    const uint16_t b = static_cast<uint16_t>(u >> 16);
    if ((b & 0x7f80) == 0x7f80) continue;
    ASSERT_EQ(fp32_to_bf16(bf16_to_fp32(b)), b);
    const float f = from_bits(u);
    const float r = bf16_to_fp32(fp32_to_bf16(f));
    if (!std::isfinite(r)) continue;
    // Normal: half an ulp of 8 significant bits. Subnormal: half the fixed bf16 subnormal step
    // 2^-133.
    const float bound =
        std::fabs(f) >= FLT_MIN ? std::ldexp(std::fabs(f), -8) : std::ldexp(1.0f, -134);
    ASSERT_LE(std::fabs(r - f), bound) << f;
  }
}

}  // namespace
}  // namespace latent
