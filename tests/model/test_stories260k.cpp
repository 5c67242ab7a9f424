// The trained stories260K model against llama2.c's own math: the teacher-forced NLL of a sentence
// (expected/reference_ids.json, which also matches an independent eval) from our all-position
// logits.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "model/model.h"

namespace latent {
namespace {

TEST(Stories260K, ConfigFromGgufKeys) {
  auto m = Model::load(test::testdata_path("models/stories260K/stories260K.gguf"));
  const ModelConfig& c = m->config();
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim_k, 8);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.n_rot, 8);
  EXPECT_EQ(c.rope_mode, kernels::RopeMode::kNorm);
}

TEST(Stories260K, TeacherForcedNllMatchesLlama2c) {
  const auto ref = nlohmann::json::parse(
      test::read_file(test::testdata_path("models/stories260K/expected/reference_ids.json")));
  const auto& tf = ref.at("teacher_forced_nll");
  const std::vector<TokenId> ids = tf.at("ids_with_bos").get<std::vector<TokenId>>();
  auto m = Model::load(test::testdata_path("models/stories260K/stories260K.gguf"));
  const size_t V = m->config().n_vocab;
  KvCache cache(m->config(), 64);
  std::vector<Pos> pos(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) pos[i] = static_cast<Pos>(i);
  std::vector<float> logits(ids.size() * V);
  m->forward(ids, pos, cache, true, logits.data());
  // nll = Σ_i −log softmax(logits_i)[ids[i+1]]
  double nll = 0;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    const float* l = logits.data() + i * V;
    double mx = l[0], sum = 0;
    for (size_t j = 0; j < V; ++j) mx = std::max(mx, double(l[j]));
    for (size_t j = 0; j < V; ++j) sum += std::exp(l[j] - mx);
    nll -= l[ids[i + 1]] - mx - std::log(sum);
  }
  // The reference value has 6 decimals and was computed in fp32: agree to 1e-3 nats over 34 terms.
  EXPECT_NEAR(nll, tf.at("nll_sum_nats").get<double>(), 1e-3);
  EXPECT_NEAR(std::exp(nll / (ids.size() - 1)), tf.at("perplexity").get<double>(), 1e-4);
}

}  // namespace
}  // namespace latent
