// Dequantization of the block formats: the value of every element of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
// (32-element blocks) and Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K (256-element super-blocks), bit-exact
// with ggml's dequantize_row_* (ggml-quants.c): each comment gives where element e's bits live and
// its formula; scales combine in ggml's order, each product rounded to f32 before the add (no FMA).
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_impl.h"

namespace latent::detail {
namespace {

constexpr int kHalf = kQK / 2;

// The 5th bit of element j (0..31) of a Q5 block: bit j of the little-endian 32-bit qh.
int q5_high_bit(const uint8_t qh[4], int j) {
  return (qh[j / 8] >> (j % 8)) & 1;
}

}  // namespace

// Q4_0: x[j] = d * (q[j] - 8); q[j] = low nibble of qs[j] (j < 16), high nibble of qs[j - 16].
void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const BlockQ4_0& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    float* y = dst + b * kQK;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>((blk.qs[j] & 0x0f) - 8) * d;
      y[j + kHalf] = static_cast<float>((blk.qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1: x[j] = d * q[j] + m, nibbles as Q4_0.
void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const BlockQ4_1& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    const float m = fp16_to_fp32(blk.m);
    float* y = dst + b * kQK;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>(blk.qs[j] & 0x0f) * d + m;
      y[j + kHalf] = static_cast<float>(blk.qs[j] >> 4) * d + m;
    }
  }
}

// Q5_0: x[j] = d * (q[j] - 16), q[j] = nibble (as Q4_0) | bit j of qh << 4.
void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const BlockQ5_0& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    float* y = dst + b * kQK;
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (blk.qs[j] & 0x0f) | q5_high_bit(blk.qh, j) << 4;
      const int q1 = (blk.qs[j] >> 4) | q5_high_bit(blk.qh, j + kHalf) << 4;
      y[j] = static_cast<float>(q0 - 16) * d;
      y[j + kHalf] = static_cast<float>(q1 - 16) * d;
    }
  }
}

// Q5_1: x[j] = d * q[j] + m, q[j] as Q5_0.
void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const BlockQ5_1& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    const float m = fp16_to_fp32(blk.m);
    float* y = dst + b * kQK;
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (blk.qs[j] & 0x0f) | q5_high_bit(blk.qh, j) << 4;
      const int q1 = (blk.qs[j] >> 4) | q5_high_bit(blk.qh, j + kHalf) << 4;
      y[j] = static_cast<float>(q0) * d + m;
      y[j + kHalf] = static_cast<float>(q1) * d + m;
    }
  }
}

// Q8_0: x[j] = d * qs[j].
void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const BlockQ8_0& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    for (int j = 0; j < kQK; ++j) dst[b * kQK + j] = static_cast<float>(blk.qs[j]) * d;
  }
}

// ---- K-quants ----

// Q2_K. Element e: half h = e/128, r = e%128, plane j = r/32, l = r%32, group g = e/16.
//   q = (qs[32h + l] >> 2j) & 3                  (four 2-bit planes per byte)
//   x = (d * (scales[g] & 15)) * q - dmin * (scales[g] >> 4)
void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ2_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    const float dmin = fp16_to_fp32(blk.dmin);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const int q = (blk.qs[32 * h + l] >> (2 * j)) & 3;
      const uint8_t sc = blk.scales[e / 16];
      const float dl = d * static_cast<float>(sc & 0x0f);
      const float ml = dmin * static_cast<float>(sc >> 4);
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q3_K. Element e: h, j, l, g as Q2_K.
//   q = ((qs[32h + l] >> 2j) & 3) - (bit e/32 of hmask[l] ? 0 : 4)     (q in [-4, 3])
//   x = (d * (s6[g] - 32)) * q                                       (s6: q3k_scale)
void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ3_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const int low = (blk.qs[32 * h + l] >> (2 * j)) & 3;
      const int high = (blk.hmask[l] >> (e / 32)) & 1;
      const int q = low - (high ? 0 : 4);
      const float dl = d * static_cast<float>(q3k_scale(blk.scales, e / 16) - 32);
      y[e] = dl * static_cast<float>(q);
    }
  }
}

// Q4_K. Element e: chunk c = e/64, l = e%32, group g = e/32.
//   q = e%64 < 32 ? qs[32c + l] & 15 : qs[32c + l] >> 4
//   x = (d * sc[g]) * q - dmin * m[g]                                (sc, m: k4_scale_min)
void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ4_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    const float dmin = fp16_to_fp32(blk.dmin);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int c = e / 64, l = e % 32;
      const uint8_t byte = blk.qs[32 * c + l];
      const int q = e % 64 < 32 ? byte & 0x0f : byte >> 4;
      const ScaleMin sm = k4_scale_min(blk.scales, e / 32);
      const float dl = d * static_cast<float>(sm.scale);
      const float ml = dmin * static_cast<float>(sm.min);
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q5_K. As Q4_K, plus a fifth bit: q += 16 * (bit e/32 of qh[e%32]).
void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ5_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    const float dmin = fp16_to_fp32(blk.dmin);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int c = e / 64, l = e % 32;
      const uint8_t byte = blk.qs[32 * c + l];
      const int low = e % 64 < 32 ? byte & 0x0f : byte >> 4;
      const int q = low + (((blk.qh[l] >> (e / 32)) & 1) ? 16 : 0);
      const ScaleMin sm = k4_scale_min(blk.scales, e / 32);
      const float dl = d * static_cast<float>(sm.scale);
      const float ml = dmin * static_cast<float>(sm.min);
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q6_K. Element e: half h = e/128, r = e%128, quarter k = r/32, l = r%32, group g = e/16.
//   byte = ql[64h + l + 32*(k & 1)], low4 = k < 2 ? byte & 15 : byte >> 4
//   q = (low4 | ((qh[32h + l] >> 2k) & 3) << 4) - 32                (q in [-32, 31])
//   x = (d * scales[g]) * q
void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ6_K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const uint8_t byte = blk.ql[64 * h + l + 32 * (k & 1)];
      const int low4 = k < 2 ? byte & 0x0f : byte >> 4;
      const int high2 = (blk.qh[32 * h + l] >> (2 * k)) & 3;
      const int q = (low4 | high2 << 4) - 32;
      y[e] = d * static_cast<float>(blk.scales[e / 16]) * static_cast<float>(q);
    }
  }
}

// Q8_K: x = d * qs[e], with d a plain f32.
void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    for (int e = 0; e < kQK_K; ++e) {
      dst[b * kQK_K + e] = blocks[b].d * static_cast<float>(blocks[b].qs[e]);
    }
  }
}

}  // namespace latent::detail
