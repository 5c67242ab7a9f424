// Quantized-weight matmul (legacy formats Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) through kernels::matmul at
// the TinyLlama FFN shapes (5632×2048, 2048×5632): decode (M=1, weight bytes/s against the read
// bandwidth measured in the same run), small batch (M=64) and prefill (M=512, FLOP/s counting a
// multiply-add as 2), 1 and 2 threads, at the best ISA and on the scalar reference path.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "matmul_bench_util.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using kernels::cpu::Isa;

using bench::make_act;
using bench::make_weights;
using bench::Weights;

// Args: dtype id, M, N, K, threads, isa (0 scalar reference, 2 best available).
void BM_Matmul(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  kernels::set_num_threads(static_cast<int>(state.range(4)));
  kernels::cpu::set_isa_cap(static_cast<Isa>(state.range(5)));
  const Weights w = make_weights(t, n, k);
  const std::vector<float> x = make_act(m, k);
  std::vector<float> out(static_cast<size_t>(m * n));
  for (auto _ : state) {
    kernels::matmul(x.data(), m, w.view, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(dtype_name(t)) + " " +
                 std::string(kernels::cpu::isa_name(kernels::cpu::active_isa())));
  bench::set_counters(state, m, w.view);
  kernels::set_num_threads(0);
  kernels::cpu::set_isa_cap(Isa::kAvx512);
}

// Decode and small-batch shapes, GGUF layout against the weights prepared at load
// (kernels::prepare_weights: rows interleaved by 16 for Q4_0/Q8_0/Q4_K/Q6_K on AVX-512). Args:
// dtype id, M, N, K, threads, prepared (0/1).
void BM_MatmulPrepared(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  kernels::set_num_threads(static_cast<int>(state.range(4)));
  Weights w = make_weights(t, n, k);
  std::shared_ptr<const void> owner;
  if (state.range(5)) owner = kernels::prepare_weights(w.view);
  const std::vector<float> x = make_act(m, k);
  std::vector<float> out(static_cast<size_t>(m * n));
  for (auto _ : state) {
    kernels::matmul(x.data(), m, w.view, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(dtype_name(t)) + (owner ? " prepared" : " gguf"));
  bench::set_counters(state, m, w.view);
  kernels::set_num_threads(0);
}

void prepared_args(benchmark::internal::Benchmark* b) {
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K})
    for (int64_t m : {1, 4, 8, 16, 64, 512})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{5632, 2048}, {2048, 5632}})
        for (int64_t p : {0, 1}) b->Args({static_cast<int64_t>(t), m, n, k, 1, p});
}

// Decode as it meets the weights: single-row products over prepared copies of one weight that
// together (~512 MiB) far exceed the caches, each call on the next copy, so every byte comes
// from DRAM as in a token's pass over the model. Compare weight_B/s with BM_ReadBandwidth.
// Args: dtype id, threads.
void BM_MatmulPreparedDram(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  constexpr int64_t n = 5632, k = 2048;
  kernels::set_num_threads(static_cast<int>(state.range(1)));
  Weights w = make_weights(t, n, k);
  const int64_t copies = std::max<int64_t>(2, (int64_t{512} << 20) / w.view.nbytes());
  std::vector<std::vector<uint8_t>> bytes(static_cast<size_t>(copies), w.bytes);
  std::vector<TensorView> views(static_cast<size_t>(copies), w.view);
  std::vector<TensorView*> ptrs;
  for (int64_t c = 0; c < copies; ++c) {
    views[static_cast<size_t>(c)].data = bytes[static_cast<size_t>(c)].data();
    ptrs.push_back(&views[static_cast<size_t>(c)]);
  }
  // One arena on 2 MiB pages, as the model's weights are; the originals are freed as copied.
  const std::shared_ptr<const void> owner =
      kernels::prepare_weights(ptrs, [&](const TensorView& done) {
        for (auto& b : bytes)
          if (b.data() == done.data) std::vector<uint8_t>().swap(b);
      });
  const std::vector<float> x = make_act(1, k);
  std::vector<float> out(static_cast<size_t>(n));
  size_t next = 0;
  for (auto _ : state) {
    kernels::matmul(x.data(), 1, views[next], out.data());
    benchmark::DoNotOptimize(out.data());
    next = (next + 1) % views.size();
  }
  state.SetLabel(std::string(dtype_name(t)) + (owner ? " prepared, DRAM" : " gguf, DRAM"));
  bench::set_counters(state, 1, w.view);
  kernels::set_num_threads(0);
}

// Read bandwidth of a 1 GiB buffer in this run (neighbours move it), as the decode roofline.
void BM_ReadBandwidth(benchmark::State& state) {
  const int nt = static_cast<int>(state.range(0));
  double best = 0;
  for (auto _ : state)
    best = kernels::measure_read_bandwidth(int64_t{1} << 30, nt, 0.5).best_bytes_per_s;
  state.counters["read_B/s"] = best;
}

constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                            DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q3_K, DType::Q2_K,
                            DType::F16,  DType::BF16, DType::F32};
constexpr std::pair<int64_t, int64_t> kShapes[] = {{5632, 2048}, {2048, 5632}};

void fast_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t m : {1, 64, 512})
      for (auto [n, k] : kShapes)
        for (int64_t th : {1, 2}) b->Args({static_cast<int64_t>(t), m, n, k, th, 2});
}

// The AVX2 fallback (isa 1), for machines without AVX-512.
void avx2_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t m : {1, 512}) b->Args({static_cast<int64_t>(t), m, 5632, 2048, 2, 1});
}

// The reference path is ~50x slower at M=512; M=1 and M=64 show the gap.
void scalar_args(benchmark::internal::Benchmark* b) {
  for (DType t : kTypes)
    for (int64_t m : {1, 64}) b->Args({static_cast<int64_t>(t), m, 5632, 2048, 2, 0});
}

BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatmulPreparedDram)
    ->ArgsProduct({{static_cast<int64_t>(DType::Q4_0), static_cast<int64_t>(DType::Q8_0),
                    static_cast<int64_t>(DType::Q4_K), static_cast<int64_t>(DType::Q6_K)},
                   {1, 2}})
    ->MinTime(0.5)
    ->UseRealTime();
BENCHMARK(BM_MatmulPrepared)
    ->Name("BM_Matmul/prepared")
    ->Apply(prepared_args)
    ->MinTime(0.1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
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
