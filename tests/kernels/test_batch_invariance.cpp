// Batch invariance of kernels::matmul: row i of x·wᵀ must be bitwise the same whether x has 1 row
// or M, and whatever i's place in a 4×4 tile (including the remainder tiles of M = 5..7, 9, 17) or
// the thread count. The continuous-batching server relies on it: a request's greedy text may not
// change with the requests that happen to share its batches. Checked for every weight dtype the
// fast paths cover (and the reference path) at every ISA this CPU has.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using kernels::cpu::Isa;

constexpr DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                            DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K,
                            DType::Q4_K, DType::Q5_K, DType::Q6_K};

bool have(Isa isa) {
  kernels::cpu::set_isa_cap(isa);
  const bool ok = kernels::cpu::active_isa() == isa;
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  return ok;
}

TEST(MatmulBatchInvariance, EveryRowEqualsItsSingleRowProduct) {
  // K: two super-blocks of 256 plus nothing odd (quant formats need whole blocks); N = 37 leaves
  // a partial tile of weight rows and splits unevenly across threads.
  const int64_t K = 512, N = 37, max_m = 17;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> wf(static_cast<size_t>(N * K)), x(static_cast<size_t>(max_m * K));
  for (auto& v : wf) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!have(isa)) continue;
    kernels::cpu::set_isa_cap(isa);
    for (DType type : kTypes) {
      const int64_t row_bytes = dtype_row_bytes(type, K);
      std::vector<uint8_t> wq(static_cast<size_t>(N * row_bytes));
      for (int64_t r = 0; r < N; ++r)
        quantize_row(type, wf.data() + r * K, wq.data() + r * row_bytes, K);
      TensorView w;
      w.dtype = type;
      w.n_dims = 2;
      w.shape = {N, K, 1, 1};
      w.data = wq.data();
      const std::string what =
          std::string(kernels::cpu::isa_name(isa)) + " " + std::string(dtype_name(type));
      // The single-row products, one call per row.
      kernels::set_num_threads(2);
      std::vector<float> single(static_cast<size_t>(max_m * N));
      for (int64_t i = 0; i < max_m; ++i)
        kernels::matmul(x.data() + i * K, 1, w, single.data() + i * N);
      for (int threads : {1, 3}) {
        kernels::set_num_threads(threads);
        for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17}) {
          // Rows taken from an offset so row i of this call is row `first + i` of x.
          for (int64_t first : {int64_t{0}, max_m - m}) {
            std::vector<float> out(static_cast<size_t>(m * N));
            kernels::matmul(x.data() + first * K, m, w, out.data());
            for (int64_t i = 0; i < m; ++i) {
              ASSERT_EQ(std::memcmp(out.data() + i * N, single.data() + (first + i) * N,
                                    static_cast<size_t>(N) * sizeof(float)),
                        0)
                  << what << ": M=" << m << " row " << i << " (x row " << first + i << "), "
                  << threads << " threads";
            }
          }
        }
      }
    }
  }
  kernels::cpu::set_isa_cap(Isa::kAvx512);
  kernels::set_num_threads(0);
}

// Paged attention equals dense attention bitwise: the same rows scattered over shuffled blocks of
// 1, 3, 4, 16 or 64 positions (tokens of two "sequences" sharing one call) give the same output as
// one contiguous cache, on every path (reference, AVX2, AVX-512; head_dim 64 and 576, the MLA width
// that takes the reference path past 256).
TEST(AttentionBatchInvariance, PagedEqualsDenseBitwise) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t head_dim : {64, 576}) {
    const int64_t n_head = head_dim == 64 ? 4 : 2, n_kv = head_dim == 64 ? 2 : 1;
    const int64_t stride = n_kv * head_dim, n_pos = 70;
    const std::vector<int32_t> pos{0, 5, 15, 16, 17, 31, 33, 69};
    const int64_t T = static_cast<int64_t>(pos.size());
    std::vector<float> q(static_cast<size_t>(T * n_head * head_dim));
    std::vector<float> k(static_cast<size_t>(n_pos * stride)), v(k.size());
    for (auto& x : q) x = dist(rng);
    for (auto& x : k) x = dist(rng);
    for (auto& x : v) x = dist(rng);
    const kernels::AttentionParams p{T, n_head, n_kv, head_dim, stride, 0.125f};
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (!have(isa)) continue;
      kernels::cpu::set_isa_cap(isa);
      std::vector<float> dense(q.size());
      kernels::attention(q.data(), k.data(), v.data(), pos.data(), dense.data(), p);
      for (int32_t bs : {1, 3, 4, 16, 64}) {
        const int32_t n_blocks = static_cast<int32_t>((n_pos + bs - 1) / bs);
        // Two copies of the rows in one pool, each behind its own shuffled table.
        std::vector<int32_t> ids(static_cast<size_t>(2 * n_blocks));
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
        std::shuffle(ids.begin(), ids.end(), rng);
        const std::vector<int32_t> ta(ids.begin(), ids.begin() + n_blocks),
            tb(ids.begin() + n_blocks, ids.end());
        std::vector<float> pk(static_cast<size_t>(2 * n_blocks * bs * stride)), pv(pk.size());
        for (int64_t j = 0; j < n_pos; ++j) {
          for (const auto* t : {&ta, &tb}) {
            const int64_t at = (int64_t{(*t)[j / bs]} * bs + j % bs) * stride;
            std::copy_n(k.begin() + j * stride, stride, pk.begin() + at);
            std::copy_n(v.begin() + j * stride, stride, pv.begin() + at);
          }
        }
        std::vector<const int32_t*> tables;
        for (int64_t t = 0; t < T; ++t) tables.push_back(t % 2 ? tb.data() : ta.data());
        std::vector<float> paged(q.size());
        kernels::attention(q.data(), kernels::PagedKvView{pk.data(), pv.data(), tables.data(), bs},
                           pos.data(), paged.data(), p);
        EXPECT_EQ(std::memcmp(paged.data(), dense.data(), dense.size() * sizeof(float)), 0)
            << kernels::cpu::isa_name(isa) << " head_dim " << head_dim << " block size " << bs;
      }
    }
    kernels::cpu::set_isa_cap(Isa::kAvx512);
  }
}

}  // namespace
}  // namespace latent
