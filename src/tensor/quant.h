// Conversions between f32 and every stored element type, bit-exact with ggml's reference definitions
// (ggml-quants.c / ggml.c). The scalar code here is the format's specification: readable first; kernels/
// has the fast paths and tests them against these.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace latent {

// IEEE half <-> float (round to nearest even), as ggml's GGML_FP32_TO_FP16 / GGML_FP16_TO_FP32.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
// bfloat16 <-> float: fp32_to_bf16 rounds to nearest even and keeps NaNs quiet, like ggml_compute_fp32_to_bf16.
float bf16_to_fp32(uint16_t b);
uint16_t fp32_to_bf16(float f);

// True when dequantize_row supports the type (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, Q8_K).
bool can_dequantize(DType type);
// dst[0..n) = value of src's n elements. n is a multiple of the block size. Throws latent::Error for a
// type without a dequantizer.
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

// True when quantize_row supports the type.
bool can_quantize(DType type);
// Quantize n floats (a multiple of the block size) into dst (dtype_row_bytes(type, n) bytes), using
// ggml's reference (non-imatrix) algorithm for the type. Throws latent::Error for unsupported types.
void quantize_row(DType type, const float* src, void* dst, int64_t n);

}  // namespace latent
