// The F32/F16/BF16 dot kernels of every ISA this CPU has, tile by tile and through kernels::matmul,
// against a double-precision oracle on the dequantized (exact) weights and against ref::dot, over
// awkward K, 1..4 (tile) and 1..5 (matmul) rows and columns, and misaligned pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/float_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using kernels::cpu::DotKernel;
using kernels::cpu::Isa;

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// True when this CPU runs `isa` (the cap is restored to the best by the caller's next call).
bool have(Isa isa) {
  kernels::cpu::set_isa_cap(isa);
  const bool ok = kernels::cpu::active_isa() == isa;
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  return ok;
}

// f32 accumulation: each lane's chain holds ≤ ⌈k/8⌉ products (8 or 16 lanes, a product is exact),
// then ≤ 4 levels of horizontal adds, so |error| ≤ (⌈k/8⌉ + 5)·2^-24·Σ|w·a| (first-order bound).
// Rounding activations to bf16 (8 significant bits, unit roundoff 2^-8) adds ≤ 2^-8·Σ|w·a|, to
// f16 (11 significant bits, after an exact power-of-two scaling) ≤ 2^-11·Σ|w·a|.
// A kernel whose decode variant (one_row) reads f16 activations rounds them to f16 in both.
double act_roundoff(const DotKernel* dk) {
  if (!dk) return 0.0;
  if (dk->act_type == DType::BF16) return 0x1p-8;
  if (dk->act_type == DType::F16 || (dk->one_row && dk->one_row->act_type == DType::F16))
    return 0x1p-11;
  return 0.0;
}
double bound(int64_t k, double roundoff, double mag) {
  return ((k + 7) / 8 + 5) * 0x1p-24 * mag + roundoff * mag + 1e-30;
}

struct Named {
  std::string name;
  DotKernel dk;
  Isa isa;
  DType type;
};

std::vector<Named> kernels_under_test() {
  std::vector<Named> v;
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    v.push_back({"avx2", kernels::cpu::float_dot_avx2(t), Isa::kAvx2, t});
    v.push_back({"avx512", kernels::cpu::float_dot_avx512(t), Isa::kAvx512, t});
  }
  v.push_back({"avx512_dpbf16", kernels::cpu::bf16_dot_avx512_dpbf16(), Isa::kAvx512, DType::BF16});
  v.push_back({"avx512_widen", kernels::cpu::bf16_dot_avx512_widen(), Isa::kAvx512, DType::BF16});
  const DotKernel f16act = kernels::cpu::f16_dot_avx512_f16act();
  v.push_back({"avx512_f16act", f16act, Isa::kAvx512, DType::F16});
  v.push_back({"avx512_f16act_one_row", *f16act.one_row, Isa::kAvx512, DType::F16});
  v.push_back({"avx512_f32act", kernels::cpu::f16_dot_avx512_f32act(), Isa::kAvx512, DType::F16});
  return v;
}

// One tile call of nr weight rows × nc activation rows of length k, pointers offset by one
// element from the allocation (misaligned), output with a stride larger than nr.
void check_tile(const Named& kt, int64_t k, int nr, int nc, uint32_t seed) {
  const int64_t wb = dtype_row_bytes(kt.type, k), eb = dtype_row_bytes(kt.type, 1);
  const int64_t ab = act_row_bytes(kt.dk, k), aeb = dtype_row_bytes(kt.dk.act_type, 1);
  auto wf = randn(nr * k, seed), x = randn(nc * k + 1, seed + 1);
  std::vector<uint8_t> w(nr * wb + eb), act(nc * ab + aeb);
  std::vector<float> deq(nr * k);
  for (int r = 0; r < nr; ++r) {
    quantize_row(kt.type, wf.data() + r * k, w.data() + eb + r * wb, k);
    dequantize_row(kt.type, w.data() + eb + r * wb, deq.data() + r * k, k);
  }
  for (int c = 0; c < nc; ++c)
    kt.dk.convert_act(x.data() + 1 + c * k, act.data() + aeb + c * ab, k);
  const int64_t os = nr + 3;
  std::vector<float> out(nc * os, NAN);
  kt.dk.tile(k, w.data() + eb, wb, nr, act.data() + aeb, ab, nc, out.data(), os);
  for (int c = 0; c < nc; ++c)
    for (int r = 0; r < nr; ++r) {
      const float* a = x.data() + 1 + c * k;
      const float* wr = deq.data() + r * k;
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) exact += double(a[i]) * wr[i], mag += std::fabs(a[i] * wr[i]);
      const float got = out[c * os + r];
      const double b = bound(k, act_roundoff(&kt.dk), mag);
      EXPECT_NEAR(got, exact, b) << kt.name << " " << dtype_name(kt.type) << " k=" << k << " tile "
                                 << nr << "x" << nc << " r=" << r << " c=" << c;
      // ref::dot is itself within the f32 bound of exact.
      EXPECT_NEAR(got, kernels::ref::dot(a, wr, k), b + bound(k, 0.0, mag));
    }
  for (int c = 0; c < nc; ++c)
    for (int r = nr; r < os; ++r) EXPECT_TRUE(std::isnan(out[c * os + r])) << "wrote past nr";
}

TEST(DotFloat, TilesOverAwkwardSizes) {
  for (const Named& kt : kernels_under_test()) {
    if (!have(kt.isa)) continue;
    ASSERT_TRUE(kt.dk.tile) << kt.name;
    std::vector<int64_t> ks;
    for (int64_t k = 1; k <= 67; ++k) ks.push_back(k);
    for (int64_t k : {256, 2048, 5632}) ks.push_back(k);
    uint32_t seed = 1;
    for (int64_t k : ks)
      for (int nr = 1; nr <= 4; ++nr)
        for (int nc = 1; nc <= kt.dk.max_cols; ++nc) {
          if (k > 256 && (nr + nc) % 3 != 0) continue;  // big K: a sample of shapes
          check_tile(kt, k, nr, nc, seed++);
        }
  }
}

// F16 weights on AVX-512 round activations to f16 after scaling each row by a power of two: rows
// far outside f16's range (65504 overflows, below 6e-5 loses bits to subnormals) keep the 2^-11
// bound, a non-finite input stays non-finite, and the decode kernel (f16 rows) gives the batch
// kernel's (the same values widened to f32) results bit for bit.
TEST(DotFloat, F16ActivationsKeepPrecisionAtAnyMagnitude) {
  if (!have(Isa::kAvx512)) GTEST_SKIP() << "needs avx512";
  const DotKernel batch = kernels::cpu::f16_dot_avx512_f16act();
  ASSERT_TRUE(batch.one_row);
  const DotKernel& one = *batch.one_row;
  for (int64_t k : {1, 15, 16, 300, 5632}) {
    const int64_t wb = dtype_row_bytes(DType::F16, k);
    const auto wf = randn(4 * k, 3);
    std::vector<uint8_t> w(4 * wb);
    std::vector<float> deq(4 * k);
    quantize_row(DType::F16, wf.data(), w.data(), 4 * k);
    dequantize_row(DType::F16, w.data(), deq.data(), 4 * k);
    std::vector<uint8_t> a_one(act_row_bytes(one, k)), a_batch(act_row_bytes(batch, k));
    for (double scale : {1e-30, 1e-9, 1e-3, 1.0, 7e4, 1e9, 1e30}) {
      auto x = randn(k, 4);
      for (float& v : x) v = static_cast<float>(v * scale);
      one.convert_act(x.data(), a_one.data(), k);
      batch.convert_act(x.data(), a_batch.data(), k);
      float got[4], got_batch[4];
      one.tile(k, w.data(), wb, 4, a_one.data(), 0, 1, got, 1);
      batch.tile(k, w.data(), wb, 4, a_batch.data(), 0, 1, got_batch, 1);
      for (int r = 0; r < 4; ++r) {
        double exact = 0, mag = 0;
        for (int64_t i = 0; i < k; ++i)
          exact += double(x[i]) * deq[r * k + i], mag += std::fabs(x[i] * deq[r * k + i]);
        EXPECT_NEAR(got[r], exact, bound(k, 0x1p-11, mag)) << "k " << k << " scale " << scale;
        if (scale >= 1e-9) {  // no partial sum below 2^-126
          EXPECT_EQ(got[r], got_batch[r]) << "k " << k << " scale " << scale << " row " << r;
        }
      }
    }
    for (float bad : {INFINITY, -INFINITY, NAN}) {
      auto x = randn(k, 5);
      x[k / 2] = bad;
      one.convert_act(x.data(), a_one.data(), k);
      batch.convert_act(x.data(), a_batch.data(), k);
      float got = 0, got_batch = 0;
      one.tile(k, w.data(), wb, 1, a_one.data(), 0, 1, &got, 1);
      batch.tile(k, w.data(), wb, 1, a_batch.data(), 0, 1, &got_batch, 1);
      EXPECT_FALSE(std::isfinite(got)) << bad;
      EXPECT_FALSE(std::isfinite(got_batch)) << bad;
    }
  }
}

// The public matmul on every ISA: the registered kernel for each type, through the tiling driver
// (rows/cols 1..5, so partial tiles) and with enough rows to split across threads.
TEST(DotFloat, MatmulThroughRegistryMatchesOracle) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!have(isa)) continue;
    kernels::cpu::set_isa_cap(isa);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const DotKernel* dk = kernels::cpu::find_dot_kernel(t, isa);
      const double roundoff = act_roundoff(dk);
      for (auto [m, n, k] : {std::tuple{1, 1, 1},
                             {5, 5, 67},
                             {3, 4, 33},
                             {2, 5, 256},
                             {1, 37, 2048},
                             {9, 70, 256},
                             {4, 3, 5632}}) {
        auto x = randn(m * k, 7 + k), wf = randn(n * k, 8 + k);
        const int64_t wb = dtype_row_bytes(t, k);
        std::vector<uint8_t> w(n * wb);
        std::vector<float> deq(n * k), out(m * n);
        for (int j = 0; j < n; ++j) {
          quantize_row(t, wf.data() + j * k, w.data() + j * wb, k);
          dequantize_row(t, w.data() + j * wb, deq.data() + j * k, k);
        }
        kernels::matmul(x.data(), m, TensorView{t, 2, {n, k, 1, 1}, w.data()}, out.data());
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double exact = 0, mag = 0;
            for (int kk = 0; kk < k; ++kk) {
              const double p = double(x[i * k + kk]) * deq[j * k + kk];
              exact += p, mag += std::fabs(p);
            }
            EXPECT_NEAR(out[i * n + j], exact, bound(k, roundoff, mag))
                << isa_name(isa) << " " << dtype_name(t) << " m=" << m << " n=" << n << " k=" << k;
          }
      }
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

}  // namespace
}  // namespace latent
