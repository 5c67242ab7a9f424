// The two BF16 strategies on AVX-512 — bf16 activations + vdpbf16ps vs weights widened to f32 —
// through a copy of the tiling driver, to choose between them (the registered one also runs in
// bench_matmul). Decode (M=1) and prefill (M=512) at the TinyLlama FFN shapes, 1 and 2 threads.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/float_ops.h"
#include "kernels/cpu/isa.h"
#include "matmul_bench_util.h"

namespace latent {
namespace {

using bench::make_act;
using bench::make_weights;
using bench::set_counters;
using bench::Weights;

// The matmul driver's loop (16-row blocks of the kernel's tiles, activation rows an odd number of
// cache lines apart), run with an explicit kernel. Args:
// strategy (0 widen, 1 dpbf16), M, N, K, threads.
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
  const int64_t ab = 64 * (((act_row_bytes(dk, k) + 63) / 64) | 1), wb = w.view.row_bytes();
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
        for (int64_t i = 0; i < m; i += dk.max_cols) {
          const int cols = static_cast<int>(std::min<int64_t>(dk.max_cols, m - i));
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

void strategy_args(benchmark::internal::Benchmark* b) {
  for (int64_t s : {0, 1})
    for (int64_t m : {1, 512})
      for (auto [n, k] : {std::pair<int64_t, int64_t>{5632, 2048}, {2048, 5632}})
        for (int64_t th : {1, 2}) b->Args({s, m, n, k, th});
}

BENCHMARK(BM_Bf16Strategy)->Apply(strategy_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace latent

BENCHMARK_MAIN();
