// The K-quant fast paths (cpu/avx512/kquant_*, cpu/avx2/kquant_*) against the scalar format spec
// (tensor/quant.h): Q8_K conversion byte for byte, every registered tile against a double dot of
// dequantized rows, and the public matmul against the f32-activation reference, for each ISA this
// CPU has, over awkward sizes, strides and misaligned pointers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

namespace latent {
namespace {

using kernels::cpu::Isa;

constexpr DType kTypes[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
constexpr double kU = 1.0 / (1 << 24);  // f32 unit roundoff

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Caps the ISA for one scope; false when this CPU lacks it (the test then skips that ISA).
struct IsaScope {
  explicit IsaScope(Isa isa) { kernels::cpu::set_isa_cap(isa); }
  ~IsaScope() { kernels::cpu::set_isa_cap(Isa::kAvx512); }
};
bool have(Isa isa) {
  IsaScope s(isa);
  return kernels::cpu::active_isa() == isa;
}
// The kernel registered at exactly this ISA (not a fallback), or nullptr.
const kernels::cpu::DotKernel* kernel_at(DType t, Isa isa) {
  if (!have(isa)) return nullptr;
  const auto* k = kernels::cpu::find_dot_kernel(t, isa);
  const auto* lower = isa == Isa::kScalar ? nullptr
                                          : kernels::cpu::find_dot_kernel(
                                                t, static_cast<Isa>(static_cast<int>(isa) - 1));
  return k && k != lower ? k : nullptr;
}

// Bound on |part| per element of a super-block, summed by the kernels as separate terms: the
// scaled level d·sc·q (q unsigned, as the kernels see it) and the min (dmin·m, or d·sc·offset for
// the signed formats). Errors of the kernels are relative to these, not to their difference.
void part_magnitudes(DType t, const uint8_t* blk, double* mag) {
  auto f16 = [&](int off) {
    uint16_t h;
    std::memcpy(&h, blk + off, 2);
    return std::fabs(static_cast<double>(fp16_to_fp32(h)));
  };
  for (int e = 0; e < kQK_K; ++e) {
    switch (t) {
      case DType::Q4_K:
      case DType::Q5_K: {
        const ScaleMin sm = k4_scale_min(blk + 4, e / 32);
        mag[e] = f16(0) * sm.scale * (t == DType::Q4_K ? 15 : 31) + f16(2) * sm.min;
        break;
      }
      case DType::Q6_K:
        mag[e] = f16(208) * std::abs(static_cast<int8_t>(blk[192 + e / 16])) * (63 + 32);
        break;
      case DType::Q3_K:
        mag[e] = f16(108) * std::abs(q3k_scale(blk + 96, e / 16) - 32) * (7 + 4);
        break;
      default:  // Q2_K
        mag[e] = f16(80) * (blk[e / 16] & 15) * 3 + f16(82) * (blk[e / 16] >> 4);
    }
  }
}

// Offsets of the fp16 fields of each type's block (random bytes get finite values there).
std::vector<int> f16_offsets(DType t) {
  switch (t) {
    case DType::Q2_K:
      return {80, 82};
    case DType::Q3_K:
      return {108};
    case DType::Q6_K:
      return {208};
    default:
      return {0, 2};
  }
}

// rows weight rows of k elements, stride bytes apart starting at an odd address.
struct Rows {
  std::vector<uint8_t> buf;
  int64_t stride;
  const uint8_t* row(int r) const { return buf.data() + 1 + r * stride; }
  uint8_t* row(int r) { return buf.data() + 1 + r * stride; }
};
Rows make_weights(DType t, int rows, int64_t k, bool random_bytes, uint32_t seed) {
  Rows w{std::vector<uint8_t>(1 + rows * (dtype_row_bytes(t, k) + 1)), dtype_row_bytes(t, k) + 1};
  std::mt19937 rng(seed);
  if (random_bytes) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& b : w.buf) b = static_cast<uint8_t>(rng());
    const int64_t bb = traits(t).type_size;
    for (int r = 0; r < rows; ++r)
      for (int64_t b = 0; b < k / kQK_K; ++b)
        for (int off : f16_offsets(t)) {
          const uint16_t h = fp32_to_fp16(u(rng) * 0.01f);
          std::memcpy(w.row(r) + b * bb + off, &h, 2);
        }
  } else {
    const auto x = randn(rows * k, seed, 0.5f);
    for (int r = 0; r < rows; ++r) quantize_row(t, x.data() + r * k, w.row(r), k);
  }
  return w;
}

TEST(DotKquant, ConvertActMatchesQuantizeRowBytes) {
  const int64_t n = 2048;
  std::vector<std::vector<float>> inputs = {randn(n, 1), randn(n, 2, 1e-3f), randn(n, 3, 300.0f),
                                            std::vector<float>(n, 0.0f),
                                            std::vector<float>(n, -2.5f)};
  auto ties = randn(n, 4);
  ties[5] = 7.0f, ties[9] = -7.0f;                               // block 0: +max first
  ties[256 + 3] = -7.0f, ties[256 + 200] = 7.0f;                 // block 1: −max first
  for (int e = 512; e < 768; ++e) ties[e] = (e % 7 - 3) * 0.5f;  // exact .5 products
  inputs.push_back(ties);
  auto mixed = randn(n, 5);
  for (int e = 1024; e < 1280; ++e) mixed[e] = 0.0f;  // one all-zero block among others
  inputs.push_back(mixed);
  const int64_t bytes = dtype_row_bytes(DType::Q8_K, n);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    for (DType t : kTypes) {
      const auto* k = kernel_at(t, isa);
      if (!k) continue;
      for (const auto& x : inputs) {
        std::vector<uint8_t> want(bytes), got(bytes + 1);
        quantize_row(DType::Q8_K, x.data(), want.data(), n);
        k->convert_act(x.data(), got.data() + 1, n);  // misaligned output
        EXPECT_EQ(0, std::memcmp(want.data(), got.data() + 1, bytes))
            << kernels::cpu::isa_name(isa);
      }
    }
  }
}

// tile(w, act) against Σ dequant(w)·dequant(act) in double. The kernels form each super-block's
// integer sums exactly, then per super-block round d_w·d_a, the int→f32 conversion (AVX2: sums may
// pass 2^24), one FMA, mf and d_a·bsums, one FNMA (≲ 6u of that block's Σ mag·|a|); each f32 lane
// adds nb such terms (≤ nb·u of the total) and the final 16- or 8-lane sum adds ≤ 4u. The
// dequantized oracle itself carries ≤ 4u (three roundings in the weight, one in the activation).
// So |err| ≤ (nb + 14)·u·Σ mag·|a|, with mag from part_magnitudes.
// Returns the largest |err| / bound seen.
double check_tile(DType t, Isa isa, const kernels::cpu::DotKernel& dk, int64_t k,
                  bool random_bytes) {
  double worst = 0;
  const int64_t nb = k / kQK_K, wbytes = dtype_row_bytes(t, k);
  const Rows w = make_weights(t, 4, k, random_bytes, static_cast<uint32_t>(k + 7 * random_bytes));
  const int64_t abytes = dtype_row_bytes(DType::Q8_K, k), astride = abytes + 2;
  std::vector<uint8_t> act(3 + 4 * astride);
  const auto x = randn(4 * k, static_cast<uint32_t>(k + 1));
  for (int c = 0; c < 4; ++c)
    quantize_row(DType::Q8_K, x.data() + c * k, act.data() + 3 + c * astride, k);
  std::vector<double> wd(4 * k), ad(4 * k), mag(4 * k);
  std::vector<float> tmp(k);
  for (int r = 0; r < 4; ++r) {
    dequantize_row(t, w.row(r), tmp.data(), k);
    std::copy(tmp.begin(), tmp.end(), wd.begin() + r * k);
    for (int64_t b = 0; b < nb; ++b)
      part_magnitudes(t, w.row(r) + b * (wbytes / nb), mag.data() + r * k + b * kQK_K);
    dequantize_row(DType::Q8_K, act.data() + 3 + r * astride, tmp.data(), k);
    std::copy(tmp.begin(), tmp.end(), ad.begin() + r * k);
  }
  const float kSentinel = 12345.0f;
  for (int rows = 1; rows <= 4; ++rows)
    for (int cols = 1; cols <= 4; ++cols) {
      std::vector<float> out(4 * 5, kSentinel);
      dk.tile(k, w.row(0), w.stride, rows, act.data() + 3, astride, cols, out.data(), 5);
      for (int c = 0; c < 4; ++c)
        for (int r = 0; r < 5; ++r) {
          if (r >= rows || c >= cols) {
            EXPECT_EQ(out[c * 5 + r], kSentinel);
            continue;
          }
          double exact = 0, s = 0;
          for (int64_t e = 0; e < k; ++e) {
            exact += wd[r * k + e] * ad[c * k + e];
            s += mag[r * k + e] * std::fabs(ad[c * k + e]);
          }
          const double tol = (nb + 14) * kU * s + 1e-30;
          worst = std::max(worst, std::fabs(out[c * 5 + r] - exact) / tol);
          EXPECT_NEAR(out[c * 5 + r], exact, tol)
              << dtype_name(t) << " " << kernels::cpu::isa_name(isa) << " k=" << k
              << " rows=" << rows << " cols=" << cols << " r=" << r << " c=" << c
              << " random=" << random_bytes;
        }
    }
  return worst;
}

TEST(DotKquant, TilesMatchDequantizedDot) {
  int checked = 0;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    for (DType t : kTypes) {
      const auto* dk = kernel_at(t, isa);
      if (!dk) continue;
      EXPECT_EQ(dk->act_type, DType::Q8_K);
      double worst = 0;
      for (int64_t k : {256, 512, 2048, 5632})
        for (bool random_bytes : {false, true})
          worst = std::max(worst, check_tile(t, isa, *dk, k, random_bytes));
      std::printf("%s %s: max |err| / bound = %.3g\n", std::string(dtype_name(t)).c_str(),
                  std::string(kernels::cpu::isa_name(isa)).c_str(), worst);
      ++checked;
    }
  if (have(Isa::kAvx512)) {
    EXPECT_GE(checked, 5);  // every K type at AVX-512
  }
}

// Public matmul with the fast path against Σ dequant(w)·x in double. Q8_K rounds each activation to
// the nearest multiple of d_a = amax/127 of its block: |x − d_a·q| ≤ d_a/2 (plus f32 rounding of
// x·iscale and of d_a, covered by the 1.001), so the error is ≤ Σ |w|·amax_b/254·1.001 plus the
// kernel's f32 error from check_tile (with |x| ≤ |dequant(act)|·(1 + 1/127)).
TEST(DotKquant, MatmulMatchesF32Reference) {
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    for (DType t : kTypes) {
      if (!kernel_at(t, isa)) continue;
      IsaScope scope(isa);
      double worst = 0;
      for (auto [m, n, k] : {std::tuple{1, 1, 256}, {3, 5, 512}, {5, 37, 2048}, {8, 6, 5632}}) {
        const auto x = randn(m * k, 21 + n);
        const Rows w = make_weights(t, n, k, false, 22 + n);
        const int64_t nb = k / kQK_K, wbytes = dtype_row_bytes(t, k);
        std::vector<uint8_t> packed(n * wbytes);
        for (int j = 0; j < n; ++j) std::memcpy(packed.data() + j * wbytes, w.row(j), wbytes);
        TensorView tw{t, 2, {n, k, 1, 1}, packed.data()};
        std::vector<float> out(m * n), deq(k);
        std::vector<double> mag(k);
        kernels::matmul(x.data(), m, tw, out.data());
        for (int j = 0; j < n; ++j) {
          dequantize_row(t, tw.row(j), deq.data(), k);
          for (int64_t b = 0; b < nb; ++b)
            part_magnitudes(t, packed.data() + j * wbytes + b * (wbytes / nb),
                            mag.data() + b * kQK_K);
          for (int i = 0; i < m; ++i) {
            double exact = 0, q8 = 0, s = 0;
            for (int64_t b = 0; b < nb; ++b) {
              double amax = 0;
              for (int e = 0; e < kQK_K; ++e)
                amax = std::max(amax, std::fabs(double{x[i * k + b * kQK_K + e]}));
              for (int e = 0; e < kQK_K; ++e) {
                const int64_t idx = b * kQK_K + e;
                exact += double{deq[idx]} * x[i * k + idx];
                q8 += std::fabs(double{deq[idx]}) * amax / 254;
                s += mag[idx] * std::fabs(x[i * k + idx]);
              }
            }
            const double tol = q8 * 1.001 + (nb + 14) * kU * s * 1.01 + 1e-30;
            worst = std::max(worst, std::fabs(out[i * n + j] - exact) / tol);
            ASSERT_NEAR(out[i * n + j], exact, tol)
                << dtype_name(t) << " " << kernels::cpu::isa_name(isa) << " m=" << m << " n=" << n
                << " k=" << k << " i=" << i << " j=" << j;
          }
        }
      }
      std::printf("%s %s: matmul max |err| / bound = %.3g\n", std::string(dtype_name(t)).c_str(),
                  std::string(kernels::cpu::isa_name(isa)).c_str(), worst);
    }
}

}  // namespace
}  // namespace latent
