// Quantization of f32 rows to the 32-element legacy formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, following
// ggml's quantize_row_*_ref (ggml-quants.c) step for step so the bytes are identical: the scale is
// computed in f32, rounded to fp16 for storage, and the quants use the unrounded f32 inverse scale.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_impl.h"

namespace latent::detail {
namespace {

constexpr int kHalf = kQK / 2;

// The element of largest magnitude (the first one on ties), with its sign.
float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* min, float* max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

// Packs 5-bit quants: low nibbles like Q4 (element j and j+16 share qs[j]), bit 4 of element j into
// bit j of the little-endian qh.
void pack_q5(const uint8_t q[kQK], uint8_t qs[kHalf], uint8_t qh_bytes[4]) {
  uint32_t qh = 0;
  for (int j = 0; j < kHalf; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + kHalf] & 0x0f) << 4);
    qh |= static_cast<uint32_t>(q[j] >> 4 & 1) << j;
    qh |= static_cast<uint32_t>(q[j + kHalf] >> 4 & 1) << (j + kHalf);
  }
  for (int k = 0; k < 4; ++k) qh_bytes[k] = static_cast<uint8_t>(qh >> (8 * k));
}

}  // namespace

// Q4_0: d = max / -8 where max is the signed element of largest |x|, so that element maps to q = 0
// (value -8d = max) and the others to q = trunc(x/d + 8.5) clamped to 15. Error bound: |x - x^| <=
// d/2 except the far end of the range, where q = 16 is clamped to 15 (error up to d).
void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0& blk = blocks[b];
    blk.d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kHalf] * id + 8.5f)));
      blk.qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

// Q4_1: m = min, d = (max - min) / 15, q = trunc((x - m)/d + 0.5) clamped to 15.
void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1& blk = blocks[b];
    blk.d = fp32_to_fp16(d);
    blk.m = fp32_to_fp16(min);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
      const int q1 =
          std::min(15, static_cast<int>(static_cast<int8_t>((x[j + kHalf] - min) * id + 0.5f)));
      blk.qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

// Q5_0: as Q4_0 with 32 levels: d = max / -16, q = trunc(x/d + 16.5) clamped to 31.
void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) {
      q[j] = static_cast<uint8_t>(
          std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f))));
    }
    blocks[b].d = fp32_to_fp16(d);
    pack_q5(q, blocks[b].qs, blocks[b].qh);
  }
}

// Q5_1: as Q4_1 with 32 levels: d = (max - min) / 31, q = trunc((x - m)/d + 0.5) (no clamp in
// ggml).
void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
    blocks[b].d = fp32_to_fp16(d);
    blocks[b].m = fp32_to_fp16(min);
    pack_q5(q, blocks[b].qs, blocks[b].qh);
  }
}

// Q8_0: d = amax / 127, q = round(x / d) (half away from zero).
void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) blocks[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

}  // namespace latent::detail
