// Prometheus text format of /metrics: vLLM's names, types, labels, cumulative histogram buckets.
#include <gtest/gtest.h>

#include <sstream>

#include "server/metrics.h"

namespace latent::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(Metrics, GaugesCountersAndInfo) {
  ServerMetrics m;
  m.record_finish("stop");
  m.record_finish("stop");
  m.record_finish("length");
  m.record_finish("abort");
  EngineCounters c;
  c.n_running = 3;
  c.n_waiting = 2;
  c.n_blocks = 64;
  c.n_blocks_used = 16;
  c.block_size = 16;
  c.prompt_tokens_total = 100;
  c.generation_tokens_total = 50;
  const std::string t = render_metrics(m, c, "tiny \"m\"");
  const std::string L = "{model_name=\"tiny \\\"m\\\"\"";
  EXPECT_TRUE(has_line(t, "# TYPE vllm:num_requests_running gauge")) << t;
  EXPECT_TRUE(has_line(t, "vllm:num_requests_running" + L + "} 3")) << t;
  EXPECT_TRUE(has_line(t, "vllm:num_requests_waiting" + L + "} 2")) << t;
  EXPECT_TRUE(has_line(t, "# TYPE vllm:kv_cache_usage_perc gauge")) << t;
  EXPECT_TRUE(has_line(t, "vllm:kv_cache_usage_perc" + L + "} 0.25")) << t;
  EXPECT_TRUE(
      has_line(t, "vllm:cache_config_info" + L + ",block_size=\"16\",num_gpu_blocks=\"64\"} 1"))
      << t;
  EXPECT_TRUE(has_line(t, "# TYPE vllm:prompt_tokens_total counter")) << t;
  EXPECT_TRUE(has_line(t, "vllm:prompt_tokens_total" + L + "} 100")) << t;
  EXPECT_TRUE(has_line(t, "vllm:generation_tokens_total" + L + "} 50")) << t;
  EXPECT_TRUE(has_line(t, "vllm:request_success_total" + L + ",finished_reason=\"stop\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "vllm:request_success_total" + L + ",finished_reason=\"length\"} 1"))
      << t;
  EXPECT_TRUE(has_line(t, "vllm:request_success_total" + L + ",finished_reason=\"abort\"} 1")) << t;
  // Every sample line is "name{labels} value" with a known metric family.
  std::istringstream in(t);
  for (std::string l; std::getline(in, l);) {
    if (l.starts_with("#")) continue;
    EXPECT_TRUE(l.starts_with("vllm:")) << l;
    EXPECT_NE(l.find("} "), std::string::npos) << l;
  }
}

TEST(Metrics, EmptyCacheIsZeroNotNaN) {
  const std::string t = render_metrics(ServerMetrics{}, EngineCounters{}, "m");
  EXPECT_TRUE(has_line(t, "vllm:kv_cache_usage_perc{model_name=\"m\"} 0")) << t;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  ServerMetrics m;
  m.ttft.observe(0.00390625);  // 2^-8 ≤ 0.005 (binary-exact values keep the sum exact)
  m.ttft.observe(0.0546875);   // 7/128 ≤ 0.06
  m.ttft.observe(5000);        // only +Inf
  m.itl.observe(0.02);
  const std::string t = render_metrics(m, EngineCounters{}, "m");
  const std::string h = "vllm:time_to_first_token_seconds";
  EXPECT_TRUE(has_line(t, "# TYPE " + h + " histogram")) << t;
  EXPECT_TRUE(has_line(t, h + "_bucket{model_name=\"m\",le=\"0.001\"} 0")) << t;
  EXPECT_TRUE(has_line(t, h + "_bucket{model_name=\"m\",le=\"0.005\"} 1")) << t;
  EXPECT_TRUE(has_line(t, h + "_bucket{model_name=\"m\",le=\"0.04\"} 1")) << t;
  EXPECT_TRUE(has_line(t, h + "_bucket{model_name=\"m\",le=\"0.06\"} 2")) << t;
  EXPECT_TRUE(has_line(t, h + "_bucket{model_name=\"m\",le=\"2560\"} 2")) << t;
  EXPECT_TRUE(has_line(t, h + "_bucket{model_name=\"m\",le=\"+Inf\"} 3")) << t;
  EXPECT_TRUE(has_line(t, h + "_count{model_name=\"m\"} 3")) << t;
  EXPECT_TRUE(has_line(t, h + "_sum{model_name=\"m\"} 5000.05859375")) << t;
  const std::string i = "vllm:inter_token_latency_seconds";
  EXPECT_TRUE(has_line(t, i + "_bucket{model_name=\"m\",le=\"0.025\"} 1")) << t;
  EXPECT_TRUE(has_line(t, i + "_count{model_name=\"m\"} 1")) << t;
}

}  // namespace
}  // namespace latent::server
