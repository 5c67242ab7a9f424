// deepseek2 on small random-weight models from our own writer (deepseek2_model.h): hyperparameters
// from keys, the KV cache holding only latent + rope, load errors naming the tensor or key, and the
// forward pass against the naive expanded-MLA oracle (deepseek2_naive.h) on every position, with
// routing choices compared exactly, ties included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "common/testdata.h"
#include "deepseek2_model.h"
#include "deepseek2_naive.h"
#include "model/model.h"

namespace latent {
namespace {

using test::Ds2Spec;

std::unique_ptr<Model> load_ds2(const Ds2Spec& s, const std::string& name) {
  const std::string path = test::temp_path(name + ".gguf");
  test::write_ds2_model(path, s);
  return Model::load(path);
}

std::string ds2_error(const Ds2Spec& s, const std::string& name) {
  try {
    load_ds2(s, name);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected latent::Error loading " << name;
  return "";
}

std::vector<TokenId> tokens(int n_vocab, int n) {
  std::vector<TokenId> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11) % n_vocab);
  t[5] = t[2];  // a repeated token: equal latents at two positions
  return t;
}

// All logits, `chunk` tokens per forward call; the routing trace is reordered token-major
// (token, layer, slot) like the naive oracle's.
std::vector<float> run(Model& m, const std::vector<TokenId>& toks, size_t chunk,
                       std::vector<int32_t>* routing = nullptr) {
  const size_t V = m.config().n_vocab;
  KvCache cache(m.config(), 64);
  std::vector<float> out(toks.size() * V);
  std::vector<int32_t> trace;
  m.set_routing_trace(&trace);
  const int64_t K = m.config().ds.n_expert_used;
  int64_t n_moe = 0;
  for (const auto& L : m.weights().ds.layers) n_moe += L.moe;
  for (size_t i = 0; i < toks.size(); i += chunk) {
    const size_t len = std::min(chunk, toks.size() - i);
    std::vector<Pos> pos(len);
    for (size_t j = 0; j < len; ++j) pos[j] = static_cast<Pos>(i + j);
    trace.clear();
    m.forward(std::span<const TokenId>(toks).subspan(i, len), pos, cache, true, out.data() + i * V);
    if (routing)  // trace is [layer][token][slot] for this call
      for (size_t t = 0; t < len; ++t)
        for (int64_t l = 0; l < n_moe; ++l)
          for (int64_t k = 0; k < K; ++k) routing->push_back(trace[(l * len + t) * K + k]);
  }
  m.set_routing_trace(nullptr);
  return out;
}

double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::isfinite(a[i]) ? std::fabs(a[i] - b[i]) : INFINITY);
    ref = std::max(ref, std::fabs(b[i]));
  }
  return diff / ref;
}

TEST(Deepseek2Config, HyperparametersFromKeys) {
  Ds2Spec s = test::ds2_v3_like();
  s.nextn = 1;  // an MTP layer after the trunk: block_count 4, trunk 3
  auto m = load_ds2(s, "ds2-config");
  const ModelConfig& c = m->config();
  EXPECT_EQ(c.arch, Arch::kDeepseek2);
  EXPECT_EQ(c.n_layer, 3);
  EXPECT_EQ(c.ds.n_layer_nextn, 1);
  EXPECT_EQ(c.ds.q_lora_rank, 48);
  EXPECT_EQ(c.ds.kv_lora_rank, 32);
  EXPECT_EQ(c.ds.qk_nope, 16);
  EXPECT_EQ(c.ds.qk_rope, 8);
  EXPECT_EQ(c.ds.v_head_dim, 16);
  EXPECT_EQ(c.ds.n_expert, 8);
  EXPECT_EQ(c.ds.n_expert_used, 3);
  EXPECT_EQ(c.ds.n_expert_shared, 2);
  EXPECT_EQ(c.ds.n_expert_groups, 4);
  EXPECT_EQ(c.ds.n_group_used, 2);
  EXPECT_EQ(c.ds.n_layer_dense_lead, 1);
  EXPECT_EQ(c.ds.gating, kernels::MoeGating::kSigmoid);
  EXPECT_TRUE(c.ds.expert_weights_norm);
  EXPECT_FLOAT_EQ(c.ds.expert_weights_scale, 2.5f);
  EXPECT_FLOAT_EQ(c.rope_freq_scale, 0.25f);
  // softmax scale 1/√(nope+rope)·mscale², mscale = 1 + 0.1·mscale_all_dim·ln(factor)
  const double ms = 1 + 0.1 * 1.0 * std::log(4.0);
  EXPECT_NEAR(c.ds.kq_scale, ms * ms / std::sqrt(24.0), 1e-6);
  EXPECT_NEAR(c.ds.rope_mscale, 1.0, 1e-6);
  EXPECT_FALSE(m->weights().ds.layers[0].moe);
  EXPECT_TRUE(m->weights().ds.layers[2].moe);
  EXPECT_NE(m->weights().ds.layers[2].exp_probs_b.data, nullptr);
}

TEST(Deepseek2Cache, HoldsOnlyLatentAndRopePerToken) {
  for (const Ds2Spec& s : {test::ds2_v2_lite_like(), test::ds2_v3_like()}) {
    auto m = load_ds2(s, "ds2-kv");
    const ModelConfig& c = m->config();
    KvCache cache(c, 40);
    const int64_t latent = int64_t{s.kv_lora + s.rope} * s.n_layer * 4;
    EXPECT_EQ(cache.bytes() / cache.n_ctx(), latent);
    EXPECT_EQ(c.kv_bytes_per_token(), latent);
    EXPECT_EQ(c.kv_bytes_per_token_expanded(),
              int64_t{s.n_head} * (s.nope + s.rope + s.v_head) * s.n_layer * 4);
  }
}

TEST(Deepseek2Load, MissingExpertTensorIsNamed) {
  Ds2Spec s;
  s.edit_tensor = [](const std::string& n, std::vector<int64_t>&) {
    return n != "blk.2.ffn_up_exps.weight";
  };
  const std::string msg = ds2_error(s, "ds2-missing");
  EXPECT_NE(msg.find("tensor 'blk.2.ffn_up_exps.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found missing"), std::string::npos) << msg;
}

TEST(Deepseek2Load, WrongExpertShapeIsNamed) {
  Ds2Spec s;
  s.edit_tensor = [](const std::string& n, std::vector<int64_t>& shape) {
    if (n == "blk.1.ffn_down_exps.weight") shape = {7, 64, 24};
    return true;
  };
  const std::string msg = ds2_error(s, "ds2-shape");
  EXPECT_NE(msg.find("tensor 'blk.1.ffn_down_exps.weight' shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [8, 64, 24]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found [7, 64, 24]"), std::string::npos) << msg;
}

TEST(Deepseek2Load, UnsupportedGatingFunc) {
  Ds2Spec s;
  s.gating = 3;
  const std::string msg = ds2_error(s, "ds2-gating");
  EXPECT_NE(msg.find("deepseek2.expert_gating_func"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 3"), std::string::npos) << msg;
}

TEST(Deepseek2Load, MissingKeyAndBadGroups) {
  Ds2Spec s;
  s.edit_keys = [](GgufWriter& w) { w.set_u32("deepseek2.expert_group_count", 3); };
  std::string msg = ds2_error(s, "ds2-groups");
  EXPECT_NE(msg.find("deepseek2.expert_group_count"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a divisor of expert_count 8"), std::string::npos) << msg;
  Ds2Spec k = test::ds2_v3_like();
  k.edit_tensor = [](const std::string& n, std::vector<int64_t>&) {
    return n != "blk.0.attn_q_a_norm.weight";
  };
  msg = ds2_error(k, "ds2-qa");
  EXPECT_NE(msg.find("tensor 'blk.0.attn_q_a_norm.weight'"), std::string::npos) << msg;
}

struct Case {
  const char* name;
  Ds2Spec spec;
};

std::vector<Case> oracle_cases() {
  std::vector<Case> cases;
  cases.push_back({"v2_lite", test::ds2_v2_lite_like()});
  cases.push_back({"v3", test::ds2_v3_like()});
  Ds2Spec v2 = test::ds2_v2_lite_like();  // V2: q_lora, softmax groups ranked by max, scaled
  v2.q_lora = 40, v2.n_groups = 4, v2.n_group_used = 2, v2.scale = 16.0f, v2.yarn = false;
  v2.combined_kv_b = true;
  cases.push_back({"v2_groups_combined_kv_b", v2});
  Ds2Spec v3c = test::ds2_v3_like();
  v3c.combined_kv_b = true, v3c.dense_lead = 0, v3c.seed = 7;
  cases.push_back({"v3_combined_no_dense", v3c});
  Ds2Spec tie = test::ds2_v3_like();
  tie.tie_router = true, tie.seed = 3;
  cases.push_back({"v3_ties", tie});
  Ds2Spec tie2 = test::ds2_v2_lite_like();
  tie2.tie_router = true, tie2.n_groups = 2, tie2.n_group_used = 1, tie2.seed = 4;
  cases.push_back({"v2_ties", tie2});
  return cases;
}

// F32 weights, f32 engine vs double oracle: as for llama (test_reference_logits.cpp), 1e-4.
TEST(Deepseek2Forward, MatchesNaiveExpandedOracleAtEveryPosition) {
  for (const Case& k : oracle_cases()) {
    auto m = load_ds2(k.spec, std::string("ds2-oracle-") + k.name);
    const std::vector<TokenId> toks = tokens(k.spec.n_vocab, 24);
    test::NaiveDs2 naive(*m);
    const std::vector<double> ref = naive.logits(std::vector<int>(toks.begin(), toks.end()));
    std::vector<int32_t> routing;
    const std::vector<float> one = run(*m, toks, 1, &routing);
    const std::vector<float> all = run(*m, toks, toks.size());
    const std::vector<float> chunks = run(*m, toks, 5);
    const double e1 = rel_err(one, ref), ea = rel_err(all, ref), ec = rel_err(chunks, ref);
    std::printf("[ ds2 %-24s ] rel err vs naive: decode %.2e prefill %.2e chunked %.2e\n", k.name,
                e1, ea, ec);
    EXPECT_LE(std::max({e1, ea, ec}), 1e-4) << k.name;
    EXPECT_EQ(routing, naive.routing) << k.name;
    if (k.spec.tie_router) {
      // experts 0 and 1 always tie: when only one of them fits, it must be 0
      const int K = k.spec.n_used;
      int split = 0;
      for (size_t r = 0; r < routing.size(); r += K) {
        const auto first = routing.begin() + r, last = first + K;
        const bool has0 = std::find(first, last, 0) != last,
                   has1 = std::find(first, last, 1) != last;
        EXPECT_FALSE(has1 && !has0) << k.name;
        split += has0 && !has1;
      }
      std::printf("[ ds2 %-24s ] tied pair split by the top-k in %d of %zu choices\n", k.name,
                  split, routing.size() / K);
      EXPECT_GT(split, 0) << k.name << ": the tie never decided a choice";
    }
  }
}

TEST(Deepseek2Forward, CombinedKvBEqualsSplit) {
  Ds2Spec s = test::ds2_v3_like();
  auto split = load_ds2(s, "ds2-split");
  s.combined_kv_b = true;
  auto combined = load_ds2(s, "ds2-combined");
  const std::vector<TokenId> toks = tokens(s.n_vocab, 12);
  const std::vector<float> a = run(*split, toks, toks.size()), b = run(*combined, toks, 3);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
    max_abs = std::max(max_abs, double(std::fabs(a[i])));
  }
  EXPECT_LE(max_diff, 1e-6 * max_abs);
}

}  // namespace
}  // namespace latent
