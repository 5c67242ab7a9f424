// Shared setup of the matmul microbenchmarks: random weights of any dtype (quantized with the
// tensor layer's quantize_row), random activations, and the weight-bytes/s and FLOP/s counters.
#pragma once

#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "tensor/quant.h"
#include "tensor/tensor_view.h"

namespace latent::bench {

struct Weights {
  std::vector<uint8_t> bytes;
  TensorView view;
};

inline Weights make_weights(DType t, int64_t n, int64_t k) {
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

inline std::vector<float> make_act(int64_t m, int64_t k) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (auto& v : x) v = d(rng);
  return x;
}

// weight_B/s: weight bytes streamed per second (the decode roofline's unit); FLOP/s: 2·M·N·K per
// second.
inline void set_counters(benchmark::State& state, int64_t m, const TensorView& w) {
  using C = benchmark::Counter;
  state.counters["weight_B/s"] =
      C(static_cast<double>(w.rows() * w.row_bytes()), C::kIsIterationInvariantRate, C::kIs1000);
  state.counters["FLOP/s"] =
      C(2.0 * m * w.rows() * w.cols(), C::kIsIterationInvariantRate, C::kIs1000);
}

}  // namespace latent::bench
