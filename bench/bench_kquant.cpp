// K-quant matmul (Q4_K, Q5_K, Q6_K, Q3_K, Q2_K) through kernels::matmul at the TinyLlama FFN shapes
// (5632×2048, 2048×5632): decode (M=1, weight bytes/s against the read bandwidth measured in the
// same run), small batch (M=64) and prefill (M=512, OP/s counting a multiply-add as 2), 1 and 2
// threads, at the best ISA, at AVX2, and on the scalar reference path.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using kernels::cpu::Isa;

struct Weights {
  std::vector<uint8_t> bytes;
  TensorView view;
};

Weights make_weights(DType t, int64_t n, int64_t k) {
  std::mt19937 rng(42);
  std::normal_distribution<float> d(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(k));
  Weights w;
  const int64_t rb = dtype_row_bytes(t, k);
  w.bytes.resize(static_cast<size_t>(n * rb));
  for (int64_t j = 0; j < n; ++j) {
    for (auto& x : row) x = d(rng);
    quantize_row(t, row.data(), w.bytes.data() + j * rb, k);
  }
  w.view = TensorView{t, 2, {n, k, 1, 1}, w.bytes.data()};
  return w;
}

// Args: dtype id, M, N, K, threads, isa cap (0 scalar reference, 1 avx2, 2 avx512).
void BM_Matmul(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  kernels::set_num_threads(static_cast<int>(state.range(4)));
  kernels::cpu::set_isa_cap(static_cast<Isa>(state.range(5)));
  const Weights w = make_weights(t, n, k);
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k)), out(static_cast<size_t>(m * n));
  for (auto& v : x) v = d(rng);
  for (auto _ : state) {
    kernels::matmul(x.data(), m, w.view, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(dtype_name(t)) + " " +
                 std::string(kernels::cpu::isa_name(kernels::cpu::active_isa())));
  const double bytes = static_cast<double>(n * w.view.row_bytes());
  using C = benchmark::Counter;
  state.counters["weight_B/s"] = C(bytes, C::kIsIterationInvariantRate, C::kIs1000);
  state.counters["OP/s"] = C(2.0 * m * n * k, C::kIsIterationInvariantRate, C::kIs1000);
  kernels::set_num_threads(0);
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

// Read bandwidth of a 1 GiB buffer in this run (neighbours move it), as the decode roofline.
void BM_ReadBandwidth(benchmark::State& state) {
  const int nt = static_cast<int>(state.range(0));
  double best = 0;
  for (auto _ : state)
    best = kernels::measure_read_bandwidth(int64_t{1} << 30, nt, 0.5).best_bytes_per_s;
  state.counters["read_B/s"] = best;
}

constexpr DType kTypes[] = {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q3_K, DType::Q2_K};
constexpr std::pair<int64_t, int64_t> kShapes[] = {{5632, 2048}, {2048, 5632}};

void fast_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t m : {1, 64, 512})
      for (auto [n, k] : kShapes)
        for (int64_t th : {1, 2}) b->Args({static_cast<int64_t>(t), m, n, k, th, 2});
}

// AVX2 at one shape, to compare the two ISAs' kernels.
void avx2_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t m : {1, 512}) b->Args({static_cast<int64_t>(t), m, 5632, 2048, 2, 1});
}

// The reference path is far slower at M=512; M=1 and M=64 show the gap.
void scalar_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t m : {1, 64}) b->Args({static_cast<int64_t>(t), m, 5632, 2048, 2, 0});
}

BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)
    ->Name("BM_Matmul/fast")
    ->Apply(fast_args)
    ->MinTime(0.2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Matmul)
    ->Name("BM_Matmul/avx2")
    ->Apply(avx2_args)
    ->MinTime(0.2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Matmul)
    ->Name("BM_Matmul/scalar")
    ->Apply(scalar_args)
    ->MinTime(0.2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace latent

BENCHMARK_MAIN();
