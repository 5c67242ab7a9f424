// Black-box tests of build/latent: exact stdout of `run` against llama2.c's golden text, the other
// commands' outputs, and clean non-zero exits with messages for bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/testdata.h"

namespace latent {
namespace {

std::string stories() {
  return test::testdata_path("models/stories260K/stories260K.gguf");
}

// Runs the CLI; returns the exit code, stdout in *out and stderr in *err.
int latent(const std::string& args, std::string* out, std::string* err = nullptr) {
  return test::run_latent(args, out, err);
}

TEST(CliRun, GreedyFromEmptyPromptMatchesLlama2cByteForByte) {
  std::string out, err;
  ASSERT_EQ(latent("run -m " + stories() + " --temp 0 -n 200", &out, &err), 0) << err;
  EXPECT_EQ(out, test::read_file(
                     test::testdata_path("models/stories260K/expected/llama2c_test_all_n200.txt")));
  EXPECT_NE(err.find("tokens/s"), std::string::npos) << err;
  ASSERT_EQ(latent("run -m " + stories() + " --temp 0 -n 256 -t 1", &out, &err), 0) << err;
  EXPECT_EQ(out, test::read_file(
                     test::testdata_path("models/stories260K/expected/greedy_from_bos_n256.txt")));
}

TEST(CliRun, PromptIsNotEchoedAndSeedsReproduce) {
  std::string a, b, c;
  const std::string base = "run -m " + stories() + " -p 'Once upon a time' -n 30 --temp 0.9 ";
  ASSERT_EQ(latent(base + "--seed 7", &a), 0);
  ASSERT_EQ(latent(base + "--seed 7", &b), 0);
  ASSERT_EQ(latent(base + "--seed 8", &c), 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.rfind("Once upon a time", 0), std::string::npos) << a;
  EXPECT_FALSE(a.empty());
}

TEST(CliTokenize, PrintsIdsOnOneLine) {
  std::string out;
  ASSERT_EQ(latent("tokenize -m " + stories() + " -p 'Hello world'", &out), 0);
  EXPECT_EQ(out, "1 346 306 414 263 304 341\n");
  ASSERT_EQ(latent("tokenize -m " + stories() + " -p 'Hello world' --no-bos", &out), 0);
  EXPECT_EQ(out, "346 306 414 263 304 341\n");
}

TEST(CliInfo, ReportsArchitectureAndSizes) {
  std::string out;
  ASSERT_EQ(latent("info -m " + stories(), &out), 0);
  for (const char* want : {"architecture:    llama", "n_layer:         5", "n_head_kv:       4",
                           "tensors:         48", "KV bytes/token:  1280", "f32"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
}

TEST(CliLogits, WritesEveryPositionAndChunkingAgrees) {
  const std::string a = test::temp_path("logits-a.f32"), b = test::temp_path("logits-b.f32");
  std::string out, err;
  ASSERT_EQ(
      latent("logits -m " + stories() + " --tokens '1 403 407 261 378' --out " + a, &out, &err), 0)
      << err;
  ASSERT_EQ(latent("logits -m " + stories() + " --tokens '1 403 407 261 378' --chunk 1 --out " + b,
                   &out, &err),
            0)
      << err;
  const std::string la = test::read_file(a), lb = test::read_file(b);
  ASSERT_EQ(la.size(), 5u * 512u * 4u);
  ASSERT_EQ(lb.size(), la.size());
  // Greedy next token after "Once upon a time" is 432 (reference_ids.json).
  const float* last = reinterpret_cast<const float*>(la.data()) + 4 * 512;
  EXPECT_EQ(std::max_element(last, last + 512) - last, 432);
  const float* fa = reinterpret_cast<const float*>(la.data());
  const float* fb = reinterpret_cast<const float*>(lb.data());
  for (size_t i = 0; i < 5 * 512; ++i) ASSERT_NEAR(fa[i], fb[i], 1e-5) << i;
}

TEST(CliErrors, CleanMessagesAndNonZeroExit) {
  std::string out, err;
  EXPECT_NE(latent("run -m /nonexistent.gguf -p hi", &out, &err), 0);
  EXPECT_NE(err.find("/nonexistent.gguf"), std::string::npos) << err;
  const std::string junk = test::temp_path("junk.gguf");
  test::write_file(junk, "NOTAGGUF-file-contents");
  EXPECT_EQ(latent("run -m " + junk + " -p hi", &out, &err), 1);
  EXPECT_NE(err.find("error: "), std::string::npos) << err;
  EXPECT_NE(err.find("junk.gguf"), std::string::npos) << err;
  EXPECT_EQ(latent("logits -m " + stories() + " --tokens '1 x' --out /dev/null", &out, &err), 1);
  EXPECT_NE(err.find("found 'x'"), std::string::npos) << err;
  EXPECT_EQ(latent("logits -m " + stories() + " --tokens '1 9999' --out /dev/null", &out, &err), 1);
  EXPECT_NE(err.find("found 9999"), std::string::npos) << err;
  EXPECT_EQ(latent("run -m " + stories() + " --top-p -0.5", &out, &err), 1);
  EXPECT_NE(err.find("top_p"), std::string::npos) << err;
}

}  // namespace
}  // namespace latent
