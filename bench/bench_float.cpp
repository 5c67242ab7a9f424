// Float-weight matmul (F32, F16, BF16) through kernels::matmul at the TinyLlama FFN shapes:
// decode (M=1, weight bytes/s against the read bandwidth measured in the same run) and prefill
// (M=512, FLOP/s), 1 and 2 threads. Also both BF16 strategies on AVX-512 (bf16 activations +
// vdpbf16ps vs weights widened to f32) through a copy of the tiling driver, to choose between them.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/cpu/float_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "tensor/quant.h"

namespace latent {
namespace {

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

std::vector<float> make_act(int64_t m, int64_t k) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (auto& v : x) v = d(rng);
  return x;
}

void set_counters(benchmark::State& state, int64_t m, const TensorView& w) {
  const double bytes = static_cast<double>(w.rows() * w.row_bytes());
  const double flops = 2.0 * m * w.rows() * w.cols();
  using C = benchmark::Counter;
  state.counters["weight_B/s"] = C(bytes, C::kIsIterationInvariantRate, C::kIs1000);
  state.counters["FLOP/s"] = C(flops, C::kIsIterationInvariantRate, C::kIs1000);
}

// Args: dtype id, M, N, K, threads.
void BM_Matmul(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  kernels::set_num_threads(static_cast<int>(state.range(4)));
  // Decode reads weights from DRAM: cycle through copies totalling ≥ 128 MiB, 4× the L3.
  const int64_t bytes = n * dtype_row_bytes(t, k);
  const int64_t copies = m == 1 ? std::max<int64_t>(1, (int64_t{128} << 20) / bytes + 1) : 1;
  std::vector<Weights> ws;
  for (int64_t c = 0; c < copies; ++c) ws.push_back(make_weights(t, n, k));
  const Weights& w = ws[0];
  const std::vector<float> x = make_act(m, k);
  std::vector<float> out(static_cast<size_t>(m * n));
  size_t next = 0;
  for (auto _ : state) {
    kernels::matmul(x.data(), m, ws[next].view, out.data());
    next = (next + 1) % ws.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(dtype_name(t)) + " " +
                 std::string(kernels::cpu::isa_name(kernels::cpu::active_isa())));
  set_counters(state, m, w.view);
  kernels::set_num_threads(0);
}

// The driver of cpu_kernels.cpp's matmul_fast (convert once; 16-row blocks split over threads;
// 4×4 tiles), run with an explicit kernel. Args: strategy (0 widen, 1 dpbf16), M, N, K, threads.
void BM_Bf16Strategy(benchmark::State& state) {
  kernels::cpu::set_isa_cap(kernels::cpu::Isa::kAvx512);
  if (kernels::cpu::active_isa() != kernels::cpu::Isa::kAvx512) {
    state.SkipWithError("needs avx512");
    return;
  }
  const kernels::cpu::DotKernel dk = state.range(0) ? kernels::cpu::bf16_dot_avx512_dpbf16()
                                                    : kernels::cpu::bf16_dot_avx512_widen();
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  const int nt = static_cast<int>(state.range(4));
  const Weights w = make_weights(DType::BF16, n, k);
  const std::vector<float> x = make_act(m, k);
  std::vector<float> out(static_cast<size_t>(m * n));
  const int64_t ab = dtype_row_bytes(dk.act_type, k), wb = w.view.row_bytes();
  std::vector<uint8_t> act(static_cast<size_t>(m * ab));
  const auto* wp = static_cast<const uint8_t*>(w.view.data);
  for (auto _ : state) {
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < m; ++i) dk.convert_act(x.data() + i * k, act.data() + i * ab, k);
      const int64_t tiles = (n + 3) / 4, tid = omp_get_thread_num(), cnt = omp_get_num_threads();
      const int64_t n0 = std::min(n, tiles * tid / cnt * 4);
      const int64_t n1 = std::min(n, tiles * (tid + 1) / cnt * 4);
      for (int64_t jb = n0; jb < n1; jb += 16) {
        const int64_t je = std::min(n1, jb + 16);
        for (int64_t i = 0; i < m; i += 4) {
          const int cols = static_cast<int>(std::min<int64_t>(4, m - i));
          for (int64_t j = jb; j < je; j += 4)
            dk.tile(k, wp + j * wb, wb, static_cast<int>(std::min<int64_t>(4, je - j)),
                    act.data() + i * ab, ab, cols, out.data() + i * n + j, n);
        }
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(state.range(0) ? "bf16 act + vdpbf16ps" : "bf16 widened to f32");
  set_counters(state, m, w.view);
}

// Read bandwidth of a 1 GiB buffer in this run (neighbours move it), as the decode roofline.
void BM_ReadBandwidth(benchmark::State& state) {
  const int nt = static_cast<int>(state.range(0));
  double best = 0;
  for (auto _ : state)
    best = kernels::measure_read_bandwidth(int64_t{1} << 30, nt, 1.0).best_bytes_per_s;
  state.counters["read_B/s"] = best;
}

void float_args(benchmark::internal::Benchmark* b) {
  for (DType t : {DType::F32, DType::F16, DType::BF16})
    for (int64_t m : {1, 512})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{5632, 2048}, {2048, 5632}})
        for (int64_t th : {1, 2}) b->Args({static_cast<int64_t>(t), m, n, k, th});
}

void strategy_args(benchmark::internal::Benchmark* b) {
  for (int64_t s : {0, 1})
    for (int64_t m : {1, 512})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{5632, 2048}, {2048, 5632}})
        for (int64_t th : {1, 2}) b->Args({s, m, n, k, th});
}

BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)->Apply(float_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Bf16Strategy)->Apply(strategy_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace latent

BENCHMARK_MAIN();
