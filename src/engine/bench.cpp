// `latent bench`'s measurement loop and model cost (engine/bench.h). Follows llama-bench's
// procedure: a warm-up run of each test, then `reps` timed runs, tokens/s per run.
#include "engine/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "base/error.h"
#include "model/kv_cache.h"

namespace latent {
namespace {

using Clock = std::chrono::steady_clock;

class TokenSource {
 public:
  TokenSource(uint64_t seed, int32_t n_vocab) : state_(seed), n_vocab_(n_vocab) {}
  std::vector<TokenId> next(int32_t n) {
    std::vector<TokenId> out(static_cast<size_t>(n));
    for (TokenId& t : out) {
      state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
      t = static_cast<TokenId>((state_ >> 33) % static_cast<uint64_t>(n_vocab_));
    }
    return out;
  }

 private:
  uint64_t state_;
  int32_t n_vocab_;
};

std::vector<Pos> positions(Pos first, int32_t n) {
  std::vector<Pos> p(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) p[i] = first + i;
  return p;
}

double elapsed(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One forward of all n tokens from position 0 (the cache's old contents are overwritten).
double time_prompt(Model& m, KvCache& cache, TokenSource& src, int32_t n, float* logits) {
  const auto tokens = src.next(n);
  const auto pos = positions(0, n);
  const auto t0 = Clock::now();
  m.forward(tokens, pos, cache, /*all_logits=*/false, logits);
  return elapsed(t0);
}

// The untimed context, then n single-token forwards.
double time_generation(Model& m, KvCache& cache, TokenSource& src, int32_t context, int32_t n,
                       float* logits) {
  if (context > 0) m.forward(src.next(context), positions(0, context), cache, false, logits);
  const auto tokens = src.next(n);
  const auto t0 = Clock::now();
  for (int32_t i = 0; i < n; ++i) {
    const Pos p = context + i;
    m.forward(std::span<const TokenId>(&tokens[i], 1), std::span<const Pos>(&p, 1), cache, false,
              logits);
  }
  return elapsed(t0);
}

}  // namespace

int32_t bench_n_ctx(const BenchOptions& o) {
  return std::max(o.n_prompt, o.n_gen > 0 ? o.tg_context + o.n_gen : 0);
}

BenchSamples run_bench(Model& model, const BenchOptions& o) {
  if (o.n_prompt < 0 || o.n_gen < 0 || o.reps < 1 || o.tg_context < 0)
    throw Error("bench: expected n_prompt >= 0, n_gen >= 0, reps >= 1");
  if (o.n_prompt == 0 && o.n_gen == 0)
    throw Error("bench: -p and -n are both 0, so there is nothing to measure");
  const ModelConfig& c = model.config();
  KvCache cache(c, bench_n_ctx(o));
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  TokenSource src(o.seed, c.n_vocab);
  auto report = [&](const char* test, int run) {
    if (o.progress) o.progress(test, run, o.reps);
  };
  BenchSamples s;
  if (o.n_prompt > 0) {
    report("pp", 0);
    time_prompt(model, cache, src, o.n_prompt, logits.data());
    for (int r = 1; r <= o.reps; ++r) {
      report("pp", r);
      s.pp_tokens_per_s.push_back(o.n_prompt /
                                  time_prompt(model, cache, src, o.n_prompt, logits.data()));
    }
  }
  if (o.n_gen > 0) {
    report("tg", 0);
    time_generation(model, cache, src, o.tg_context, 1, logits.data());
    for (int r = 1; r <= o.reps; ++r) {
      report("tg", r);
      s.tg_tokens_per_s.push_back(
          o.n_gen / time_generation(model, cache, src, o.tg_context, o.n_gen, logits.data()));
    }
  }
  return s;
}

MeanSd mean_sd(std::span<const double> v) {
  MeanSd r;
  if (v.empty()) return r;
  for (double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() < 2) return r;
  double ss = 0.0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  return r;
}

// From the file's tensor list, so every architecture counts the same way: each tensor of 2+
// dimensions is a matrix, except token_embd, which is a lookup of one row unless there is no
// output.weight (tied). Routed-expert stacks (*_exps) count n_expert_used / n_expert of their
// size (the expected share a token reads); MTP (nextn) layers past the decoder are skipped.
ModelCost model_cost(const Model& model) {
  const GgufFile& f = model.file();
  const std::string arch = model.config().arch_name;
  const int64_t n_block = f.get_u32_opt(arch + ".block_count").value_or(0);
  const int64_t n_decoder = n_block - f.get_u32_opt(arch + ".nextn_predict_layers").value_or(0);
  const double expert_share =
      f.get_u32_opt(arch + ".expert_count").value_or(0) > 0
          ? static_cast<double>(f.get_u32_opt(arch + ".expert_used_count").value_or(0)) /
                *f.get_u32_opt(arch + ".expert_count")
          : 1.0;
  const bool tied = f.find_tensor("output.weight") == nullptr;
  ModelCost cost;
  std::map<DType, double> params_by_type;
  double params = 0.0, bytes = 0.0;
  for (const GgufTensorInfo& t : f.tensors()) {
    if (t.n_dims < 2) continue;
    int64_t numel = 1;
    for (int i = 0; i < t.n_dims; ++i) numel *= t.shape[i];
    if (t.name == "token_embd.weight" && !tied) {
      bytes += static_cast<double>(t.nbytes) / (numel / t.shape[t.n_dims - 1]);
      continue;
    }
    int layer = -1;
    if (std::sscanf(t.name.c_str(), "blk.%d.", &layer) == 1 && layer >= n_decoder) continue;
    const double share = t.name.find("_exps") != std::string::npos ? expert_share : 1.0;
    params += share * static_cast<double>(numel);
    bytes += share * static_cast<double>(t.nbytes);
    params_by_type[t.dtype] += share * static_cast<double>(numel);
  }
  cost.matrix_params = std::llround(params);
  cost.bytes_per_token = std::llround(bytes);
  cost.flops_per_token = 2.0 * static_cast<double>(cost.matrix_params);
  double most = -1.0;
  for (const auto& [type, n] : params_by_type) {
    if (n > most) most = n, cost.main_type = type;
  }
  return cost;
}

const char* prefill_arithmetic(DType t) {
  if (t == DType::BF16) return "bf16";
  if (t == DType::F32 || t == DType::F16) return "fp32";
  return "int8";
}

}  // namespace latent
