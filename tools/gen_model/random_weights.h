// tools/gen_model/random_weights.h: the reproducible weight source of latent-gen-model. Owns the
// RNG (splitmix64 + Box-Muller, identical on every platform), the per-tensor streams and
// TensorMaker, which adds random tensors of any rank to a GgufWriter. Knows no architecture; the
// shapes and scales are the callers' (latent-gen-model.cpp, deepseek2.h).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "gguf/gguf_writer.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace latent::gen {

inline uint64_t mix64(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Deterministic on every platform (std::normal_distribution is not): splitmix64 + Box-Muller.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  void normals(float* v, int64_t n, double mean, double stddev) {
    for (int64_t i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(uniform()));
      const double phi = 2.0 * std::numbers::pi * uniform();
      v[i] = static_cast<float>(mean + stddev * r * std::cos(phi));
      if (i + 1 < n) v[i + 1] = static_cast<float>(mean + stddev * r * std::sin(phi));
    }
  }

 private:
  uint64_t state_;
};

// Every block of kRowsPerStream rows of a tensor draws from its own stream (seed, name, block), so
// the values depend neither on the tensor order, nor on --type, nor on the thread count: the same
// seed gives the same underlying weights in every dtype.
constexpr int64_t kRowsPerStream = 16;

inline uint64_t stream_seed(uint64_t seed, const std::string& name, int64_t block) {
  uint64_t h = 0xCBF29CE484222325ull ^ seed;  // FNV-1a of the name
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
  return mix64(mix64(h) + static_cast<uint64_t>(block));
}

// Runs fn(block) for block in [0, n_blocks) on all cores.
inline void parallel_blocks(int64_t n_blocks, const std::function<void(int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t b = next++; b < n_blocks; b = next++) fn(b);
  };
  const int64_t n_threads =
      std::min<int64_t>(n_blocks, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < n_threads; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

// A [rows, cols] tensor ~ N(mean, stddev), stored as dtype t (quantize_row per row).
inline std::vector<uint8_t> random_tensor(uint64_t seed, const std::string& name, DType t,
                                          int64_t rows, int64_t cols, double mean, double stddev) {
  const int64_t row_bytes = dtype_row_bytes(t, cols);
  const int64_t n_blocks = (rows + kRowsPerStream - 1) / kRowsPerStream;
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  parallel_blocks(n_blocks, [&](int64_t b) {
    std::vector<float> v(static_cast<size_t>(kRowsPerStream * cols));
    const int64_t r0 = b * kRowsPerStream, n = std::min(kRowsPerStream, rows - r0);
    Rng(stream_seed(seed, name, b)).normals(v.data(), n * cols, mean, stddev);
    for (int64_t r = 0; r < n; ++r) {
      quantize_row(t, v.data() + r * cols, bytes.data() + (r0 + r) * row_bytes, cols);
    }
  });
  return bytes;
}

// The same values as random_tensor(..., DType::F32, ...), as floats (for tensors that are stored
// rearranged, e.g. deepseek2's attn_k_b / attn_v_b split out of one logical kv_b matrix).
inline std::vector<float> random_values(uint64_t seed, const std::string& name, int64_t rows,
                                        int64_t cols, double mean, double stddev) {
  std::vector<float> v(static_cast<size_t>(rows * cols));
  const int64_t n_blocks = (rows + kRowsPerStream - 1) / kRowsPerStream;
  parallel_blocks(n_blocks, [&](int64_t b) {
    const int64_t r0 = b * kRowsPerStream, n = std::min(kRowsPerStream, rows - r0);
    Rng(stream_seed(seed, name, b)).normals(v.data() + r0 * cols, n * cols, mean, stddev);
  });
  return v;
}

// Adds random tensors to a GgufWriter. Shapes are outermost-first; "rows" are all but the
// innermost dimension, which is the quantization row.
class TensorMaker {
 public:
  TensorMaker(GgufWriter& w, uint64_t seed, DType type) : w_(w), seed_(seed), type_(type) {}

  // The storage type of a tensor whose innermost dimension is cols: --type when cols is a multiple
  // of its block size, else F32.
  DType type_for(int64_t cols) const {
    return cols % traits(type_).block_size == 0 ? type_ : DType::F32;
  }
  // ~ N(0, stddev) in --type where the rows allow (F32 when force_f32).
  void weight(const std::string& name, const std::vector<int64_t>& shape, double stddev,
              bool force_f32 = false) {
    const int64_t cols = shape.back();
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    const DType t = force_f32 ? DType::F32 : type_for(cols);
    w_.add_tensor(name, t, shape, random_tensor(seed_, name, t, rows, cols, 0.0, stddev));
  }
  // 2-D matrix [rows, cols] ~ N(0, 1/sqrt(cols)): each output feature has unit variance for a
  // unit-variance input, so activations and logits stay O(1).
  void matrix(const std::string& name, int64_t rows, int64_t cols) {
    weight(name, {rows, cols}, 1.0 / std::sqrt(static_cast<double>(cols)));
  }
  // 1-D F32 vector ~ N(mean, stddev): norms around 1 +- 0.1, biases around 0.
  void vector(const std::string& name, int64_t n, double mean, double stddev) {
    w_.add_tensor(name, DType::F32, {n},
                  random_tensor(seed_, name, DType::F32, 1, n, mean, stddev));
  }
  // Values computed by the caller, stored in --type where the rows allow.
  void values(const std::string& name, const std::vector<int64_t>& shape,
              const std::vector<float>& v) {
    w_.add_tensor_f32(name, type_for(shape.back()), shape, v);
  }
  uint64_t seed() const { return seed_; }

 private:
  GgufWriter& w_;
  uint64_t seed_;
  DType type_;
};

}  // namespace latent::gen
