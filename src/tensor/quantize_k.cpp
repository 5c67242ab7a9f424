// Quantization of f32 rows to the K-quant super-blocks Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
// following ggml's quantize_row_*_ref (ggml-quants.c, no importance matrix) so the bytes are
// identical. Shape of every one: fit a scale per group (quant_k_search.cpp), quantize the group
// scales against one fp16 super-scale, then re-quantize the elements against the scales as stored,
// and pack the bits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_impl.h"

namespace latent::detail {
namespace {

int clamp_level(int l, int lo, int hi) {
  return std::max(lo, std::min(hi, l));
}

// Packs 2-bit levels as Q2_K/Q3_K store them: byte 32h + l holds elements 128h + l + 32j in bits
// 2j.
void pack_2bit_planes(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < kQK_K / 128; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* e = L + 128 * h + l;
      qs[32 * h + l] = static_cast<uint8_t>(e[0] | e[32] << 2 | e[64] << 4 | e[96] << 6);
    }
  }
}

// Asymmetric group fits for Q4_K / Q5_K (8 groups of 32), weights sqrt(mean x^2) + |x|; then the
// 6-bit scale/min codes against d = max_scale/63, dmin = max_min/63, and the final levels in [0,
// nmax].
struct K4Fit {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];
  uint8_t L[kQK_K];
};

K4Fit fit_k4(const float* x, int nmax, float rmin, int nstep) {
  K4Fit fit{};
  float scales[8], mins[8], weights[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int g = 0; g < 8; ++g) {
    const float* xg = x + 32 * g;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xg[l] * xg[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xg[l]);
    const QkxParams p{32, nmax, rmin, 0.1f, nstep, false};
    scales[g] = make_qkx2_quants(p, xg, weights, fit.L + 32 * g, &mins[g]);
    if (scales[g] > max_scale) max_scale = scales[g];
    if (mins[g] > max_min) max_min = mins[g];
  }
  const float inv_scale = max_scale > 0.0f ? 63.f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.f / max_min : 0.0f;
  for (int g = 0; g < 8; ++g) {
    // ggml stores nearest_int into a uint8_t before clamping, so take the low byte first.
    const uint8_t ls =
        std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[g])));
    const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[g])));
    if (g < 4) {
      fit.scales[g] = ls;
      fit.scales[g + 4] = lm;
    } else {  // the layout k4_scale_min reads
      fit.scales[g + 4] = static_cast<uint8_t>((ls & 0x0f) | (lm & 0x0f) << 4);
      fit.scales[g - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      fit.scales[g] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  fit.d = fp32_to_fp16(max_scale / 63.f);
  fit.dmin = fp32_to_fp16(max_min / 63.f);
  for (int g = 0; g < 8; ++g) {
    const ScaleMin sm = k4_scale_min(fit.scales, g);
    const float d = fp16_to_fp32(fit.d) * static_cast<float>(sm.scale);
    if (d == 0.0f) continue;  // keep the search's levels
    const float dm = fp16_to_fp32(fit.dmin) * static_cast<float>(sm.min);
    for (int l = 0; l < 32; ++l) {
      fit.L[32 * g + l] =
          static_cast<uint8_t>(clamp_level(nearest_int((x[32 * g + l] + dm) / d), 0, nmax));
    }
  }
  return fit;
}

}  // namespace

// Q2_K: 16 groups of 16 fit asymmetrically (levels 0..3, absolute error weighted by |x|); the group
// scales and mins become 4-bit codes against d = max_scale/15 and dmin = max_min/15.
void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ2_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ2_K& blk = blocks[b];
    uint8_t L[kQK_K];
    float scales[16], mins[16], weights[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int g = 0; g < 16; ++g) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * g + l]);
      const QkxParams p{16, 3, -0.5f, 0.1f, 15, true};
      scales[g] = make_qkx2_quants(p, x + 16 * g, weights, L + 16 * g, &mins[g]);
      if (scales[g] > max_scale) max_scale = scales[g];
      if (mins[g] > max_min) max_min = mins[g];
    }
    constexpr float kQ4Scale = 15.f;
    std::memset(blk.scales, 0, sizeof blk.scales);
    blk.d = fp32_to_fp16(0.0f);
    blk.dmin = fp32_to_fp16(0.0f);
    if (max_scale > 0.0f) {
      const float iscale = kQ4Scale / max_scale;
      for (int g = 0; g < 16; ++g)
        blk.scales[g] = static_cast<uint8_t>(nearest_int(iscale * scales[g]));
      blk.d = fp32_to_fp16(max_scale / kQ4Scale);
    }
    if (max_min > 0.0f) {
      const float iscale = kQ4Scale / max_min;
      for (int g = 0; g < 16; ++g)
        blk.scales[g] |= static_cast<uint8_t>(nearest_int(iscale * mins[g]) << 4);
      blk.dmin = fp32_to_fp16(max_min / kQ4Scale);
    }
    for (int g = 0; g < 16; ++g) {
      const float d = fp16_to_fp32(blk.d) * static_cast<float>(blk.scales[g] & 0x0f);
      if (d == 0.0f) continue;
      const float dm = fp16_to_fp32(blk.dmin) * static_cast<float>(blk.scales[g] >> 4);
      for (int l = 0; l < 16; ++l) {
        L[16 * g + l] =
            static_cast<uint8_t>(clamp_level(nearest_int((x[16 * g + l] + dm) / d), 0, 3));
      }
    }
    pack_2bit_planes(L, blk.qs);
  }
}

// Q3_K: 16 groups of 16 fit symmetrically (levels -4..3, make_q3_quants); group scales become
// signed 6-bit codes s against d = max_scale / -32 (the largest |scale| maps to -32), stored as s
// + 32.
void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ3_K& blk = blocks[b];
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int g = 0; g < 16; ++g) {
      scales[g] = make_q3_quants(16, 4, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > amax) {
        amax = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    std::memset(blk.scales, 0, sizeof blk.scales);
    if (max_scale != 0.0f) {
      const float iscale = -32.f / max_scale;
      for (int g = 0; g < 16; ++g) {
        const int s =
            clamp_level(static_cast<int8_t>(nearest_int(iscale * scales[g])), -32, 31) + 32;
        if (g < 8) {
          blk.scales[g] = static_cast<uint8_t>(s & 0x0f);
        } else {
          blk.scales[g - 8] |= static_cast<uint8_t>((s & 0x0f) << 4);
        }
        blk.scales[8 + g % 4] |=
            static_cast<uint8_t>((s >> 4) << (2 * (g / 4)));  // q3k_scale's layout
      }
      blk.d = fp32_to_fp16(1 / iscale);
    } else {
      blk.d = fp32_to_fp16(0.0f);
    }
    for (int g = 0; g < 16; ++g) {
      const float d = fp16_to_fp32(blk.d) * static_cast<float>(q3k_scale(blk.scales, g) - 32);
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        L[16 * g + l] = static_cast<int8_t>(clamp_level(nearest_int(x[16 * g + l] / d), -4, 3) + 4);
      }
    }
    // Level bit 2 goes to hmask: element e sets bit e/32 of hmask[e % 32]; bits 0..1 to the planes.
    std::memset(blk.hmask, 0, sizeof blk.hmask);
    uint8_t low[kQK_K];
    for (int e = 0; e < kQK_K; ++e) {
      if (L[e] > 3) blk.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
      low[e] = static_cast<uint8_t>(L[e] > 3 ? L[e] - 4 : L[e]);
    }
    pack_2bit_planes(low, blk.qs);
  }
}

// Q4_K: 8 groups of 32, levels 0..15 (fit_k4); element 64c + l is the low nibble of qs[32c + l] and
// element 64c + 32 + l the high nibble.
void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const K4Fit fit = fit_k4(src + b * kQK_K, 15, -1.f, 20);
    BlockQ4_K& blk = blocks[b];
    blk.d = fit.d;
    blk.dmin = fit.dmin;
    std::memcpy(blk.scales, fit.scales, kKScaleSize);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        blk.qs[32 * c + l] = static_cast<uint8_t>(fit.L[64 * c + l] | fit.L[64 * c + 32 + l] << 4);
      }
    }
  }
}

// Q5_K: as Q4_K with levels 0..31; bit 4 of element e goes to bit e/32 of qh[e % 32].
void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const K4Fit fit = fit_k4(src + b * kQK_K, 31, -0.5f, 15);
    BlockQ5_K& blk = blocks[b];
    blk.d = fit.d;
    blk.dmin = fit.dmin;
    std::memcpy(blk.scales, fit.scales, kKScaleSize);
    std::memset(blk.qh, 0, sizeof blk.qh);
    for (int e = 0; e < kQK_K; ++e) {
      if (fit.L[e] > 15) blk.qh[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
    }
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = fit.L[64 * c + l] & 0x0f, hi = fit.L[64 * c + 32 + l] & 0x0f;
        blk.qs[32 * c + l] = static_cast<uint8_t>(lo | hi << 4);
      }
    }
  }
}

// Q6_K: 16 groups of 16 fit symmetrically (levels -32..31, make_qx_quants); group scales become
// int8 codes against d = max_scale / -128, then levels are redone against the stored scales.
void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ6_K& blk = blocks[b];
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int g = 0; g < 16; ++g) {
      scales[g] = make_qx_quants(16, 32, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    std::memset(&blk, 0, sizeof blk);
    if (max_abs_scale < 1e-15f) continue;  // all zero: d = 0 and zero bytes
    const float iscale = -128.f / max_scale;
    blk.d = fp32_to_fp16(1 / iscale);
    for (int g = 0; g < 16; ++g) {
      blk.scales[g] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[g])));
    }
    for (int g = 0; g < 16; ++g) {
      const float d = fp16_to_fp32(blk.d) * static_cast<float>(blk.scales[g]);
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        L[16 * g + l] =
            static_cast<int8_t>(clamp_level(nearest_int(x[16 * g + l] / d), -32, 31) + 32);
      }
    }
    // The layout dequantize_row_q6_k reads: element 128h + 32k + l has its low 4 bits in
    // ql[64h + l + 32*(k & 1)] (low nibble for k < 2) and its high 2 bits at bit 2k of qh[32h + l].
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int q = L[e];
      blk.ql[64 * h + l + 32 * (k & 1)] |= static_cast<uint8_t>((q & 0x0f) << (k < 2 ? 0 : 4));
      blk.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
    }
  }
}

// Q8_K: q = round(-127 * x / max) with max the signed extreme (so it maps to -127), d = max / -127
// as f32, bsums[g] = sum of the 16 quants of group g.
void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    BlockQ8_K& blk = blocks[b];
    std::memset(&blk, 0, sizeof blk);
    float max = 0.0f, amax = 0.0f;
    for (int e = 0; e < kQK_K; ++e) {
      if (std::fabs(x[e]) > amax) {
        amax = std::fabs(x[e]);
        max = x[e];
      }
    }
    if (amax == 0.0f) continue;
    const float iscale = -127.f / max;
    for (int e = 0; e < kQK_K; ++e)
      blk.qs[e] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[e])));
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += blk.qs[16 * g + l];
      blk.bsums[g] = static_cast<int16_t>(sum);
    }
    blk.d = 1 / iscale;
  }
}

}  // namespace latent::detail
