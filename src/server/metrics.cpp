// Metrics rendering (see metrics.h). Counters follow the Prometheus convention that the sample name
// carries the _total suffix; TYPE lines name the sample (as Go's client does), which every scraper
// accepts. Label values are escaped (\\, \", \n).
#include "server/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/check.h"

namespace latent::server {
namespace {

constexpr double kTtft[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
                            1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
constexpr double kItl[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                           0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Shortest round-trip text of a double, Prometheus style ("0.5", "2560", "5000.05859375").
std::string num(double v) {
  char buf[64];
  if (v == std::trunc(v) && std::abs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

struct Writer {
  std::string out;
  std::string model;
  void header(const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  // name{model_name="…"<extra>} value
  void sample(const std::string& name, const std::string& extra_labels, const std::string& value) {
    out += name + "{model_name=\"" + model + "\"" + extra_labels + "} " + value + "\n";
  }
  void gauge(const char* name, const char* help, double v) {
    header(name, "gauge", help);
    sample(name, "", num(v));
  }
  void counter(const char* name, const char* help, uint64_t v) {
    header(name, "counter", help);
    sample(name, "", std::to_string(v));
  }
  void histogram(const char* name, const char* help, const Histogram& h) {
    header(name, "histogram", help);
    const std::string base = name;
    for (size_t i = 0; i < h.bounds().size(); ++i)
      sample(base + "_bucket", ",le=\"" + num(h.bounds()[i]) + "\"",
             std::to_string(h.cumulative(i)));
    sample(base + "_bucket", ",le=\"+Inf\"", std::to_string(h.count()));
    sample(base + "_sum", "", num(h.sum()));
    sample(base + "_count", "", std::to_string(h.count()));
  }
};

}  // namespace

std::span<const double> ttft_buckets() {
  return kTtft;
}
std::span<const double> itl_buckets() {
  return kItl;
}

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds) {
  LATENT_CHECK(bounds.size() < kMaxBuckets);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);  // i == size: only in +Inf
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

uint64_t Histogram::cumulative(size_t i) const {
  uint64_t n = 0;
  for (size_t b = 0; b <= i && b < kMaxBuckets; ++b)
    n += buckets_[b].load(std::memory_order_relaxed);
  return n;
}

ServerMetrics::ServerMetrics() : ttft(kTtft), itl(kItl) {}

void ServerMetrics::record_finish(const std::string& finish_reason) {
  if (finish_reason == "length")
    success_length.fetch_add(1, std::memory_order_relaxed);
  else if (finish_reason == "abort")
    success_abort.fetch_add(1, std::memory_order_relaxed);
  else
    success_stop.fetch_add(1, std::memory_order_relaxed);
}

std::string render_metrics(const ServerMetrics& m, const EngineCounters& c,
                           const std::string& model_name) {
  Writer w;
  w.model = escape_label(model_name);
  w.gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
          c.n_running);
  w.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", c.n_waiting);
  const double usage = c.n_blocks > 0 ? static_cast<double>(c.n_blocks_used) / c.n_blocks : 0.0;
  w.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", usage);
  // The pre-V1 name, still read by older endpoint pickers.
  w.gauge("vllm:gpu_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage (legacy name).",
          usage);
  w.header("vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig.");
  w.sample("vllm:cache_config_info",
           ",block_size=\"" + std::to_string(c.block_size) + "\",num_gpu_blocks=\"" +
               std::to_string(c.n_blocks) + "\"",
           "1");
  w.counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
            static_cast<uint64_t>(c.prompt_tokens_total));
  w.counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
            static_cast<uint64_t>(c.generation_tokens_total));
  w.counter("vllm:num_preemptions_total", "Cumulative number of preemptions from the engine.",
            static_cast<uint64_t>(c.preemptions_total));
  w.header("vllm:request_success_total", "counter", "Count of successfully processed requests.");
  w.sample("vllm:request_success_total", ",finished_reason=\"stop\"",
           std::to_string(m.success_stop.load()));
  w.sample("vllm:request_success_total", ",finished_reason=\"length\"",
           std::to_string(m.success_length.load()));
  w.sample("vllm:request_success_total", ",finished_reason=\"abort\"",
           std::to_string(m.success_abort.load()));
  w.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
              m.ttft);
  w.histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
              m.itl);
  return std::move(w.out);
}

}  // namespace latent::server
