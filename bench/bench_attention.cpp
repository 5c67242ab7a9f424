// kernels::attention at the TinyLlama head shape (32 query heads, 4 KV heads, head_dim 64): a
// 512-token causal prefill (FLOP/s: 4·head_dim per (token, head, visible position)) and one decode
// token at position 2048 (KV-cache bytes read per second), on 1 and 2 threads; and DeepSeek-V2's
// absorbed MLA (16 heads over one 576-wide latent row per position that serves as K and V).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"

namespace latent {
namespace {

struct Shape {
  int64_t head, head_kv, dim;
  bool k_is_v;  // MLA: the latent row is both the key and the value
};
// TinyLlama (8 query heads per KV head), DeepSeek-V2 MLA (latent rows), 2 query heads per KV head
// at head_dim 128 (the smallest group the grouped kernel takes) and one (multi-head attention: the
// per-head kernel, which measured faster there).
constexpr Shape kShapes[] = {
    {32, 4, 64, false}, {16, 1, 576, true}, {16, 8, 128, false}, {16, 16, 64, false}};

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Args: first position, tokens, threads, shape (index into kShapes).
void BM_Attention(benchmark::State& state) {
  const int64_t first = state.range(0), n_tok = state.range(1);
  const Shape sh = kShapes[state.range(3)];
  const int64_t stride = sh.head_kv * sh.dim;
  kernels::set_num_threads(static_cast<int>(state.range(2)));
  const int64_t n_pos = first + n_tok;
  const auto k = randn(static_cast<size_t>(n_pos * stride), 1);
  const auto v = randn(static_cast<size_t>(n_pos * stride), 2);
  const auto q = randn(static_cast<size_t>(n_tok * sh.head * sh.dim), 3);
  std::vector<float> out(q.size());
  std::vector<int32_t> pos(static_cast<size_t>(n_tok));
  double visible = 0;  // Σ_t (pos[t] + 1)
  for (int64_t t = 0; t < n_tok; ++t)
    visible += double(pos[t] = static_cast<int32_t>(first + t)) + 1;
  const kernels::AttentionParams p{n_tok,  sh.head, sh.head_kv,
                                   sh.dim, stride,  1.0f / std::sqrt(float(sh.dim))};
  const float* vp = sh.k_is_v ? k.data() : v.data();
  for (auto _ : state) {
    kernels::attention(q.data(), k.data(), vp, pos.data(), out.data(), p);
    benchmark::DoNotOptimize(out.data());
  }
  using C = benchmark::Counter;
  state.counters["FLOP/s"] =
      C(visible * sh.head * 4.0 * sh.dim, C::kIsIterationInvariantRate, C::kIs1000);
  // K and V rows each query head's KV head reads (once per KV head when its group shares a cache)
  state.counters["KV_B/s"] = C(double(n_pos) * stride * (sh.k_is_v ? 1 : 2) * sizeof(float),
                               C::kIsIterationInvariantRate, C::kIs1000);
  state.SetLabel(std::string(kernels::cpu::isa_name(kernels::cpu::active_isa())));
  kernels::set_num_threads(0);
}

BENCHMARK(BM_Attention)
    ->ArgNames({"first_pos", "tokens", "threads", "shape"})
    ->Args({0, 512, 1, 0})
    ->Args({0, 512, 2, 0})
    ->Args({2048, 1, 1, 0})
    ->Args({2048, 1, 2, 0})
    ->Args({0, 256, 2, 1})
    ->Args({512, 1, 2, 1})
    ->Args({2048, 1, 2, 1})
    ->Args({0, 512, 2, 2})
    ->Args({2048, 1, 2, 2})
    ->Args({0, 512, 2, 3})
    ->Args({2048, 1, 2, 3})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace latent

BENCHMARK_MAIN();
