// Weights prepared at load (kernels::prepare_weights, cpu/packed.h: Q4_0, Q8_0, Q4_K, Q6_K): the
// repacking is exact (every row unpacks to its GGUF bytes, get_rows reads the same values), the
// packed matmul agrees with the reference within the Q8_0 activation rounding, it is batch
// invariant (a row's output bitwise the same for any M, place in the batch or thread count), the
// AVX2 and AVX-512 kernels give the same bits where both run, and a dropped ISA cap falls back to
// the reference path on the unpacked bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/packed.h"
#include "kernels/cpu/unit_ranges.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using kernels::cpu::Isa;

struct Case {
  DType type;
  int64_t n, k;
};

std::vector<uint8_t> quantized(DType type, int64_t n, int64_t k, std::vector<float>& wf) {
  std::mt19937 rng(static_cast<uint32_t>(n * 131 + k));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  wf.resize(static_cast<size_t>(n * k));
  for (auto& v : wf) v = dist(rng);
  const int64_t rb = dtype_row_bytes(type, k);
  std::vector<uint8_t> q(static_cast<size_t>(n * rb));
  for (int64_t r = 0; r < n; ++r) quantize_row(type, wf.data() + r * k, q.data() + r * rb, k);
  return q;
}

// The ISAs with packed kernels that this CPU runs (AVX-512 VNNI, AVX2).
std::vector<Isa> packed_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
    kernels::cpu::set_isa_cap(isa);
    if (kernels::cpu::active_isa() == isa) out.push_back(isa);
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  return out;
}

class Packed : public ::testing::TestWithParam<Case> {};

// One ISA's packed path: exact repack, close to the reference, batch invariant. Returns the M=19
// product.
std::vector<float> check_packed(const Case& c, Isa isa);

TEST_P(Packed, ExactRepackMatmulAndBatchInvariance) {
  const std::vector<Isa> isas = packed_isas();
  if (isas.empty()) GTEST_SKIP() << "no AVX2 or AVX-512: prepare_weights packs nothing";
  std::vector<std::vector<float>> results;
  for (Isa isa : isas) {
    results.push_back(check_packed(GetParam(), isa));
    if (HasFatalFailure()) return;
  }
  // Both kernels compute the same exact integers and the same float steps per block.
  for (size_t i = 1; i < results.size(); ++i)
    EXPECT_EQ(std::memcmp(results[0].data(), results[i].data(), results[0].size() * sizeof(float)),
              0)
        << "AVX2 and AVX-512 packed products differ";
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

std::vector<float> check_packed(const Case& c, Isa isa) {
  const auto [type, n, k] = c;
  kernels::cpu::set_isa_cap(isa);
  const std::string what = std::string(dtype_name(type)) + " " + std::to_string(n) + "x" +
                           std::to_string(k) + " " + std::string(kernels::cpu::isa_name(isa));
  std::vector<float> wf;
  const std::vector<uint8_t> q = quantized(type, n, k, wf);
  const TensorView orig{type, 2, {n, k, 1, 1}, q.data()};
  TensorView w = orig;
  const auto owner = kernels::prepare_weights(w);
  EXPECT_TRUE(owner) << what;
  EXPECT_NE(w.data, orig.data);
  EXPECT_TRUE(kernels::cpu::is_packed(w.data));
  if (!owner || !kernels::cpu::is_packed(w.data)) return {};

  // Exact unpack, and get_rows through it.
  std::vector<uint8_t> row(static_cast<size_t>(orig.row_bytes()));
  for (int64_t r = 0; r < n; ++r) {
    kernels::cpu::unpack_row(type, static_cast<const uint8_t*>(w.data), n, k, r, row.data());
    EXPECT_EQ(std::memcmp(row.data(), orig.row(r), row.size()), 0) << what << " row " << r;
  }
  const std::vector<int32_t> ids = {static_cast<int32_t>(n - 1), 0, static_cast<int32_t>(n / 2)};
  std::vector<float> got(ids.size() * k), want(ids.size() * k);
  kernels::get_rows(w, ids.data(), static_cast<int64_t>(ids.size()), got.data());
  kernels::get_rows(orig, ids.data(), static_cast<int64_t>(ids.size()), want.data());
  EXPECT_EQ(got, want) << what;

  const int64_t max_m = 19;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(max_m * k));
  for (auto& v : x) v = dist(rng);

  // Against the reference path on the original bytes: the Q8_0 activation rounding bounds the
  // difference (relative to Σ|w·x|, as tests/kernels/test_dot_legacy.cpp argues).
  kernels::set_num_threads(2);
  std::vector<float> fast(static_cast<size_t>(max_m * n)), ref(static_cast<size_t>(max_m * n));
  kernels::matmul(x.data(), max_m, w, fast.data());
  kernels::cpu::set_isa_cap(Isa::kScalar);
  kernels::matmul(x.data(), max_m, orig, ref.data());
  // The packed view at the scalar cap: the exact unpack, then the same reference path.
  std::vector<float> fallback(static_cast<size_t>(max_m * n));
  kernels::matmul(x.data(), max_m, w, fallback.data());
  kernels::cpu::set_isa_cap(isa);
  EXPECT_EQ(std::memcmp(fallback.data(), ref.data(), ref.size() * sizeof(float)), 0) << what;
  for (int64_t i = 0; i < max_m; ++i)
    for (int64_t r = 0; r < n; ++r) {
      double mag = 0;
      for (int64_t j = 0; j < k; ++j) {
        // |w·x| with the dequantized weight ≈ the float one within its own rounding.
        mag += std::fabs(static_cast<double>(wf[r * k + j]) * x[i * k + j]);
      }
      if (std::fabs(fast[i * n + r] - ref[i * n + r]) > 1.5e-2 * mag + 1e-5) {
        ADD_FAILURE() << what << " m-row " << i << " w-row " << r << ": " << fast[i * n + r]
                      << " vs reference " << ref[i * n + r];
        return {};
      }
    }

  // Batch invariance: every row of every call equals its single-row product, bitwise.
  std::vector<float> single(static_cast<size_t>(max_m * n));
  for (int64_t i = 0; i < max_m; ++i)
    kernels::matmul(x.data() + i * k, 1, w, single.data() + i * n);
  for (int threads : {1, 2, 3}) {
    kernels::set_num_threads(threads);
    for (int64_t m : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 19}) {
      for (int64_t first : {int64_t{0}, max_m - m}) {
        std::vector<float> out(static_cast<size_t>(m * n));
        kernels::matmul(x.data() + first * k, m, w, out.data());
        for (int64_t i = 0; i < m; ++i)
          if (std::memcmp(out.data() + i * n, single.data() + (first + i) * n,
                          static_cast<size_t>(n) * sizeof(float)) != 0) {
            ADD_FAILURE() << what << ": M=" << m << " row " << i << ", " << threads
                          << " threads differs from the single-row product";
            return {};
          }
      }
    }
  }
  kernels::set_num_threads(0);
  return fast;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Packed,
                         ::testing::Values(Case{DType::Q4_0, 37, 512}, Case{DType::Q4_0, 16, 32},
                                           Case{DType::Q4_0, 5, 96}, Case{DType::Q4_0, 64, 160},
                                           Case{DType::Q8_0, 37, 512}, Case{DType::Q8_0, 16, 32},
                                           Case{DType::Q8_0, 5, 96}, Case{DType::Q8_0, 64, 160},
                                           Case{DType::Q4_K, 37, 512}, Case{DType::Q4_K, 16, 256},
                                           Case{DType::Q4_K, 5, 768}, Case{DType::Q6_K, 37, 512},
                                           Case{DType::Q6_K, 16, 256}, Case{DType::Q6_K, 5, 768}));

// matmul_batch: packed jobs of three types, unpacked jobs (F32, Q5_K), an empty one and three that
// share their input, in one call;
// each output equals its lone matmul bitwise, at every thread count, and at the scalar ISA too
// (where the packed weights go through the exact unpack).
TEST(MatmulBatch, EachJobEqualsItsLoneMatmul) {
  struct Job {
    DType type;
    int64_t n, k, m;
  };
  const std::vector<Job> shapes = {
      {DType::Q4_0, 37, 512, 1},  {DType::Q8_0, 64, 160, 5}, {DType::Q4_K, 16, 256, 3},
      {DType::F32, 9, 40, 2},     {DType::Q5_K, 4, 256, 7},  {DType::Q4_0, 32, 64, 0},
      {DType::Q4_0, 128, 96, 19}, {DType::Q8_0, 20, 512, 1}, {DType::Q4_0, 48, 512, 1}};
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::vector<float>> wf(shapes.size()), xs;
  std::vector<TensorView> ws;
  std::vector<std::shared_ptr<const void>> owners;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Job& s = shapes[i];
    if (s.type == DType::F32) {
      wf[i].resize(static_cast<size_t>(s.n * s.k));
      for (auto& v : wf[i]) v = dist(rng);
      bytes.emplace_back(reinterpret_cast<const uint8_t*>(wf[i].data()),
                         reinterpret_cast<const uint8_t*>(wf[i].data() + wf[i].size()));
    } else {
      bytes.push_back(quantized(s.type, s.n, s.k, wf[i]));
    }
    ws.push_back(TensorView{s.type, 2, {s.n, s.k, 1, 1}, bytes.back().data()});
    xs.emplace_back(static_cast<size_t>(std::max<int64_t>(1, s.m) * s.k));
    for (auto& v : xs.back()) v = dist(rng);
  }
  // The last two read job 0's activations: one conversion is shared between products of the same
  // kernels, and a kernel with another weight offset (Q8_0) must not take Q4_0's block sums.
  auto x_of = [&](size_t i) { return i + 2 >= shapes.size() ? xs[0].data() : xs[i].data(); };
  const bool packs = !packed_isas().empty();
  for (TensorView& w : ws)
    if (auto owner = kernels::prepare_weights(w)) owners.push_back(std::move(owner));
  EXPECT_EQ(owners.size(), 9u);  // every weight: packed where it can be, else copied as it is
  if (packs) {
    EXPECT_TRUE(kernels::cpu::is_packed(ws[0].data));
  }
  EXPECT_FALSE(kernels::cpu::is_packed(ws[3].data)) << "F32 is copied, not packed";
  EXPECT_NE(ws[3].data, bytes[3].data());
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kScalar}) {
    kernels::cpu::set_isa_cap(isa);
    for (int threads : {1, 2, 3}) {
      kernels::set_num_threads(threads);
      std::vector<std::vector<float>> alone(shapes.size()), batched(shapes.size());
      std::vector<kernels::MatmulJob> jobs;
      for (size_t i = 0; i < shapes.size(); ++i) {
        const size_t size = static_cast<size_t>(shapes[i].m * shapes[i].n);
        alone[i].assign(size, -1.0f);
        batched[i].assign(size, -2.0f);
        kernels::matmul(x_of(i), shapes[i].m, ws[i], alone[i].data());
        jobs.push_back({x_of(i), shapes[i].m, &ws[i], batched[i].data()});
      }
      kernels::matmul_batch(jobs);
      for (size_t i = 0; i < shapes.size(); ++i)
        ASSERT_EQ(std::memcmp(alone[i].data(), batched[i].data(), alone[i].size() * sizeof(float)),
                  0)
            << "job " << i << " (" << dtype_name(shapes[i].type) << "), " << threads
            << " threads, isa " << static_cast<int>(isa);
    }
  }
  kernels::set_num_threads(0);
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

TEST(PackedPrepare, OtherTypesAndTheScalarIsaAreCopiedAsTheyAre) {
  std::vector<float> wf;
  const std::vector<uint8_t> q = quantized(DType::Q5_K, 4, 256, wf);
  TensorView w{DType::Q5_K, 2, {4, 256, 1, 1}, q.data()};
  const auto owner = kernels::prepare_weights(w);
  ASSERT_TRUE(owner);
  EXPECT_NE(w.data, q.data());
  EXPECT_FALSE(kernels::cpu::is_packed(w.data));
  EXPECT_EQ(std::memcmp(w.data, q.data(), q.size()), 0);
  const std::vector<uint8_t> q4 = quantized(DType::Q4_0, 4, 64, wf);
  TensorView w4{DType::Q4_0, 2, {4, 64, 1, 1}, q4.data()};
  kernels::cpu::set_isa_cap(Isa::kScalar);
  const auto owner4 = kernels::prepare_weights(w4);
  EXPECT_FALSE(kernels::cpu::is_packed(w4.data));
  EXPECT_EQ(std::memcmp(w4.data, q4.data(), q4.size()), 0);
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  TensorView none{DType::Q4_0, 2, {4, 64, 1, 1}, nullptr};
  EXPECT_FALSE(kernels::prepare_weights(none));
}

// Copies that would not fit in memory are not made: a (never read) view of a 2.4 TB weight is left
// in place, and nothing is allocated for it.
TEST(PackedPrepare, WeightsLargerThanMemoryStayWhereTheyAre) {
  const uint8_t byte = 0;
  TensorView huge{DType::Q4_0, 2, {int64_t{1} << 22, int64_t{1} << 20, 1, 1}, &byte};
  EXPECT_FALSE(kernels::prepare_weights(huge));
  EXPECT_EQ(huge.data, &byte);
}

}  // namespace
}  // namespace latent

namespace latent {
namespace {

// The packed path's work distribution: each unit is handed out exactly once, an owner takes its
// own range front to back, a range without a running owner is emptied from its back by the others.
TEST(UnitRanges, EveryUnitOnceOwnersInOrderMissingOwnersCovered) {
  kernels::cpu::UnitRanges ranges;
  ranges.reset(10, 3);  // ranges [0,3) [3,6) [6,10)
  // Owner 0 alone: its own range in order, then the back of range 1, then the back of range 2.
  std::vector<int64_t> order;
  for (int64_t u; (u = ranges.next(0)) >= 0;) order.push_back(u);
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 5, 4, 3, 9, 8, 7, 6}));
  EXPECT_EQ(ranges.next(1), -1);

  // Threads racing over many small units: the union is every unit, no unit twice.
  for (int threads : {1, 2, 3, 8}) {
    const int64_t n_units = 100003;
    ranges.reset(n_units, threads);
    std::vector<std::vector<int64_t>> got(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int64_t u; (u = ranges.next(t)) >= 0;) got[static_cast<size_t>(t)].push_back(u);
      });
    for (auto& th : pool) th.join();
    std::vector<int> seen(static_cast<size_t>(n_units), 0);
    for (const auto& g : got)
      for (int64_t u : g) ++seen[static_cast<size_t>(u)];
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), n_units) << threads << " threads";
  }
  // A reset reuses the ranges: fewer units than owners leaves some ranges empty.
  ranges.reset(2, 4);
  std::vector<int64_t> rest;
  for (int64_t u; (u = ranges.next(3)) >= 0;) rest.push_back(u);
  EXPECT_EQ(rest, (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace latent
