// Differential test: latent's C++ dequantizers against the independent NumPy implementation in
// tests/reference/quants.py, on random block bytes for every format, compared bit for bit. Scale
// fields are random too, except that fp16/f32 scales with an all-ones exponent (inf/NaN) get one
// exponent bit cleared so most blocks carry finite values; NaN == NaN where NaNs still arise (raw
// F16/BF16 data).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/testdata.h"
#include "quant_test_util.h"

namespace latent {
namespace {

// Byte offsets of the fp16 scale fields inside one block (ggml-common.h layouts).
std::vector<int> half_fields(DType type) {
  switch (type) {
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q8_0:
      return {0};
    case DType::Q4_1:
    case DType::Q5_1:
    case DType::Q4_K:
    case DType::Q5_K:
      return {0, 2};
    case DType::Q2_K:
      return {80, 82};
    case DType::Q3_K:
      return {108};
    case DType::Q6_K:
      return {208};
    default:
      return {};
  }
}

std::string random_blocks(DType type, int64_t n_blocks, uint32_t seed) {
  const DTypeTraits& t = traits(type);
  std::mt19937 rng(seed);
  std::string bytes(static_cast<size_t>(n_blocks * t.type_size), '\0');
  for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
  for (int64_t b = 0; b < n_blocks; ++b) {
    char* blk = bytes.data() + b * t.type_size;
    for (int off : half_fields(type)) {
      // fp16 high byte: sign, 5 exponent bits, 2 mantissa bits. Exponent 31 -> 15.
      auto& hi = reinterpret_cast<uint8_t&>(blk[off + 1]);
      if ((hi & 0x7c) == 0x7c) hi &= 0xbf;
    }
    if (type == DType::Q8_K) {  // f32 d at offset 0: exponent 255 -> 127
      auto& hi = reinterpret_cast<uint8_t&>(blk[3]);
      if ((hi & 0x7f) == 0x7f && (static_cast<uint8_t>(blk[2]) & 0x80)) hi &= 0xbf;
    }
  }
  return bytes;
}

std::vector<float> numpy_dequantize(DType type, const std::string& bytes, int64_t n) {
  const std::string tag = std::string(dtype_name(type));
  const std::string in = test::temp_path("ref_" + tag + ".bin");
  const std::string out = test::temp_path("ref_" + tag + ".f32");
  test::write_file(in, bytes);
  const std::string cmd = test::python() + " " + test::source_dir() +
                          "/tests/reference/quants.py dequant " +
                          std::to_string(static_cast<uint32_t>(type)) + " " + in + " " +
                          std::to_string(n) + " " + out + " 2>&1";
  std::string output;
  const int rc = test::run_command(cmd, &output);
  EXPECT_EQ(rc, 0) << cmd << "\n" << output;
  return test::floats_of(test::read_file(out));
}

class ReferenceTest : public ::testing::TestWithParam<DType> {};

TEST_P(ReferenceTest, DequantizeMatchesNumpyBitwise) {
  const DType type = GetParam();
  // 64 blocks: 2048 values for the legacy formats, 16384 for K-quants, 64 for F16/BF16 -> use more.
  const int64_t n_blocks = traits(type).block_size == 1 ? 4096 : 64;
  const int64_t n = n_blocks * traits(type).block_size;
  const std::string bytes = random_blocks(type, n_blocks, 1234u + static_cast<uint32_t>(type));
  const std::vector<float> expected = numpy_dequantize(type, bytes, n);
  EXPECT_TRUE(test::floats_bitwise_equal(expected, test::dequantize(type, bytes, n)));
}

INSTANTIATE_TEST_SUITE_P(AllFormats, ReferenceTest, ::testing::ValuesIn(test::quant_formats()),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ReferenceTest, F32IsIdentity) {
  std::vector<float> x = {0.0f, -0.0f, 1.5f, -3.25e-30f, 65504.0f};
  std::string bytes(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(float));
  EXPECT_TRUE(test::floats_bitwise_equal(numpy_dequantize(DType::F32, bytes, 5), x));
  EXPECT_TRUE(test::floats_bitwise_equal(test::dequantize(DType::F32, bytes, 5), x));
  EXPECT_EQ(test::quantize(DType::F32, x), bytes);
}

}  // namespace
}  // namespace latent
