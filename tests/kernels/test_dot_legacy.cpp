// The legacy-quant dot kernels (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 weights × Q8_0 activations) of every
// ISA this CPU has: convert_act byte-for-byte against quantize_row(Q8_0), tiles against a double
// oracle on the dequantized weights and activations, and the public matmul against both that oracle
// and the f32 reference, over awkward K, partial tiles and misaligned pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/legacy.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using kernels::cpu::DotKernel;
using kernels::cpu::Isa;

constexpr DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1};

// Rows of normal values whose scale changes per 32-element block (so block scales matter).
std::vector<float> rand_rows(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::uniform_real_distribution<float> s(0.05f, 4.0f);
  std::vector<float> v(n);
  float scale = 1.0f;
  for (size_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = s(rng);
    v[i] = d(rng) * scale + (i % 64 < 32 ? 0.0f : 0.3f * scale);  // some blocks off-centre
  }
  return v;
}

bool have(Isa isa) {
  kernels::cpu::set_isa_cap(isa);
  const bool ok = kernels::cpu::active_isa() == isa;
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  return ok;
}

struct Named {
  const char* isa_name;
  Isa isa;
  DotKernel (*get)(DType);
};
const Named kIsas[] = {{"avx2", Isa::kAvx2, kernels::cpu::legacy_dot_avx2},
                       {"avx512", Isa::kAvx512, kernels::cpu::legacy_dot_avx512}};

// The exact value the tile approximates is Σ_b d_w·d_a·Σ_j q_w·q_a (+ m·d_a·Σ_j q_a): integer
// block sums are exact, so only f32 rounding differs. Per block the tile rounds the scale product
// d_w·d_a once and accumulates one (two with m) terms by FMA into a lane chain of at most nb = k/32
// blocks, then sums ≤ 16 lanes in ≤ 4 levels. First-order bound: (2·nb + 8)·2^-24·mag, where mag =
// Σ_k (|w_k| + 2|m_b|)·|a_k| bounds Σ|d·q·a| + Σ|m·a| (|d·q| = |w − m| ≤ |w| + |m|).
double tile_bound(int64_t k, double mag) {
  return (2.0 * (k / 32) + 8) * 0x1p-24 * mag + 1e-30;
}

struct Oracle {
  double exact = 0, mag = 0;
};
// w: dequantized weight row; mins: m of each block (0 for formats without one); a: activations.
Oracle oracle(const float* w, const float* mins, const float* a, int64_t k) {
  Oracle o;
  for (int64_t i = 0; i < k; ++i) {
    o.exact += double(w[i]) * a[i];
    o.mag += (std::fabs(double(w[i])) + 2 * std::fabs(double(mins[i / 32]))) * std::fabs(a[i]);
  }
  return o;
}

// The additive m of each block (Q4_1/Q5_1 store it as the second fp16), else 0.
std::vector<float> block_mins(DType t, const uint8_t* row, int64_t k) {
  std::vector<float> m(k / 32, 0.0f);
  if (t != DType::Q4_1 && t != DType::Q5_1) return m;
  const int64_t bb = dtype_row_bytes(t, 32);
  for (int64_t b = 0; b < k / 32; ++b) {
    uint16_t h;
    std::memcpy(&h, row + b * bb + 2, 2);
    m[b] = fp16_to_fp32(h);
  }
  return m;
}

TEST(DotLegacy, ConvertActEqualsQuantizeRowBytes) {
  // Exact .5 ties (amax 127 → d = 1, id = 1), zero blocks, tiny and huge magnitudes, random rows.
  std::vector<float> x(32 * 8, 0.0f);
  for (int j = 0; j < 32; ++j) {
    x[j] = j == 0 ? 127.0f : (j % 2 ? 1 : -1) * (j * 2.0f + 0.5f);
    x[64 + j] = 1e-30f * (j - 16);
    x[96 + j] = 3e4f * std::sin(float(j));
  }
  const auto r = rand_rows(32 * 64, 5);
  x.insert(x.end(), r.begin(), r.end());
  const int64_t k = static_cast<int64_t>(x.size());
  std::vector<uint8_t> want(dtype_row_bytes(DType::Q8_0, k));
  quantize_row(DType::Q8_0, x.data(), want.data(), k);
  std::vector<float> xs(k + 1);
  std::memcpy(xs.data() + 1, x.data(), k * sizeof(float));  // misaligned source
  for (const Named& is : kIsas) {
    if (!have(is.isa)) continue;
    for (DType t : kTypes) {
      const DotKernel dk = is.get(t);
      ASSERT_TRUE(dk.tile && dk.convert_act) << is.isa_name;
      ASSERT_EQ(dk.act_type, DType::Q8_0);
      std::vector<uint8_t> got(want.size() + 1, 0xAA);
      dk.convert_act(xs.data() + 1, got.data() + 1, k);  // misaligned destination
      EXPECT_EQ(0, std::memcmp(got.data() + 1, want.data(), want.size()))
          << is.isa_name << " " << dtype_name(t);
      for (int64_t len : {32, 64, 96}) {  // a row shorter than the buffer writes only its blocks
        std::vector<uint8_t> part(want.size(), 0xAA);
        dk.convert_act(xs.data() + 1, part.data(), len);
        EXPECT_EQ(0, std::memcmp(part.data(), want.data(), dtype_row_bytes(DType::Q8_0, len)));
        EXPECT_EQ(part[dtype_row_bytes(DType::Q8_0, len)], 0xAA);
      }
    }
  }
}

// One tile call of nr weight rows × nc activation rows, every base pointer one byte off the
// allocation, output stride nr + 3 (entries past nr must stay untouched).
void check_tile(const Named& is, DType t, int64_t k, int nr, int nc, uint32_t seed) {
  const DotKernel dk = is.get(t);
  const int64_t wb = dtype_row_bytes(t, k), ab = dtype_row_bytes(DType::Q8_0, k);
  const auto wf = rand_rows(nr * k, seed), x = rand_rows(nc * k, seed + 1);
  std::vector<uint8_t> w(nr * wb + 1), act(nc * ab + 1);
  std::vector<float> wd(nr * k), ad(nc * k);
  for (int r = 0; r < nr; ++r) {
    quantize_row(t, wf.data() + r * k, w.data() + 1 + r * wb, k);
    dequantize_row(t, w.data() + 1 + r * wb, wd.data() + r * k, k);
  }
  for (int c = 0; c < nc; ++c) {
    dk.convert_act(x.data() + c * k, act.data() + 1 + c * ab, k);
    dequantize_row(DType::Q8_0, act.data() + 1 + c * ab, ad.data() + c * k, k);
  }
  const int64_t os = nr + 3;
  std::vector<float> out(nc * os, NAN);
  dk.tile(k, w.data() + 1, wb, nr, act.data() + 1, ab, nc, out.data(), os);
  for (int r = 0; r < nr; ++r) {
    const auto mins = block_mins(t, w.data() + 1 + r * wb, k);
    for (int c = 0; c < nc; ++c) {
      const Oracle o = oracle(wd.data() + r * k, mins.data(), ad.data() + c * k, k);
      EXPECT_NEAR(out[c * os + r], o.exact, tile_bound(k, o.mag))
          << is.isa_name << " " << dtype_name(t) << " k=" << k << " tile " << nr << "x" << nc
          << " r=" << r << " c=" << c;
    }
  }
  for (int c = 0; c < nc; ++c)
    for (int r = nr; r < os; ++r) EXPECT_TRUE(std::isnan(out[c * os + r])) << "wrote past nr";
}

TEST(DotLegacy, TilesMatchDoubleOracleOverAwkwardSizes) {
  for (const Named& is : kIsas) {
    if (!have(is.isa)) continue;
    uint32_t seed = 1;
    for (DType t : kTypes)
      for (int64_t k : {32, 64, 96, 160, 4096, 5632})
        for (int nr = 1; nr <= 4; ++nr)
          for (int nc = 1; nc <= 4; ++nc) {
            if (k > 160 && (nr + nc) % 3 != 0) continue;  // big K: a sample of shapes
            check_tile(is, t, k, nr, nc, seed++);
          }
  }
}

// Arbitrary block bytes (every quant value, Q8_0 weights down to −128, activations ±127) with
// fp16 scales in [2^-8, 2), against the same oracle: values no quantizer would produce.
TEST(DotLegacy, TilesOnRandomBlockBytes) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> byte(0, 255), act_q(-127, 127);
  std::uniform_real_distribution<float> scale(0x1p-8f, 2.0f);
  for (const Named& is : kIsas) {
    if (!have(is.isa)) continue;
    for (DType t : kTypes) {
      const DotKernel dk = is.get(t);
      const int64_t k = 320, bb = dtype_row_bytes(t, 32), wb = dtype_row_bytes(t, k), ab = 34 * 10;
      const bool has_m = t == DType::Q4_1 || t == DType::Q5_1;
      std::vector<uint8_t> w(4 * wb), act(4 * ab);
      for (auto& v : w) v = static_cast<uint8_t>(byte(rng));
      for (int64_t b = 0; b < 4 * k / 32; ++b) {
        const uint16_t d = fp32_to_fp16(scale(rng)), m = fp32_to_fp16(-scale(rng));
        std::memcpy(w.data() + b * bb, &d, 2);
        if (has_m) std::memcpy(w.data() + b * bb + 2, &m, 2);
        const uint16_t da = fp32_to_fp16(scale(rng));
        std::memcpy(act.data() + b * 34, &da, 2);
        for (int j = 0; j < 32; ++j) act[b * 34 + 2 + j] = static_cast<uint8_t>(act_q(rng));
      }
      std::vector<float> wd(4 * k), ad(4 * k), out(16);
      for (int r = 0; r < 4; ++r) {
        dequantize_row(t, w.data() + r * wb, wd.data() + r * k, k);
        dequantize_row(DType::Q8_0, act.data() + r * ab, ad.data() + r * k, k);
      }
      dk.tile(k, w.data(), wb, 4, act.data(), ab, 4, out.data(), 4);
      for (int r = 0; r < 4; ++r) {
        const auto mins = block_mins(t, w.data() + r * wb, k);
        for (int c = 0; c < 4; ++c) {
          const Oracle o = oracle(wd.data() + r * k, mins.data(), ad.data() + c * k, k);
          EXPECT_NEAR(out[c * 4 + r], o.exact, tile_bound(k, o.mag))
              << is.isa_name << " " << dtype_name(t) << " r=" << r << " c=" << c;
        }
      }
    }
  }
}

// The public matmul on each ISA (registry, tiling driver, threads; rows/cols 1..5 and beyond 4):
// (a) against the double oracle on the same Q8_0 activations, within tile_bound; (b) against the
// f32 reference on the unquantized activations. For (b) each activation moves by |x − d16·q| ≤
// d/2 + 127·|d − d16| ≤ (1/2 + 127·2^-11)·d < 0.563·d (round to nearest, then the fp16 rounding of
// d scaled by |q| ≤ 127), so |Δ| ≤ Σ_k |w_k|·0.563·d_b(k) plus both sides' f32 rounding.
TEST(DotLegacy, MatmulMatchesOracleAndReference) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!have(isa)) continue;
    kernels::cpu::set_isa_cap(isa);
    for (DType t : kTypes) {
      const DotKernel* dk = kernels::cpu::find_dot_kernel(t, isa);
      ASSERT_EQ(dk != nullptr, isa != Isa::kScalar) << dtype_name(t);
      for (auto [m, n, k] : {std::tuple{1, 1, 32},
                             {5, 5, 96},
                             {3, 4, 64},
                             {2, 7, 256},
                             {1, 37, 2048},
                             {9, 70, 256},
                             {6, 3, 5632}}) {
        const auto x = rand_rows(m * k, 7 + k), wf = rand_rows(n * k, 8 + k);
        const int64_t wb = dtype_row_bytes(t, k), ab = dtype_row_bytes(DType::Q8_0, k);
        std::vector<uint8_t> w(n * wb), act(m * ab);
        std::vector<float> wd(n * k), ad(m * k), out(m * n), ref(m * n);
        for (int j = 0; j < n; ++j) {
          quantize_row(t, wf.data() + j * k, w.data() + j * wb, k);
          dequantize_row(t, w.data() + j * wb, wd.data() + j * k, k);
        }
        for (int i = 0; i < m; ++i) {
          quantize_row(DType::Q8_0, x.data() + i * k, act.data() + i * ab, k);
          dequantize_row(DType::Q8_0, act.data() + i * ab, ad.data() + i * k, k);
        }
        const TensorView tw{t, 2, {n, k, 1, 1}, w.data()};
        kernels::matmul(x.data(), m, tw, out.data());
        kernels::ref::matmul(x.data(), m, tw, ref.data());
        for (int j = 0; j < n; ++j) {
          const auto mins = block_mins(t, w.data() + j * wb, k);
          for (int i = 0; i < m; ++i) {
            const float got = out[i * n + j];
            const std::string where = std::string(kernels::cpu::isa_name(isa)) + " " +
                                      std::string(dtype_name(t)) + " m=" + std::to_string(m) +
                                      " n=" + std::to_string(n) + " k=" + std::to_string(k);
            if (!dk) {  // scalar: the reference path itself
              EXPECT_EQ(got, ref[i * n + j]) << where;
              continue;
            }
            const Oracle o = oracle(wd.data() + j * k, mins.data(), ad.data() + i * k, k);
            EXPECT_NEAR(got, o.exact, tile_bound(k, o.mag)) << where;
            double act_err = 0, mag_f32 = 0;
            for (int64_t kk = 0; kk < k; kk += 32) {
              uint16_t h;
              std::memcpy(&h, act.data() + i * ab + kk / 32 * 34, 2);
              const double d = fp16_to_fp32(h) / (1 - 0x1p-11);  // d before fp16 rounding, ≥
              for (int64_t e = kk; e < kk + 32; ++e) {
                act_err += std::fabs(double(wd[j * k + e])) * 0.563 * d;
                mag_f32 += std::fabs(double(wd[j * k + e]) * x[i * k + e]);
              }
            }
            const double f32_err = tile_bound(k, o.mag) + ((k + 7) / 8 + 5) * 0x1p-24 * mag_f32;
            EXPECT_NEAR(got, ref[i * n + j], act_err + f32_err) << where << " vs f32 reference";
          }
        }
      }
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

}  // namespace
}  // namespace latent
