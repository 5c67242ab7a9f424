// Black-box tests of `latent bench`: --json prints exactly one object whose figures are present,
// positive and consistent with each other and with costs computed by hand; the table has its rows;
// bad arguments fail cleanly. No timing thresholds: the figures depend on the machine's load.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "common/testdata.h"

namespace latent {
namespace {

using nlohmann::json;

int latent(const std::string& args, std::string* out, std::string* err) {
  return test::run_latent(args, out, err);
}

std::string stories() {
  return test::testdata_path("models/stories260K/stories260K.gguf");
}

// Runs bench --json and parses stdout as one JSON value (trailing text fails the parse).
json bench_json(const std::string& args) {
  std::string out, err;
  EXPECT_EQ(latent("bench " + args + " --json", &out, &err), 0) << err;
  json j;
  try {
    j = json::parse(out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stdout is not one JSON object: " << e.what() << "\n" << out;
  }
  EXPECT_TRUE(j.is_object()) << out;
  return j;
}

void expect_near_rel(double a, double b, const char* what) {
  EXPECT_NEAR(a, b, 1e-9 * std::max(std::abs(a), std::abs(b))) << what;
}

// Every figure present and positive; fractions are ratios of the other fields; the samples give the
// mean. Returns nothing: each failure names the field.
void expect_consistent(const json& j, int reps) {
  for (const char* k :
       {"pp_tokens_per_s", "tg_tokens_per_s", "read_bandwidth_gbs", "read_bandwidth_mean_gbs",
        "fp32_peak_gflops", "int8_peak_gops", "pp_peak_gops", "tg_roofline_fraction",
        "pp_peak_fraction", "tg_roofline_tokens_per_s", "pp_roofline_tokens_per_s",
        "rss_peak_bytes", "file_bytes", "kv_cache_bytes", "weight_bytes_per_token",
        "flops_per_token", "n_params", "matrix_params", "threads"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k << "\n" << j.dump(2);
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  }
  for (const char* k : {"pp_tokens_per_s_sd", "tg_tokens_per_s_sd"}) {
    ASSERT_TRUE(j.contains(k) && j[k].is_number()) << k;
    EXPECT_GE(j[k].get<double>(), 0.0) << k;
  }
  EXPECT_TRUE(j["isa"].is_string());
  EXPECT_TRUE(j["model_type"].is_string());
  ASSERT_EQ(j["pp_samples"].size(), static_cast<size_t>(reps));
  ASSERT_EQ(j["tg_samples"].size(), static_cast<size_t>(reps));
  for (const char* test : {"pp", "tg"}) {
    double sum = 0.0;
    for (const auto& v : j[std::string(test) + "_samples"]) sum += v.get<double>();
    expect_near_rel(sum / reps, j[std::string(test) + "_tokens_per_s"].get<double>(), test);
  }
  const double bytes = j["weight_bytes_per_token"], flops = j["flops_per_token"];
  const double tg_roof = j["read_bandwidth_gbs"].get<double>() * 1e9 / bytes;
  expect_near_rel(j["tg_roofline_tokens_per_s"], tg_roof, "tg roofline");
  expect_near_rel(j["tg_roofline_fraction"], j["tg_tokens_per_s"].get<double>() / tg_roof,
                  "tg_roofline_fraction");
  const double pp_roof = j["pp_peak_gops"].get<double>() * 1e9 / flops;
  expect_near_rel(j["pp_roofline_tokens_per_s"], pp_roof, "pp roofline");
  expect_near_rel(j["pp_peak_fraction"], j["pp_tokens_per_s"].get<double>() / pp_roof,
                  "pp_peak_fraction");
  expect_near_rel(flops, 2.0 * j["matrix_params"].get<double>(), "flops = 2 x matrix params");
  EXPECT_GE(j["read_bandwidth_gbs"].get<double>(), j["read_bandwidth_mean_gbs"].get<double>());
  EXPECT_EQ(j["reps"], reps);
  // Each tg run against the probe taken right before it, averaged over the runs.
  ASSERT_EQ(j["read_bandwidth_before_tg_runs_gbs"].size(), static_cast<size_t>(reps));
  double paired = 0.0;
  for (int i = 0; i < reps; ++i) {
    const double probe = j["read_bandwidth_before_tg_runs_gbs"][i].get<double>();
    EXPECT_LE(probe, j["read_bandwidth_gbs"].get<double>()) << "the ceiling is the best pass";
    paired += j["tg_samples"][i].get<double>() * bytes / (probe * 1e9) / reps;
  }
  expect_near_rel(j["tg_roofline_fraction_paired"], paired, "tg_roofline_fraction_paired");
  // Three passes right before each timed tg run, at least three more after the tests.
  EXPECT_EQ(j["read_bandwidth_passes_between_tg_runs"], 3 * reps);
  EXPECT_GE(j["read_bandwidth_passes"].get<int>(), 3 * reps + 3);
}

TEST(CliBench, JsonOnStories260kIsCompleteAndConsistent) {
  const json j = bench_json("-m " + stories() + " -p 16 -n 8 -r 2");
  expect_consistent(j, 2);
  // By hand: 5 layers × (wq 64·64 + wk, wv 32·64 + wo 64·64 + gate, up, down 172·64) + output
  // 512·64, all f32; decode also reads one 64-float token_embd row (the output is not tied).
  const int64_t params = 5 * (4096 + 2 * 2048 + 4096 + 3 * 172 * 64) + 512 * 64;
  EXPECT_EQ(j["matrix_params"], params);
  EXPECT_EQ(j["weight_bytes_per_token"], 4 * params + 64 * 4);
  EXPECT_EQ(j["model_type"], "f32");
  EXPECT_EQ(j["pp_peak_arithmetic"], "fp32");
  EXPECT_EQ(j["pp_peak_gops"], j["fp32_peak_gflops"]);
  EXPECT_EQ(j["kv_cache_bytes"], (16 + 8) * 1280);  // tg context 16 + 8 steps, 1280 B per token
  EXPECT_EQ(j["read_bandwidth_buffer_bytes"], int64_t{1} << 30);
}

TEST(CliBench, TiedQ4_0ModelCountsTheEmbeddingOnceAndUsesTheInt8Peak) {
  const std::string path = test::temp_path("bench-q4_0.gguf");
  std::string out;
  ASSERT_EQ(test::run_command(test::binary_dir() + "/latent-gen-model --n-embd 128 --n-layer 2 " +
                                  "--n-head 4 --n-ff 256 --n-vocab 512 --tied --type q4_0 --out '" +
                                  path + "' 2>&1",
                              &out),
            0)
      << out;
  const json j = bench_json("-m " + path + " -p 16 -n 8 -r 2 -t 1 --bandwidth-mib 64");
  expect_consistent(j, 2);
  // Q4_0 rows of 128 values are 4 blocks of 18 bytes, rows of 256 are 8. Per layer: q, k, v, o
  // and ffn_down (128 rows) + gate, up (256 rows); token_embd is the output, read whole, once.
  EXPECT_EQ(j["weight_bytes_per_token"], 2 * ((4 * 128 + 2 * 256) * 72 + 128 * 144) + 512 * 72);
  EXPECT_EQ(j["matrix_params"], 2 * (4 * 128 * 128 + 3 * 256 * 128) + 512 * 128);
  EXPECT_EQ(j["model_type"], "q4_0");
  EXPECT_EQ(j["pp_peak_arithmetic"], "int8");
  EXPECT_EQ(j["pp_peak_gops"], j["int8_peak_gops"]);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["read_bandwidth_buffer_bytes"], int64_t{64} << 20);
}

TEST(CliBench, SkippedTestIsNullAndTableHasItsRows) {
  const json j = bench_json("-m " + stories() + " -p 0 -n 4 -r 1 --bandwidth-mib 16");
  EXPECT_TRUE(j["pp_tokens_per_s"].is_null());
  EXPECT_TRUE(j["pp_peak_fraction"].is_null());
  EXPECT_EQ(j["read_bandwidth_passes_between_tg_runs"], 3);
  EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0.0);
  std::string out, err;
  ASSERT_EQ(latent("bench -m " + stories() + " -p 8 -n 4 -r 1 --bandwidth-mib 16", &out, &err), 0)
      << err;
  for (const char* want : {"| pp8 ", "| tg4 ", "roofline", "ceilings: read", "memory: peak RSS"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  EXPECT_NE(err.find("bench:"), std::string::npos) << err;  // progress goes to stderr
}

TEST(CliBench, DepthPutsContextBeforeTheGenerationTest) {
  const json j = bench_json("-m " + stories() + " -p 0 -n 4 -d 100 -r 1 --bandwidth-mib 16");
  EXPECT_EQ(j["tg_context"], 100);
  EXPECT_EQ(j["kv_cache_bytes"], (100 + 4) * 1280);
  EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0.0);
  std::string out, err;
  ASSERT_EQ(
      latent("bench -m " + stories() + " -p 0 -n 4 -d 100 -r 1 --bandwidth-mib 16", &out, &err), 0)
      << err;
  EXPECT_NE(out.find("| tg4@d100 "), std::string::npos) << out;
}

TEST(CliBench, InvalidArgumentsFailCleanly) {
  std::string out, err;
  const std::string m = "bench -m " + stories();
  for (const std::string& bad :
       {m + " -r 0", m + " -p -1", m + " -n x", m + " -t -2", m + " --bandwidth-mib 0",
        m + " -d -5", std::string("bench -m /no/such.gguf")}) {
    EXPECT_NE(latent(bad, &out, &err), 0) << bad;
    EXPECT_FALSE(err.empty()) << bad;
    EXPECT_EQ(err.find("internal error"), std::string::npos) << bad << ": " << err;
  }
  EXPECT_EQ(latent(m + " -p 0 -n 0", &out, &err), 1);
  EXPECT_NE(err.find("nothing to measure"), std::string::npos) << err;
}

}  // namespace
}  // namespace latent
