// The measurement loop of `latent bench` (llama-bench's pp/tg tests) and the per-token cost of a
// model that its rooflines divide by. pp: one forward of n_prompt tokens from an empty cache; tg:
// n_gen single-token forwards after a short untimed context. Random token ids, no sampling. Does
// not own the machine ceilings (kernels/peak.h) or any formatting (cli/cmd_bench.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/model.h"
#include "tensor/dtype.h"

namespace latent {

struct BenchOptions {
  int32_t n_prompt = 512;   // 0: no pp test
  int32_t n_gen = 128;      // 0: no tg test
  int32_t reps = 5;         // timed repetitions of each test, after one warm-up
  int32_t tg_context = 16;  // tokens already in the cache when tg's timed steps start
  uint64_t seed = 1234;     // for the random token ids
  // Called before each warm-up and timed run: test "pp"/"tg", run index (0 = warm-up), run count.
  std::function<void(const char* test, int run, int runs)> progress;
};

// Tokens per second of each timed repetition.
struct BenchSamples {
  std::vector<double> pp_tokens_per_s;
  std::vector<double> tg_tokens_per_s;
};

// Positions the benchmark's KV cache holds: max(n_prompt, tg_context + n_gen).
int32_t bench_n_ctx(const BenchOptions& options);

// Throws latent::Error for options that make no test or do not fit in memory.
BenchSamples run_bench(Model& model, const BenchOptions& options);

struct MeanSd {
  double mean = 0.0;
  double sd = 0.0;  // sample standard deviation (n − 1), 0 for one sample
};
MeanSd mean_sd(std::span<const double> v);

// What one token costs. The matrices are those a forward multiplies by: every layer matrix and the
// output projection (token_embd itself when tied); routed experts count the share a token uses.
// The embedding lookup reads one token_embd row.
struct ModelCost {
  int64_t matrix_params = 0;
  int64_t bytes_per_token = 0;   // decode: all matrix bytes + one token_embd row unless tied
  double flops_per_token = 0.0;  // prefill: 2 × matrix_params
  DType main_type = DType::F32;  // the dtype holding most matrix parameters
};
ModelCost model_cost(const Model& model);

// The arithmetic a prefill of this weight type runs on: "int8" for quantized types (activations
// are quantized to 8 bits), "bf16" for BF16, "fp32" for F32 and F16.
const char* prefill_arithmetic(DType main_type);

}  // namespace latent
