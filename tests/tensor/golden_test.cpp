// Golden data from real ggml (tests/tensor/golden/README.md says how it was made): our dequantizers
// must reproduce ggml's floats bit for bit from ggml's bytes, and our quantizers ggml's bytes from
// the same input. A failure here means a format difference, never a tolerance to loosen.
#include <gtest/gtest.h>

#include <string>

#include "common/testdata.h"
#include "quant_test_util.h"
#include "tensor/quant_impl.h"

namespace latent {
namespace {

using test::floats_bitwise_equal;

std::string golden(const std::string& name) {
  return test::read_file(test::source_dir() + "/tests/tensor/golden/" + name);
}

constexpr int64_t kN = 512;

class GoldenTest : public ::testing::TestWithParam<DType> {};

TEST_P(GoldenTest, DequantizeMatchesGgml) {
  const DType type = GetParam();
  const std::string stem(dtype_name(type));
  const std::string bytes = golden(stem + ".bin");
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), dtype_row_bytes(type, kN));
  const std::vector<float> expected = test::floats_of(golden(stem + ".f32"));
  EXPECT_TRUE(floats_bitwise_equal(expected, test::dequantize(type, bytes, kN)));
}

TEST_P(GoldenTest, QuantizeMatchesGgmlBytes) {
  const DType type = GetParam();
  const std::string stem(dtype_name(type));
  const std::vector<float> input = test::floats_of(golden("input.f32"));
  ASSERT_EQ(static_cast<int64_t>(input.size()), kN);
  ASSERT_TRUE(can_quantize(type));
  const std::string expected = golden(stem + ".bin");
  const std::string actual = test::quantize(type, input);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(static_cast<uint8_t>(expected[i]), static_cast<uint8_t>(actual[i]))
        << stem << " byte " << i << " of " << expected.size() << " (block "
        << i / traits(type).type_size << ", offset " << i % traits(type).type_size << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, GoldenTest, ::testing::ValuesIn(test::quant_formats()),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// A second, pseudo-random input (bytes only): more blocks through the quantizers' scale searches.
class GoldenRandomTest : public ::testing::TestWithParam<DType> {};

TEST_P(GoldenRandomTest, QuantizeMatchesGgmlBytes) {
  const DType type = GetParam();
  const std::vector<float> input = test::floats_of(golden("random_input.f32"));
  ASSERT_EQ(input.size(), 2048u);
  const std::string expected = golden("random_" + std::string(dtype_name(type)) + ".bin");
  const std::string actual = test::quantize(type, input);
  ASSERT_EQ(expected.size(), actual.size());
  size_t first = 0;
  while (first < expected.size() && expected[first] == actual[first]) ++first;
  EXPECT_EQ(first, expected.size()) << dtype_name(type) << ": first differing byte " << first
                                    << " (block " << first / traits(type).type_size << ")";
}

INSTANTIATE_TEST_SUITE_P(QuantFormats, GoldenRandomTest,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                           DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                                           DType::Q5_K, DType::Q6_K, DType::Q8_K),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// ggml-base rounds every product before adding (no FMA); src/tensor must too (quant_impl.h), or the
// K-quant searches pick other levels. (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds (tie, to even) to
// 1 + 2^-11, so a*b + c is 0 when rounded twice and 2^-24 when fused.
TEST(GoldenSpecial, TensorCodeDoesNotFuseMultiplyAdd) {
  const float a = 1.0f + 0x1p-12f;
  EXPECT_EQ(detail::contraction_probe(a, a, -(1.0f + 0x1p-11f)), 0.0f);
}

TEST(GoldenSpecial, Fp16ConversionsMatchGgml) {
  const std::vector<float> special = test::floats_of(golden("special.f32"));
  const std::string halves = golden("special_f16.bin");
  ASSERT_EQ(halves.size(), special.size() * 2);
  EXPECT_EQ(halves, test::quantize(DType::F16, special));
  EXPECT_TRUE(floats_bitwise_equal(test::floats_of(golden("special_f16.f32")),
                                   test::dequantize(DType::F16, halves, 32)));
}

TEST(GoldenSpecial, Bf16ConversionsMatchGgml) {
  const std::vector<float> special = test::floats_of(golden("special.f32"));
  const std::string halves = golden("special_bf16.bin");
  ASSERT_EQ(halves.size(), special.size() * 2);
  EXPECT_EQ(halves, test::quantize(DType::BF16, special));
  EXPECT_TRUE(floats_bitwise_equal(test::floats_of(golden("special_bf16.f32")),
                                   test::dequantize(DType::BF16, halves, 32)));
}

}  // namespace
}  // namespace latent
