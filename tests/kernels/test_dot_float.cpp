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
// Rounding activations to bf16 (8 significant bits, unit roundoff 2^-8) adds ≤ 2^-8·Σ|w·a|.
double bound(int64_t k, bool bf16_act, double mag) {
  return ((k + 7) / 8 + 5) * 0x1p-24 * mag + (bf16_act ? 0x1p-8 * mag : 0.0) + 1e-30;
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
  return v;
}

// One tile call of nr weight rows × nc activation rows of length k, pointers offset by one
// element from the allocation (misaligned), output with a stride larger than nr.
void check_tile(const Named& kt, int64_t k, int nr, int nc, uint32_t seed) {
  const int64_t wb = dtype_row_bytes(kt.type, k), eb = dtype_row_bytes(kt.type, 1);
  const int64_t ab = dtype_row_bytes(kt.dk.act_type, k), aeb = dtype_row_bytes(kt.dk.act_type, 1);
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
  const bool bf16_act = kt.dk.act_type == DType::BF16;
  for (int c = 0; c < nc; ++c)
    for (int r = 0; r < nr; ++r) {
      const float* a = x.data() + 1 + c * k;
      const float* wr = deq.data() + r * k;
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) exact += double(a[i]) * wr[i], mag += std::fabs(a[i] * wr[i]);
      const float got = out[c * os + r];
      const double b = bound(k, bf16_act, mag);
      EXPECT_NEAR(got, exact, b) << kt.name << " " << dtype_name(kt.type) << " k=" << k << " tile "
                                 << nr << "x" << nc << " r=" << r << " c=" << c;
      // ref::dot is itself within the f32 bound of exact.
      EXPECT_NEAR(got, kernels::ref::dot(a, wr, k), b + bound(k, false, mag));
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
        for (int nc = 1; nc <= 4; ++nc) {
          if (k > 256 && (nr + nc) % 3 != 0) continue;  // big K: a sample of shapes
          check_tile(kt, k, nr, nc, seed++);
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
      const bool bf16_act = dk && dk->act_type == DType::BF16;
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
            EXPECT_NEAR(out[i * n + j], exact, bound(k, bf16_act, mag))
                << isa_name(isa) << " " << dtype_name(t) << " m=" << m << " n=" << n << " k=" << k;
          }
      }
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

}  // namespace
}  // namespace latent
