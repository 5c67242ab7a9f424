// IEEE binary16 and bfloat16 <-> binary32 conversions, written out bit by bit. They match ggml's
// portable definitions (ggml-impl.h: ggml_compute_fp16_to_fp32 / ggml_compute_fp32_to_fp16 /
// ggml_compute_fp32_to_bf16) on every input, NaNs included; tests/tensor checks all 65536 halves.
#include <cstring>

#include "tensor/quant.h"
#include "tensor/quant_impl.h"

namespace latent {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Rounds m / 2^shift to the nearest integer, ties to even (shift >= 1).
uint32_t shift_round_even(uint32_t m, int shift) {
  const uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

}  // namespace

// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
//   e = 0:       (-1)^s * m * 2^-24                 (zero and subnormals)
//   e = 1..30:   (-1)^s * (1 + m/1024) * 2^(e-15)
//   e = 31:      inf (m = 0) or NaN. ggml produces the NaN by a float multiply, which quiets it:
//   the
//                payload moves to the top of the f32 mantissa and the quiet bit (bit 22) is set.
float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    const float mag = static_cast<float>(mant) * 0x1p-24f;  // exact: mant < 2^10
    return float_of(sign | bits_of(mag));
  }
  if (exp == 31) {
    if (mant == 0) return float_of(sign | 0x7f800000u);
    return float_of(sign | 0x7fc00000u | (mant << 13));
  }
  return float_of(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

// Round to nearest even. |f| >= 65520 (halfway between the largest half, 65504, and 2^16) becomes
// inf; below 2^-14 the result is a subnormal m * 2^-24 with m = round(|f| * 2^24); every NaN
// becomes the quiet NaN 0x7e00 with f's sign (ggml drops the payload).
uint16_t fp32_to_fp16(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // inf, or rounds up to it
  const int exp = static_cast<int>(abs >> 23);
  const uint32_t mant = abs & 0x7fffffu;
  if (abs < 0x38800000u) {
    // |f| = m32 * 2^(e32 - 150) with m32 the 24-bit significand; in units of 2^-24 that is
    // m32 / 2^(126 - e32). A result of 0x400 is the smallest normal, which the encoding handles.
    const uint32_t m32 = exp == 0 ? mant : (mant | 0x800000u);
    const int shift = 126 - (exp == 0 ? 1 : exp);
    if (shift > 24) return sign;  // < 2^-25: rounds to zero
    return sign | static_cast<uint16_t>(shift_round_even(m32, shift));
  }
  // Normal: rebias the exponent and drop 13 mantissa bits. A carry out of the mantissa correctly
  // increments the exponent.
  const uint32_t rebiased = static_cast<uint32_t>(exp - 127 + 15) << 23 | mant;
  return sign | static_cast<uint16_t>(shift_round_even(rebiased, 13));
}

// bfloat16 is the top half of a binary32.
float bf16_to_fp32(uint16_t b) {
  return float_of(static_cast<uint32_t>(b) << 16);
}

// Round to nearest even on the low 16 bits (adding 0x7fff plus the kept lsb carries exactly when
// the dropped half is above 0x8000, or equal to it with an odd kept part); NaNs keep their top bits
// and are forced quiet (bit 6 of the bf16). Subnormals are kept; overflow rounds to inf.
uint16_t fp32_to_bf16(float f) {
  const uint32_t u = bits_of(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

namespace detail {

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, h + 2 * i, 2);
    dst[i] = fp16_to_fp32(v);
  }
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t v;
    std::memcpy(&v, b + 2 * i, 2);
    dst[i] = bf16_to_fp32(v);
  }
}

}  // namespace detail
}  // namespace latent
