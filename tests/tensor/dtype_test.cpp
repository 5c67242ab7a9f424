// DType traits table (checked against ggml.c's type_traits / sizeof(block_*) at the commit named in
// golden/README.md), names, row sizes, TensorView::describe and the quant.h capability queries.
#include <gtest/gtest.h>

#include <cctype>
#include <iterator>
#include <string>

#include "base/check.h"
#include "base/error.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/tensor_view.h"

namespace latent {
namespace {

struct Expected {
  DType type;
  const char* name;
  int64_t block_size;
  int64_t type_size;
};

// Every id of DType, with ggml's name and sizes.
const Expected kAll[] = {
    {DType::F32, "f32", 1, 4},
    {DType::F16, "f16", 1, 2},
    {DType::Q4_0, "q4_0", 32, 18},
    {DType::Q4_1, "q4_1", 32, 20},
    {DType::Q5_0, "q5_0", 32, 22},
    {DType::Q5_1, "q5_1", 32, 24},
    {DType::Q8_0, "q8_0", 32, 34},
    {DType::Q8_1, "q8_1", 32, 36},
    {DType::Q2_K, "q2_K", 256, 84},
    {DType::Q3_K, "q3_K", 256, 110},
    {DType::Q4_K, "q4_K", 256, 144},
    {DType::Q5_K, "q5_K", 256, 176},
    {DType::Q6_K, "q6_K", 256, 210},
    {DType::Q8_K, "q8_K", 256, 292},
    {DType::IQ2_XXS, "iq2_xxs", 256, 66},
    {DType::IQ2_XS, "iq2_xs", 256, 74},
    {DType::IQ3_XXS, "iq3_xxs", 256, 98},
    {DType::IQ1_S, "iq1_s", 256, 50},
    {DType::IQ4_NL, "iq4_nl", 32, 18},
    {DType::IQ3_S, "iq3_s", 256, 110},
    {DType::IQ2_S, "iq2_s", 256, 82},
    {DType::IQ4_XS, "iq4_xs", 256, 136},
    {DType::I8, "i8", 1, 1},
    {DType::I16, "i16", 1, 2},
    {DType::I32, "i32", 1, 4},
    {DType::I64, "i64", 1, 8},
    {DType::F64, "f64", 1, 8},
    {DType::IQ1_M, "iq1_m", 256, 56},
    {DType::BF16, "bf16", 1, 2},
    {DType::TQ1_0, "tq1_0", 256, 54},
    {DType::TQ2_0, "tq2_0", 256, 66},
    {DType::MXFP4, "mxfp4", 32, 17},
    {DType::NVFP4, "nvfp4", 64, 36},
    {DType::Q1_0, "q1_0", 128, 18},
    {DType::Q2_0, "q2_0", 64, 18},
};

TEST(DTypeTest, TraitsTableMatchesGgml) {
  for (const Expected& e : kAll) {
    const auto t = dtype_traits(static_cast<uint32_t>(e.type));
    ASSERT_TRUE(t.has_value()) << e.name;
    EXPECT_EQ(t->name, e.name);
    EXPECT_EQ(t->block_size, e.block_size) << e.name;
    EXPECT_EQ(t->type_size, e.type_size) << e.name;
    EXPECT_EQ(&traits(e.type), &traits(e.type));  // stable reference
    EXPECT_EQ(traits(e.type).name, e.name);
    EXPECT_EQ(dtype_name(e.type), e.name);
  }
}

TEST(DTypeTest, BlockStructSizesMatchTraits) {
  EXPECT_EQ(traits(DType::Q4_0).type_size, static_cast<int64_t>(sizeof(BlockQ4_0)));
  EXPECT_EQ(traits(DType::Q5_1).type_size, static_cast<int64_t>(sizeof(BlockQ5_1)));
  EXPECT_EQ(traits(DType::Q8_1).type_size, static_cast<int64_t>(sizeof(BlockQ8_1)));
  EXPECT_EQ(traits(DType::Q2_K).type_size, static_cast<int64_t>(sizeof(BlockQ2_K)));
  EXPECT_EQ(traits(DType::Q3_K).type_size, static_cast<int64_t>(sizeof(BlockQ3_K)));
  EXPECT_EQ(traits(DType::Q6_K).type_size, static_cast<int64_t>(sizeof(BlockQ6_K)));
  EXPECT_EQ(traits(DType::Q8_K).type_size, static_cast<int64_t>(sizeof(BlockQ8_K)));
}

TEST(DTypeTest, UndefinedAndRemovedIdsAreNullopt) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 43u, 1000u, 0xffffffffu}) {
    EXPECT_FALSE(dtype_traits(id).has_value()) << id;
  }
  int defined = 0;
  for (uint32_t id = 0; id < 64; ++id) defined += dtype_traits(id).has_value();
  EXPECT_EQ(defined, static_cast<int>(std::size(kAll)));
}

TEST(DTypeTest, NamesRoundTripCaseInsensitively) {
  for (const Expected& e : kAll) {
    EXPECT_EQ(dtype_from_name(e.name), e.type) << e.name;
    std::string upper = e.name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(dtype_from_name(upper), e.type) << upper;
  }
  EXPECT_EQ(dtype_from_name("Q4_K"), DType::Q4_K);
  EXPECT_FALSE(dtype_from_name("q4_2").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
  EXPECT_FALSE(dtype_from_name("q4_k_m").has_value());  // a file type mix, not a tensor type
}

TEST(DTypeTest, RowBytes) {
  EXPECT_EQ(dtype_row_bytes(DType::F32, 7), 28);
  EXPECT_EQ(dtype_row_bytes(DType::BF16, 3), 6);
  EXPECT_EQ(dtype_row_bytes(DType::Q4_0, 4096), 128 * 18);
  EXPECT_EQ(dtype_row_bytes(DType::Q4_K, 4096), 16 * 144);
  EXPECT_EQ(dtype_row_bytes(DType::Q6_K, 0), 0);
  EXPECT_THROW(dtype_row_bytes(DType::Q4_K, 100), InternalError);
  EXPECT_THROW(dtype_row_bytes(DType::Q8_0, 33), InternalError);
}

TEST(DTypeTest, TraitsOfInvalidEnumValueIsAnInternalError) {
  EXPECT_THROW(traits(static_cast<DType>(4)), InternalError);
}

TEST(DTypeTest, CapabilityFlags) {
  const DType supported[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                             DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                             DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};
  for (DType t : supported) {
    EXPECT_TRUE(can_dequantize(t)) << dtype_name(t);
    EXPECT_TRUE(can_quantize(t)) << dtype_name(t);
    EXPECT_TRUE(traits(t).dequantize) << dtype_name(t);
  }
  for (DType t : {DType::Q8_1, DType::IQ2_XXS, DType::IQ4_NL, DType::I32, DType::MXFP4}) {
    EXPECT_FALSE(can_dequantize(t)) << dtype_name(t);
    EXPECT_FALSE(can_quantize(t)) << dtype_name(t);
    EXPECT_FALSE(traits(t).dequantize) << dtype_name(t);
  }
}

TEST(DTypeTest, UnsupportedConversionsThrowError) {
  float out[32];
  const uint8_t in[18] = {};
  EXPECT_THROW(dequantize_row(DType::IQ4_NL, in, out, 32), Error);
  EXPECT_THROW(quantize_row(DType::IQ4_NL, out, out, 32), Error);
  try {
    dequantize_row(DType::MXFP4, in, out, 32);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mxfp4"), std::string::npos) << e.what();
  }
}

TEST(TensorViewTest, DescribeAndSizes) {
  TensorView v;
  v.dtype = DType::Q4_K;
  v.n_dims = 2;
  v.shape = {2048, 5632, 1, 1};
  EXPECT_EQ(v.describe(), "[2048, 5632] q4_K");
  EXPECT_EQ(v.cols(), 5632);
  EXPECT_EQ(v.rows(), 2048);
  EXPECT_EQ(v.row_bytes(), 5632 / 256 * 144);
  EXPECT_EQ(v.nbytes(), 2048 * (5632 / 256 * 144));

  TensorView s;  // a scalar
  EXPECT_EQ(s.describe(), "[] f32");
  TensorView b;
  b.dtype = DType::BF16;
  b.n_dims = 1;
  b.shape = {7, 1, 1, 1};
  EXPECT_EQ(b.describe(), "[7] bf16");
}

}  // namespace
}  // namespace latent
