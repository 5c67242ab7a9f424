// latent-serve-load: a load generator for OpenAI-compatible servers (latent serve, llama-server,
// vLLM). For each client count in --clients, that many concurrent clients each send streaming
// /v1/completions requests back to back for --duration seconds (or --requests each), and the tool
// reports aggregate generated tokens/s, TTFT p50/p99 and inter-token latency p50/p99 measured on
// the client from SSE arrival times. --disconnect P makes a client hang up mid-stream with
// probability P (those requests are counted apart); after each round it reads /metrics and reports
// whether vllm:kv_cache_usage_perc returned to 0 (no leaked blocks) and, with --server-pid, the
// server's RSS.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/sse.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<int> clients = {1, 4, 8, 16};
  double duration = 20;
  int requests = 0;  // per client; 0: until --duration
  int max_tokens = 64;
  std::string prompt = "Once upon a time, in a small village by the sea, there lived";
  std::string model;
  double disconnect = 0;
  int server_pid = 0;
  uint64_t seed = 1;
};

struct Result {
  bool ok = false, cancelled = false;
  int tokens = 0;
  double ttft = 0;
  std::vector<double> itl;
};

int connect_to(const Options& o) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  ::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Incremental HTTP/1.1 chunked-body decoder feeding an SSE parser.
class StreamReader {
 public:
  // Returns the SSE payloads completed by these bytes.
  std::vector<std::string> feed(const char* data, size_t n) {
    buf_.append(data, n);
    std::vector<std::string> events;
    if (!headers_done_) {
      const size_t end = buf_.find("\r\n\r\n");
      if (end == std::string::npos) return events;
      status_ = std::atoi(buf_.substr(9, 3).c_str());
      std::string headers = buf_.substr(0, end);
      for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      chunked_ = headers.find("transfer-encoding: chunked") != std::string::npos;
      buf_.erase(0, end + 4);
      headers_done_ = true;
    }
    if (!chunked_) {  // a plain body that ends when the server closes the connection
      for (auto& e : sse_.feed(buf_)) events.push_back(e);
      buf_.clear();
      return events;
    }
    for (;;) {
      const size_t eol = buf_.find("\r\n");
      if (eol == std::string::npos) break;
      const size_t size = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
      if (size == 0) {
        finished_ = true;
        break;
      }
      if (buf_.size() < eol + 2 + size + 2) break;
      for (auto& e : sse_.feed(std::string_view(buf_).substr(eol + 2, size))) events.push_back(e);
      buf_.erase(0, eol + 2 + size + 2);
    }
    return events;
  }
  int status() const { return status_; }
  bool finished() const { return finished_; }

 private:
  std::string buf_;
  bool headers_done_ = false, finished_ = false, chunked_ = true;
  int status_ = 0;
  latent::server::SseParser sse_;
};

Result one_request(const Options& o, std::mt19937_64& rng) {
  Result r;
  const int fd = connect_to(o);
  if (fd < 0) return r;
  // A distinct start per request, so prefix caching does not flatter one server over another.
  const std::string prompt = "(" + std::to_string(rng() % 1000000) + ") " + o.prompt;
  json body = {{"prompt", prompt},
               {"max_tokens", o.max_tokens},
               {"stream", true},
               {"ignore_eos", true},  // both latent and llama-server: exactly max_tokens each
               {"stream_options", {{"include_usage", true}}},
               {"seed", static_cast<int64_t>(rng() >> 2)}};
  if (!o.model.empty()) body["model"] = o.model;
  const std::string b = body.dump();
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: " + o.host +
                          "\r\nConnection: close\r\nContent-Type: application/json\r\n"
                          "Content-Length: " +
                          std::to_string(b.size()) + "\r\n\r\n" + b;
  const Clock::time_point t0 = Clock::now();
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return r;
  }
  // A disconnecting client hangs up after a random number of content events.
  int hang_up_after = -1;
  if (std::uniform_real_distribution<double>(0, 1)(rng) < o.disconnect)
    hang_up_after = std::uniform_int_distribution<int>(1, std::max(1, o.max_tokens / 2))(rng);
  StreamReader reader;
  Clock::time_point last{};
  int content_events = 0;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    const Clock::time_point now = Clock::now();
    for (const std::string& e : reader.feed(buf, static_cast<size_t>(n))) {
      if (e == "[DONE]") {
        r.ok = true;
        continue;
      }
      const json c = json::parse(e, nullptr, false);
      if (c.is_discarded()) continue;
      if (c.contains("usage") && c["usage"].is_object())
        r.tokens = c["usage"]["completion_tokens"].get<int>();
      if (!c.contains("choices") || c["choices"].empty()) continue;
      if (c["choices"][0].value("text", "").empty()) continue;
      if (content_events++ == 0)
        r.ttft = std::chrono::duration<double>(now - t0).count();
      else
        r.itl.push_back(std::chrono::duration<double>(now - last).count());
      last = now;
    }
    if (hang_up_after >= 0 && content_events >= hang_up_after) {
      r.cancelled = true;
      break;
    }
    if (reader.finished()) break;
  }
  ::close(fd);
  // A server that sends no usage chunk: count the streamed tokens.
  if (r.tokens == 0) r.tokens = content_events;
  if (r.cancelled) r.ok = false;
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

std::string http_get(const Options& o, const std::string& path) {
  const int fd = connect_to(o);
  if (fd < 0) return {};
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: " + o.host + "\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

double kv_usage(const Options& o) {
  const std::string m = http_get(o, "/metrics");
  const size_t p = m.find("\nvllm:kv_cache_usage_perc{");
  if (p == std::string::npos) return -1;
  const size_t sp = m.find("} ", p);
  return std::atof(m.c_str() + sp + 2);
}

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

void round(const Options& o, int n_clients) {
  std::vector<Result> results;
  std::mutex mu;
  const Clock::time_point start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(o.duration);
  std::vector<std::thread> threads;
  for (int c = 0; c < n_clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(o.seed * 1000003 + static_cast<uint64_t>(c));
      for (int i = 0; o.requests > 0 ? i < o.requests : Clock::now() < deadline; ++i) {
        Result r = one_request(o, rng);
        std::lock_guard<std::mutex> lock(mu);
        results.push_back(std::move(r));
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  int ok = 0, cancelled = 0, failed = 0;
  long tokens = 0;
  std::vector<double> ttft, itl;
  for (const Result& r : results) {
    if (r.cancelled) {
      ++cancelled;
      continue;
    }
    if (!r.ok) {
      // Tokens the server did stream still count as its work (e.g. a stream whose end was not
      // framed as expected); the failure is reported beside the figures.
      ++failed;
      tokens += r.tokens;
      continue;
    }
    ++ok;
    tokens += r.tokens;
    ttft.push_back(r.ttft);
    itl.insert(itl.end(), r.itl.begin(), r.itl.end());
  }
  // Blocks of cancelled requests return at the engine's next step: give it a moment.
  double usage = kv_usage(o);
  for (int i = 0; i < 50 && usage > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    usage = kv_usage(o);
  }
  std::printf(
      "clients %3d | requests ok %4d cancelled %3d failed %3d | %8.1f tok/s | TTFT p50 %7.1f ms "
      "p99 %7.1f ms | ITL p50 %6.1f ms p99 %6.1f ms | kv after %.3f",
      n_clients, ok, cancelled, failed, wall > 0 ? tokens / wall : 0.0, percentile(ttft, 0.5) * 1e3,
      percentile(ttft, 0.99) * 1e3, percentile(itl, 0.5) * 1e3, percentile(itl, 0.99) * 1e3, usage);
  if (o.server_pid > 0) std::printf(" | server RSS %ld KiB", rss_kib(o.server_pid));
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"latent-serve-load: streaming load against an OpenAI-compatible server"};
  app.add_option("--host", o.host)->capture_default_str();
  app.add_option("--port", o.port)->capture_default_str();
  app.add_option("--clients", o.clients, "Concurrent clients per round")->delimiter(',');
  app.add_option("--duration", o.duration, "Seconds per round")->capture_default_str();
  app.add_option("--requests", o.requests, "Requests per client per round (instead of --duration)");
  app.add_option("--max-tokens", o.max_tokens)->capture_default_str();
  app.add_option("--prompt", o.prompt);
  app.add_option("--model", o.model, "\"model\" in requests (default: none)");
  app.add_option("--disconnect", o.disconnect, "Probability a client hangs up mid-stream")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--server-pid", o.server_pid, "Report this process's RSS after each round");
  app.add_option("--seed", o.seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (http_get(o, "/health").empty()) {
    std::fprintf(stderr, "error: no server at %s:%d\n", o.host.c_str(), o.port);
    return 1;
  }
  for (int n : o.clients) round(o, n);
  return 0;
}
