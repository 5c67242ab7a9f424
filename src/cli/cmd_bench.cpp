// `latent bench`: llama-bench-style prompt (pp) and generation (tg) speed of one model, with the
// machine's ceilings measured in the same run (read bandwidth, FP32/INT8/BF16 peaks) and every
// figure as a fraction of its roofline; peak RSS against file + KV cache. A table on stdout, or
// exactly one JSON object with --json. The loop is engine/bench.h, the ceilings kernels/peak.h.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "engine/bench.h"
#include "kernels/cpu/isa.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tensor/dtype.h"

namespace latent::cli {
namespace {

constexpr double kPeakSeconds = 0.3;  // per arithmetic peak; long enough to be stable

struct BenchArgs {
  std::string model;
  BenchOptions opt;
  int threads = 0;
  int64_t bandwidth_mib = 1024;
  bool json = false;
};

struct Ceilings {
  kernels::ReadBandwidth bw;  // the final measurement merged with the probes between tg runs
  int probes = 0;             // passes of those probes
  double fp32 = 0.0, int8 = 0.0, bf16 = 0.0;  // ops/s; bf16 0 when not measured
};

// The machine's read bandwidth moves by up to 2× within minutes on a shared host, so one
// measurement taken after the tests can sit in a slower or faster phase than the tg runs it is the
// roofline of. bench also reads the buffer right before every timed tg run; the ceiling is the
// best pass over all of those and the final measurement.
void merge(kernels::ReadBandwidth& into, const kernels::ReadBandwidth& probe) {
  // Time per byte of buffer over all passes, which both measurements read at the same size.
  const double time_into = into.passes / std::max(into.mean_bytes_per_s, 1.0),
               time_probe = probe.passes / std::max(probe.mean_bytes_per_s, 1.0);
  into.best_bytes_per_s = std::max(into.best_bytes_per_s, probe.best_bytes_per_s);
  into.passes += probe.passes;
  into.mean_bytes_per_s = into.passes / (time_into + time_probe);
}

Ceilings measure_ceilings(const BenchArgs& a, int threads, bool want_bf16,
                          const kernels::ReadBandwidth& probes) {
  Ceilings c;
  c.bw = kernels::measure_read_bandwidth(a.bandwidth_mib << 20, threads, kPeakSeconds);
  c.probes = probes.passes;
  merge(c.bw, probes);
  c.fp32 = kernels::measure_peak(kernels::PeakKind::kFp32Fma, threads, kPeakSeconds);
  c.int8 = kernels::measure_peak(kernels::PeakKind::kInt8Dot, threads, kPeakSeconds);
  if (want_bf16) c.bf16 = kernels::measure_peak(kernels::PeakKind::kBf16Dot, threads, kPeakSeconds);
  return c;
}

int64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", bytes / (1 << 20));
  return b;
}

// A value with a null for tests that were not run.
nlohmann::json or_null(bool ran, double v) {
  return ran ? nlohmann::json(v) : nlohmann::json(nullptr);
}

void print_row(const std::string& test, const MeanSd& s, double roof, const std::string& ceiling) {
  char tps[48];
  std::snprintf(tps, sizeof tps, "%.2f ± %.2f", s.mean, s.sd);
  std::printf("| %-7s | %16s | %12.1f | %10.1f %% | %-34s |\n", test.c_str(), tps, roof,
              100.0 * s.mean / roof, ceiling.c_str());
}

// Everything one run measured and derived, for either output format.
struct Report {
  const BenchArgs* args = nullptr;
  std::string arch, type, isa, arith;  // arith: the prefill's peak (engine/bench.h)
  int threads = 0;
  int64_t n_params = 0, file_bytes = 0, kv_bytes = 0, rss = 0;
  ModelCost cost;
  BenchSamples s;
  MeanSd pp, tg;
  Ceilings c;
  // Best pass of the bandwidth probe right before each timed tg run, and the mean over the runs of
  // tg_i ÷ (that probe ÷ bytes per token): each run against the bandwidth of its own moment.
  std::vector<double> probe_bytes_per_s;
  double tg_paired = 0.0;
  double peak = 0.0, pp_roof = 0.0, tg_roof = 0.0;  // ops/s, tokens/s, tokens/s
  bool ran_pp() const { return !s.pp_tokens_per_s.empty(); }
  bool ran_tg() const { return !s.tg_tokens_per_s.empty(); }
};

std::vector<double> gbs(const std::vector<double>& bytes_per_s) {
  std::vector<double> v;
  for (double b : bytes_per_s) v.push_back(b / 1e9);
  return v;
}

void print_json(const Report& r) {
  const BenchArgs& a = *r.args;
  const nlohmann::json j = {
      {"model", a.model},
      {"arch", r.arch},
      {"model_type", r.type},
      {"file_bytes", r.file_bytes},
      {"n_params", r.n_params},
      {"matrix_params", r.cost.matrix_params},
      {"weight_bytes_per_token", r.cost.bytes_per_token},
      {"flops_per_token", r.cost.flops_per_token},
      {"threads", r.threads},
      {"isa", r.isa},
      {"n_prompt", a.opt.n_prompt},
      {"n_gen", a.opt.n_gen},
      {"reps", a.opt.reps},
      {"tg_context", a.opt.tg_context},
      {"pp_tokens_per_s", or_null(r.ran_pp(), r.pp.mean)},
      {"pp_tokens_per_s_sd", or_null(r.ran_pp(), r.pp.sd)},
      {"pp_samples", r.s.pp_tokens_per_s},
      {"tg_tokens_per_s", or_null(r.ran_tg(), r.tg.mean)},
      {"tg_tokens_per_s_sd", or_null(r.ran_tg(), r.tg.sd)},
      {"tg_samples", r.s.tg_tokens_per_s},
      {"read_bandwidth_gbs", r.c.bw.best_bytes_per_s / 1e9},
      {"read_bandwidth_mean_gbs", r.c.bw.mean_bytes_per_s / 1e9},
      {"read_bandwidth_buffer_bytes", a.bandwidth_mib << 20},
      {"read_bandwidth_passes", r.c.bw.passes},
      {"read_bandwidth_passes_between_tg_runs", r.c.probes},
      {"fp32_peak_gflops", r.c.fp32 / 1e9},
      {"int8_peak_gops", r.c.int8 / 1e9},
      {"bf16_peak_gflops", or_null(r.c.bf16 > 0, r.c.bf16 / 1e9)},
      {"pp_peak_arithmetic", r.arith},
      {"pp_peak_gops", r.peak / 1e9},
      {"tg_roofline_tokens_per_s", r.tg_roof},
      {"tg_roofline_fraction", or_null(r.ran_tg(), r.tg.mean / r.tg_roof)},
      {"read_bandwidth_before_tg_runs_gbs", gbs(r.probe_bytes_per_s)},
      {"tg_roofline_fraction_paired", or_null(r.ran_tg(), r.tg_paired)},
      {"pp_roofline_tokens_per_s", r.pp_roof},
      {"pp_peak_fraction", or_null(r.ran_pp(), r.pp.mean / r.pp_roof)},
      {"rss_peak_bytes", r.rss},
      {"kv_cache_bytes", r.kv_bytes},
  };
  std::printf("%s\n", j.dump(2).c_str());
}

void print_table(const Report& r) {
  const BenchArgs& a = *r.args;
  const double n = static_cast<double>(r.n_params);
  std::printf("model: %s | %s %s | %s | %.2f %s params | %s | %d threads\n", a.model.c_str(),
              r.arch.c_str(), r.type.c_str(), mib(r.file_bytes).c_str(),
              n >= 1e9 ? n / 1e9 : n / 1e6, n >= 1e9 ? "B" : "M", r.isa.c_str(), r.threads);
  std::printf("| %-7s | %16s | %12s | %12s | %-34s |\n", "test", "t/s", "roofline t/s",
              "of roofline", "ceiling");
  std::printf(
      "| ------- | ---------------- | ------------ | ------------ | "
      "---------------------------------- |\n");
  char ceil[64];
  if (r.ran_pp()) {
    std::snprintf(ceil, sizeof ceil, "%s %.0f GOP/s, %.2f GFLOP/token", r.arith.c_str(),
                  r.peak / 1e9, r.cost.flops_per_token / 1e9);
    print_row("pp" + std::to_string(a.opt.n_prompt), r.pp, r.pp_roof, ceil);
  }
  if (r.ran_tg()) {
    std::snprintf(ceil, sizeof ceil, "read %.1f GB/s, %s/token", r.c.bw.best_bytes_per_s / 1e9,
                  mib(static_cast<double>(r.cost.bytes_per_token)).c_str());
    // llama-bench's naming for a test at depth: tg128 @ d512
    const std::string depth = a.opt.tg_context != BenchOptions{}.tg_context
                                  ? "@d" + std::to_string(a.opt.tg_context)
                                  : "";
    print_row("tg" + std::to_string(a.opt.n_gen) + depth, r.tg, r.tg_roof, ceil);
  }
  using kernels::PeakKind;
  std::printf(
      "ceilings: read %.1f GB/s best, %.1f mean (%d passes over %s, %d of them between the tg "
      "runs) | fp32 %.0f GFLOP/s (%s) | int8 %.0f GOP/s (%s)",
      r.c.bw.best_bytes_per_s / 1e9, r.c.bw.mean_bytes_per_s / 1e9, r.c.bw.passes,
      mib(static_cast<double>(a.bandwidth_mib << 20)).c_str(), r.c.probes, r.c.fp32 / 1e9,
      kernels::peak_instruction(PeakKind::kFp32Fma), r.c.int8 / 1e9,
      kernels::peak_instruction(PeakKind::kInt8Dot));
  if (r.c.bf16 > 0)
    std::printf(" | bf16 %.0f GFLOP/s (%s)", r.c.bf16 / 1e9,
                kernels::peak_instruction(PeakKind::kBf16Dot));
  if (r.ran_tg()) {
    std::printf("\ntg against the bandwidth read right before each run: %.1f %% (",
                100.0 * r.tg_paired);
    for (size_t i = 0; i < r.probe_bytes_per_s.size(); ++i)
      std::printf("%s%.1f GB/s", i ? ", " : "", r.probe_bytes_per_s[i] / 1e9);
    std::printf(")");
  }
  std::printf("\nmemory: peak RSS %s vs file %s + KV cache %s = %s\n", mib(r.rss).c_str(),
              mib(r.file_bytes).c_str(), mib(r.kv_bytes).c_str(),
              mib(r.file_bytes + r.kv_bytes).c_str());
}

void progress(const char* test, int run, int runs) {
  if (run == 0) {
    std::fprintf(stderr, "\rbench: %s warm-up      ", test);
  } else {
    std::fprintf(stderr, "\rbench: %s run %d/%d      ", test, run, runs);
  }
  std::fflush(stderr);
}

int bench(BenchArgs a) {
  if (a.opt.n_prompt == 0 && a.opt.n_gen == 0)
    throw Error("bench: -p and -n are both 0, so there is nothing to measure");
  kernels::set_num_threads(a.threads);
  Report r;
  r.args = &a;
  r.threads = kernels::num_threads();
  kernels::ReadBandwidth probes;
  a.opt.progress = [&](const char* test, int run, int runs) {
    progress(test, run, runs);
    if (std::string(test) != "tg" || run == 0) return;
    if (r.probe_bytes_per_s.empty()) r.rss = peak_rss_bytes();  // before any bandwidth buffer
    const kernels::ReadBandwidth probe =
        kernels::measure_read_bandwidth(a.bandwidth_mib << 20, r.threads, 0.0);
    r.probe_bytes_per_s.push_back(probe.best_bytes_per_s);
    merge(probes, probe);
  };
  std::fprintf(stderr, "bench: loading %s\n", a.model.c_str());
  auto model = Model::load(a.model);
  r.cost = model_cost(*model);
  r.s = run_bench(*model, a.opt);
  if (r.probe_bytes_per_s.empty()) r.rss = peak_rss_bytes();
  std::fprintf(stderr, "\rbench: measuring ceilings         ");
  std::fflush(stderr);
  r.arith = prefill_arithmetic(r.cost.main_type);
  r.c = measure_ceilings(a, r.threads, r.arith == "bf16", probes);
  std::fprintf(stderr, "\rbench: done                       \n");

  r.arch = model->config().arch_name;
  r.type = dtype_name(r.cost.main_type);
  r.isa = kernels::cpu::isa_name(kernels::cpu::active_isa());
  r.n_params = model->n_params();
  r.file_bytes = static_cast<int64_t>(model->file().file_size());
  r.kv_bytes = KvCache(model->config(), bench_n_ctx(a.opt)).bytes();
  r.pp = mean_sd(r.s.pp_tokens_per_s);
  r.tg = mean_sd(r.s.tg_tokens_per_s);
  r.tg_roof = r.c.bw.best_bytes_per_s / static_cast<double>(r.cost.bytes_per_token);
  for (size_t i = 0; i < r.probe_bytes_per_s.size(); ++i)
    r.tg_paired += r.s.tg_tokens_per_s[i] * static_cast<double>(r.cost.bytes_per_token) /
                   r.probe_bytes_per_s[i] / static_cast<double>(r.probe_bytes_per_s.size());
  // BF16 without a BF16 instruction (AVX2) runs as FP32 FMAs, and is reported against that peak.
  if (r.arith == "bf16" && !(r.c.bf16 > 0)) r.arith = "fp32";
  r.peak = r.arith == "int8" ? r.c.int8 : r.arith == "bf16" ? r.c.bf16 : r.c.fp32;
  r.pp_roof = r.peak / r.cost.flops_per_token;
  if (a.json) {
    print_json(r);
  } else {
    print_table(r);
  }
  return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure prompt and generation speed against this machine's rooflines");
  sub->add_option("-m,--model", a->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  sub->add_option("-p,--n-prompt", a->opt.n_prompt, "Prompt tokens of the pp test (0: skip)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-n,--n-gen", a->opt.n_gen, "Generated tokens of the tg test (0: skip)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-d,--tg-context", a->opt.tg_context,
                  "Tokens already in the KV cache when the tg test starts (decode at that depth)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-t,--threads", a->threads, "CPU threads (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-r,--reps", a->opt.reps, "Timed repetitions of each test")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--bandwidth-mib", a->bandwidth_mib, "Buffer of the read-bandwidth test, MiB")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_flag("--json", a->json, "Print one JSON object instead of the table");
  return [a] { return bench(*a); };
}

}  // namespace latent::cli
