// quant.h's dispatchers: which types can be converted, and the switch from a DType to the
// per-format row function (dequant_*.cpp, quantize_*.cpp, fp16.cpp). The float types' trivial
// quantizers live here. Formats themselves are specified in the files they dispatch to, not here.
#include <cstring>
#include <string>

#include "base/check.h"
#include "base/error.h"
#include "tensor/quant.h"
#include "tensor/quant_impl.h"

namespace latent {
namespace {

using DequantFn = void (*)(const void*, float*, int64_t);
using QuantFn = void (*)(const float*, void*, int64_t);

void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t b = fp32_to_bf16(src[i]);
    std::memcpy(out + 2 * i, &b, 2);
  }
}

DequantFn dequantizer(DType type) {
  switch (type) {
    case DType::F32:
      return dequantize_row_f32;
    case DType::F16:
      return detail::dequantize_row_f16;
    case DType::BF16:
      return detail::dequantize_row_bf16;
    case DType::Q4_0:
      return detail::dequantize_row_q4_0;
    case DType::Q4_1:
      return detail::dequantize_row_q4_1;
    case DType::Q5_0:
      return detail::dequantize_row_q5_0;
    case DType::Q5_1:
      return detail::dequantize_row_q5_1;
    case DType::Q8_0:
      return detail::dequantize_row_q8_0;
    case DType::Q2_K:
      return detail::dequantize_row_q2_k;
    case DType::Q3_K:
      return detail::dequantize_row_q3_k;
    case DType::Q4_K:
      return detail::dequantize_row_q4_k;
    case DType::Q5_K:
      return detail::dequantize_row_q5_k;
    case DType::Q6_K:
      return detail::dequantize_row_q6_k;
    case DType::Q8_K:
      return detail::dequantize_row_q8_k;
    default:
      return nullptr;
  }
}

QuantFn quantizer(DType type) {
  switch (type) {
    case DType::F32:
      return quantize_row_f32;
    case DType::F16:
      return quantize_row_f16;
    case DType::BF16:
      return quantize_row_bf16;
    case DType::Q4_0:
      return detail::quantize_row_q4_0;
    case DType::Q4_1:
      return detail::quantize_row_q4_1;
    case DType::Q5_0:
      return detail::quantize_row_q5_0;
    case DType::Q5_1:
      return detail::quantize_row_q5_1;
    case DType::Q8_0:
      return detail::quantize_row_q8_0;
    case DType::Q2_K:
      return detail::quantize_row_q2_k;
    case DType::Q3_K:
      return detail::quantize_row_q3_k;
    case DType::Q4_K:
      return detail::quantize_row_q4_k;
    case DType::Q5_K:
      return detail::quantize_row_q5_k;
    case DType::Q6_K:
      return detail::quantize_row_q6_k;
    case DType::Q8_K:
      return detail::quantize_row_q8_k;
    default:
      return nullptr;
  }
}

std::string type_label(DType type) {
  const auto t = dtype_traits(static_cast<uint32_t>(type));
  return t ? std::string(t->name) : "type id " + std::to_string(static_cast<uint32_t>(type));
}

void check_count(DType type, int64_t n) {
  const auto t = dtype_traits(static_cast<uint32_t>(type));
  LATENT_CHECK(t.has_value());
  LATENT_CHECK_MSG(n >= 0 && n % t->block_size == 0,
                   std::to_string(n) + " is not a multiple of the " + std::string(t->name) +
                       " block size " + std::to_string(t->block_size));
}

}  // namespace

bool can_dequantize(DType type) {
  return dequantizer(type) != nullptr;
}

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  const DequantFn fn = dequantizer(type);
  if (fn == nullptr) throw Error("dequantize: no dequantizer for " + type_label(type));
  check_count(type, n);
  fn(src, dst, n);
}

bool can_quantize(DType type) {
  return quantizer(type) != nullptr;
}

void quantize_row(DType type, const float* src, void* dst, int64_t n) {
  const QuantFn fn = quantizer(type);
  if (fn == nullptr) throw Error("quantize: no quantizer for " + type_label(type));
  check_count(type, n);
  fn(src, dst, n);
}

}  // namespace latent
