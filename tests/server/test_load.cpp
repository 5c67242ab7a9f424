// Bounded load test on loopback: rounds of 64 concurrent streaming clients (fixed request count),
// about a third of them hanging up mid-stream at random. Every request that was not cancelled
// completes with [DONE]; after each round no KV block is left in use; the server's RSS does not
// grow from round to round.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "server_harness.h"

namespace latent::test {
namespace {

const char* kTemplate = "{% for m in messages %}{{ m.content }}{% endfor %}";

long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

double kv_usage(int port) {
  const std::string m = http(port, "GET", "/metrics").body;
  const size_t p = m.find("\nvllm:kv_cache_usage_perc{");
  if (p == std::string::npos) return -1;
  return std::atof(m.c_str() + m.find("} ", p) + 2);
}

TEST(ServeLoad, SixtyFourClientsWithRandomDisconnects) {
  ServerProcess s(tiny_model("load_chat", kTemplate, "--n-ctx 512"),
                  {"-c", "512", "--parallel", "16", "--max-queue", "64"});
  constexpr int kClients = 64, kRequestsPerClient = 3, kRounds = 3;
  std::vector<long> rss;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> completed{0}, cancelled{0}, failed{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        std::mt19937 rng(static_cast<unsigned>(round * 1000 + c));
        for (int i = 0; i < kRequestsPerClient; ++i) {
          const nlohmann::json body = {
              {"prompt", "Client " + std::to_string(c) + " request " + std::to_string(i)},
              {"max_tokens", 24},
              {"stream", true}};
          RawConnection conn(s.port());
          if (!conn.ok()) {
            ++failed;
            continue;
          }
          conn.send_request("POST", "/v1/completions", body.dump());
          if (rng() % 3 == 0) {
            // Hang up after a few events.
            conn.read_until("data: ", 1 + static_cast<int>(rng() % 4), 60);
            conn.close();
            ++cancelled;
            continue;
          }
          if (!conn.read_to_end(120)) {
            ++failed;
            continue;
          }
          const HttpResponse r = conn.response();
          const auto p = sse_payloads(r.body);
          if (r.status == 200 && !p.empty() && p.back() == "[DONE]")
            ++completed;
          else
            ++failed;
        }
      });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(failed.load(), 0) << "round " << round << "\n" << s.log();
    EXPECT_EQ(completed + cancelled + failed, kClients * kRequestsPerClient);
    double usage = -1;
    for (int i = 0; i < 100; ++i) {
      usage = kv_usage(s.port());
      if (usage == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(usage, 0) << "round " << round << ": KV blocks still in use";
    rss.push_back(rss_kib(s.pid()));
  }
  // The first round warms allocators and thread pools; later rounds must not keep growing.
  ASSERT_EQ(rss.size(), static_cast<size_t>(kRounds));
  EXPECT_LE(rss[2], rss[1] + rss[1] / 20 + 4096)
      << "RSS KiB per round: " << rss[0] << ", " << rss[1] << ", " << rss[2];
  EXPECT_EQ(s.terminate(30), 0) << s.log();
}

}  // namespace
}  // namespace latent::test
