// Block structs of the quantized formats, byte-for-byte the layout of ggml's ggml-common.h (a GGUF
// tensor of that type is an array of these blocks). Only layout lives here; the value of each block
// is defined by dequantize_row (dequant.cpp). Halves are raw IEEE fp16 bit patterns.
#pragma once

#include <cstdint>

namespace latent {

inline constexpr int kQK = 32;     // elements per legacy block (Q4_0 .. Q8_0)
inline constexpr int kQK_K = 256;  // elements per K-quant super-block
inline constexpr int kKScaleSize = 12;

// x = d * (q - 8), q in [0, 16). Element j is the low nibble of qs[j], element j+16 the high
// nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// x = d * q + m, q in [0, 16); same nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// x = d * (q - 16), q in [0, 32): low 4 bits as Q4_0, bit 4 of element j is bit j of qh (little
// endian).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// x = d * q + m, q in [0, 32); bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// x = d * q, q in [-128, 127].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Q8_1 (activations for dot products): s = d * sum(qs). Layout only; latent does not dequantize it.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// 16 groups of 16: x = d * (scales[g] & 15) * q - dmin * (scales[g] >> 4), q in [0, 4).
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// 16 groups of 16: x = d * (s6[g] - 32) * (q - 4), q in [0, 8) (2 low bits in qs, high bit in
// hmask); the 6-bit group scales s6 are packed into 12 bytes.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[kKScaleSize];
  uint16_t d;
};

// 8 groups of 32: x = d * sc[g] * q - dmin * m[g], q in [0, 16); 6-bit sc/m packed into 12 bytes.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};

// As Q4_K with a fifth bit per element in qh: q in [0, 32).
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 16 groups of 16: x = d * scales[g] * (q - 32), q in [0, 64) (4 bits in ql, 2 bits in qh).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Intermediate format for dot products: x = d * q with an fp32 d; bsums[g] = sum of qs in group g.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

// Packed 6-bit scale s and min m of group g (0..7) of a Q4_K/Q5_K block: groups 0..3 keep them in
// the low 6 bits of bytes g and g+4; groups 4..7 keep the low 4 bits in the nibbles of byte g+4 and
// the high 2 bits in the top bits of bytes g-4 (scale) and g (min).
struct ScaleMin {
  uint8_t scale;
  uint8_t min;
};
inline ScaleMin k4_scale_min(const uint8_t scales[kKScaleSize], int g) {
  if (g < 4)
    return {static_cast<uint8_t>(scales[g] & 63), static_cast<uint8_t>(scales[g + 4] & 63)};
  return {static_cast<uint8_t>((scales[g + 4] & 0x0f) | (scales[g - 4] >> 6) << 4),
          static_cast<uint8_t>((scales[g + 4] >> 4) | (scales[g] >> 6) << 4)};
}

// Packed 6-bit scale (0..63, stored with +32 bias) of group g (0..15) of a Q3_K block: the low 4
// bits are the low (g < 8) or high (g >= 8) nibble of byte g % 8; the high 2 bits are bits
// 2*(g/4).. of byte 8 + g % 4.
inline int q3k_scale(const uint8_t scales[kKScaleSize], int g) {
  const int low = g < 8 ? scales[g] & 0x0f : scales[g - 8] >> 4;
  const int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return low | high << 4;
}

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(alignof(BlockQ4_0) == 2 && alignof(BlockQ8_K) == 4);

}  // namespace latent
