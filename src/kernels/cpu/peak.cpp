// kernels/peak.h on CPU: OpenMP drivers that time the per-ISA loops of cpu/peak_loops.h (avx512 or
// avx2 by cpu::active_isa(); plain C++ loops on other CPUs) over `threads` threads. Owns the
// calibration (iterations grown until one run is long enough) and the buffer of the bandwidth
// test; the instruction sequences live in the ISA directories.
#include "kernels/peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/peak_loops.h"

namespace latent::kernels {
namespace {

using cpu::Isa;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Results of the loops land here so they are not optimised away.
volatile float g_sink_f = 0.0f;

float scalar_fp32(int64_t iters) {
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  volatile float va = 0.999999f, vb = 1e-6f;
  const float a = va, b = vb;
  for (int64_t it = 0; it < iters; ++it)
    for (float& x : acc) x = x * a + b;
  return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

int32_t scalar_int8(int64_t iters) {
  int32_t acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  volatile uint8_t va = 3;
  volatile int8_t vb = -2;
  const int32_t a = va, b = vb;
  for (int64_t it = 0; it < iters; ++it)
    for (int32_t& x : acc) x = static_cast<int32_t>(static_cast<uint32_t>(x) * 3u + a * b);
  return acc[0] ^ acc[7];
}

float scalar_sum(const float* p, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  return s;
}

struct Loop {
  double (*run)(int64_t iters) = nullptr;  // runs the loop, returns its result
  int64_t ops_per_iter = 0;
};

template <auto Fn>
double as_double(int64_t iters) {
  return static_cast<double>(Fn(iters));
}

Loop loop_for(PeakKind kind, Isa isa) {
  switch (kind) {
    case PeakKind::kFp32Fma:
      if (isa == Isa::kAvx512)
        return {as_double<cpu::avx512::peak_fp32>, cpu::avx512::kFp32OpsPerIter};
      if (isa == Isa::kAvx2) return {as_double<cpu::avx2::peak_fp32>, cpu::avx2::kFp32OpsPerIter};
      return {as_double<scalar_fp32>, 8 * 2};
    case PeakKind::kInt8Dot:
      if (isa == Isa::kAvx512)
        return {as_double<cpu::avx512::peak_int8>, cpu::avx512::kInt8OpsPerIter};
      if (isa == Isa::kAvx2) return {as_double<cpu::avx2::peak_int8>, cpu::avx2::kInt8OpsPerIter};
      return {as_double<scalar_int8>, 8 * 2};
    case PeakKind::kBf16Dot:
      if (isa == Isa::kAvx512)
        return {as_double<cpu::avx512::peak_bf16>, cpu::avx512::kBf16OpsPerIter};
      return {};
  }
  return {};
}

// Seconds for every thread to run `iters` iterations.
double timed_run(const Loop& loop, int threads, int64_t iters) {
  const auto t0 = Clock::now();
  double sink = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  sink += loop.run(iters);
  const double s = seconds_since(t0);
  g_sink_f = g_sink_f + static_cast<float>(sink);
  return s;
}

float sum_slice(Isa isa, const float* p, int64_t n) {
  if (isa == Isa::kAvx512) return cpu::avx512::sum_f32(p, n);
  if (isa == Isa::kAvx2) return cpu::avx2::sum_f32(p, n);
  return scalar_sum(p, n);
}

}  // namespace

double measure_peak(PeakKind kind, int threads, double seconds) {
  const Loop loop = loop_for(kind, cpu::active_isa());
  if (!loop.run) return 0.0;
  threads = std::max(1, threads);
  // Calibrate on this thread alone (a parallel run of a few milliseconds would mostly time the
  // wake-up of the other threads on a loaded machine): grow the count until one run takes 20 ms,
  // then time three parallel runs of about seconds/3.
  int64_t iters = 1 << 12;
  double t = 0.0;
  for (;; iters *= 4) {
    const auto t0 = Clock::now();
    g_sink_f = g_sink_f + static_cast<float>(loop.run(iters));
    t = seconds_since(t0);
    if (t >= 0.02) break;
  }
  const int64_t run_iters =
      std::max<int64_t>(iters, static_cast<int64_t>(iters * (seconds / 3.0) / t));
  double best = 0.0;
  for (int r = 0; r < 3; ++r) {
    const double s = timed_run(loop, threads, run_iters);
    best = std::max(best, static_cast<double>(run_iters) * loop.ops_per_iter * threads / s);
  }
  return best;
}

ReadBandwidth measure_read_bandwidth(int64_t bytes, int threads, double seconds) {
  threads = std::max(1, threads);
  const int64_t n = std::max<int64_t>(bytes / 4 / 1024, 1) * 1024;  // whole 4 KiB units
  float* buf = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(n) * 4));
  if (!buf) throw Error("bench: cannot allocate " + std::to_string(n * 4) + " bytes");
  const Isa isa = cpu::active_isa();
  // First touch and every pass split the buffer the same way, so each thread reads its own pages.
  auto slice = [&](int tid, int cnt) {
    return std::pair<int64_t, int64_t>{n * tid / cnt, n * (tid + 1) / cnt};
  };
#pragma omp parallel num_threads(threads)
  {
    const auto [i0, i1] = slice(omp_get_thread_num(), omp_get_num_threads());
    for (int64_t i = i0; i < i1; ++i) buf[i] = 1.0f;
  }
  ReadBandwidth r;
  double total = 0.0;
  while (r.passes < 3 || total < seconds) {
    const auto t0 = Clock::now();
    float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      const auto [i0, i1] = slice(omp_get_thread_num(), omp_get_num_threads());
      sink += sum_slice(isa, buf + i0, i1 - i0);
    }
    const double s = seconds_since(t0);
    g_sink_f = g_sink_f + sink;
    total += s;
    ++r.passes;
    r.best_bytes_per_s = std::max(r.best_bytes_per_s, static_cast<double>(n) * 4 / s);
  }
  r.mean_bytes_per_s = static_cast<double>(n) * 4 * r.passes / total;
  std::free(buf);
  return r;
}

const char* peak_instruction(PeakKind kind) {
  const Isa isa = cpu::active_isa();
  switch (kind) {
    case PeakKind::kFp32Fma:
      return isa == Isa::kAvx512 ? "vfmadd231ps zmm"
             : isa == Isa::kAvx2 ? "vfmadd231ps ymm"
                                 : "scalar fma";
    case PeakKind::kInt8Dot:
      return isa == Isa::kAvx512 ? "vpdpbusd zmm"
             : isa == Isa::kAvx2 ? "vpmaddubsw+vpmaddwd ymm"
                                 : "scalar int";
    case PeakKind::kBf16Dot:
      return isa == Isa::kAvx512 ? "vdpbf16ps zmm" : "none";
  }
  return "?";
}

}  // namespace latent::kernels
