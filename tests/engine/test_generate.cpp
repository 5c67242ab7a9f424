// The engine loop on the trained stories260K model: greedy continuations equal llama2.c's token
// ids, limits and stop reasons, seeded sampling is reproducible, and bad prompts are rejected.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "common/testdata.h"
#include "engine/generate.h"

namespace latent {
namespace {

class Stories : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::load(test::testdata_path("models/stories260K/stories260K.gguf"));
    tok_ = Tokenizer::from_gguf(model_->file());
    ref_ = nlohmann::json::parse(
        test::read_file(test::testdata_path("models/stories260K/expected/reference_ids.json")));
  }
  GenerateOptions greedy(int n) {
    GenerateOptions o;
    o.max_tokens = n;
    o.sampling.temperature = 0.0f;
    return o;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
  nlohmann::json ref_;
};

TEST_F(Stories, GreedyFromBosMatchesLlama2cIds) {
  const auto& g = ref_.at("greedy_from_bos");
  const auto expected = g.at("ids_after_bos").get<std::vector<TokenId>>();
  const std::vector<TokenId> prompt = {1};
  std::string text;
  auto r = generate(*model_, *tok_, prompt, greedy(256), [&](TokenId, std::string_view t) {
    text += t;
    return true;
  });
  EXPECT_EQ(r.tokens, expected);
  EXPECT_EQ(r.stop, StopReason::kMaxTokens);
  EXPECT_EQ(text, test::read_file(
                      test::testdata_path("models/stories260K/expected/greedy_from_bos_n256.txt")));
}

TEST_F(Stories, GreedyContinuationOfPromptMatchesLlama2cIds) {
  const auto& g = ref_.at("greedy_once_upon_a_time");
  const auto prompt = tok_->encode(g.at("prompt").get<std::string>(), true);
  ASSERT_EQ(prompt, g.at("prompt_ids_with_bos").get<std::vector<TokenId>>());
  const auto all = g.at("ids_after_bos").get<std::vector<TokenId>>();
  const std::vector<TokenId> expected(all.begin() + (prompt.size() - 1), all.end());
  // Chunked prefill (2 tokens per call) must not change anything.
  GenerateOptions o = greedy(static_cast<int>(expected.size()));
  o.prefill_chunk = 2;
  auto r = generate(*model_, *tok_, prompt, o, nullptr);
  EXPECT_EQ(r.tokens, expected);
}

TEST_F(Stories, SeededSamplingIsReproducible) {
  GenerateOptions o;
  o.max_tokens = 40;
  o.sampling.temperature = 1.0f;
  o.sampling.seed = 42;
  const std::vector<TokenId> prompt = {1};
  auto a = generate(*model_, *tok_, prompt, o, nullptr);
  auto b = generate(*model_, *tok_, prompt, o, nullptr);
  EXPECT_EQ(a.tokens, b.tokens);
  o.sampling.seed = 43;
  auto c = generate(*model_, *tok_, prompt, o, nullptr);
  EXPECT_NE(a.tokens, c.tokens);
}

TEST_F(Stories, ContextLimitsAndCallbackStop) {
  const std::vector<TokenId> prompt = {1, 403, 407};
  GenerateOptions o = greedy(-1);
  o.n_ctx = 10;
  auto r = generate(*model_, *tok_, prompt, o, nullptr);
  EXPECT_EQ(r.stop, StopReason::kContextFull);
  EXPECT_EQ(
      r.tokens.size(),
      8u);  // tokens 1..7 fill positions 3..9; the 8th comes from position 9 and has no slot left
  int calls = 0;
  r = generate(*model_, *tok_, prompt, greedy(50),
               [&](TokenId, std::string_view) { return ++calls < 3; });
  EXPECT_EQ(r.stop, StopReason::kCallback);
  EXPECT_EQ(r.tokens.size(), 3u);
  try {
    o.n_ctx = 3;
    generate(*model_, *tok_, prompt, o, nullptr);
    FAIL() << "expected an error for a prompt that fills the context";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer tokens than the context size 3, found 3"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(generate(*model_, *tok_, std::vector<TokenId>{}, greedy(1), nullptr), Error);
}

}  // namespace
}  // namespace latent
