// Prometheus text exposition (format 0.0.4) of the metrics the Gateway API inference extension's
// endpoint picker and llm-d scrape from vLLM, under vLLM's names: request gauges, KV-cache usage,
// cache config, TTFT and inter-token-latency histograms, token and success counters. Everything is
// lock-free: handlers record into atomics, and rendering reads them plus an EngineCounters snapshot
// (Engine::counters()), so /metrics never waits on the engine loop.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "engine/engine_core.h"

namespace latent::server {

// A fixed-bucket histogram (cumulative counts are computed when rendering).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);
  std::span<const double> bounds() const { return bounds_; }
  // Observations <= bounds()[i] (cumulative), and the totals.
  uint64_t cumulative(size_t i) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kMaxBuckets = 32;
  std::span<const double> bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets> buckets_{};  // per bucket, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Server-side metrics, updated by the HTTP handlers.
class ServerMetrics {
 public:
  ServerMetrics();
  Histogram ttft;  // seconds from receiving a request to its first generated token
  Histogram itl;   // seconds between successive token outputs of a sample
  // vllm:request_success_total by finished_reason.
  std::atomic<uint64_t> success_stop{0}, success_length{0}, success_abort{0};
  void record_finish(const std::string& finish_reason);
};

// The exposition text: every metric with # HELP / # TYPE and a model_name label.
std::string render_metrics(const ServerMetrics& m, const EngineCounters& c,
                           const std::string& model_name);

// TTFT and ITL bucket bounds (vLLM's).
std::span<const double> ttft_buckets();
std::span<const double> itl_buckets();

}  // namespace latent::server
