// Shared helpers for the tensor-layer tests: the list of formats latent converts, byte/float
// buffers, and bitwise float comparison (NaN == NaN when both are NaN) with a readable
// first-mismatch message.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent::test {

// The 13 formats of the brief plus Q8_K: every type dequantize_row supports except F32.
inline const std::vector<DType>& quant_formats() {
  static const std::vector<DType> kTypes = {
      DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
      DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};
  return kTypes;
}

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline std::vector<float> floats_of(const std::string& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

// Bitwise equality of two float arrays; two NaNs count as equal. Reports the first mismatch.
inline ::testing::AssertionResult floats_bitwise_equal(const std::vector<float>& expected,
                                                       const std::vector<float>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " != expected " << expected.size();
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const bool both_nan = std::isnan(expected[i]) && std::isnan(actual[i]);
    if (!both_nan && float_bits(expected[i]) != float_bits(actual[i])) {
      return ::testing::AssertionFailure()
             << "element " << i << ": expected " << expected[i] << " (0x" << std::hex
             << float_bits(expected[i]) << "), got " << actual[i] << " (0x" << float_bits(actual[i])
             << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::vector<float> dequantize(DType type, const std::string& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(type, bytes.data(), out.data(), n);
  return out;
}

inline std::string quantize(DType type, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::string bytes(static_cast<size_t>(dtype_row_bytes(type, n)), '\0');
  quantize_row(type, x.data(), bytes.data(), n);
  return bytes;
}

}  // namespace latent::test
