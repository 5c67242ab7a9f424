// EngineCore on real models: continuous batching does not change any request's tokens (batch
// invariance on F32 weights), prefix-cache hits and chunked prefill equal cold whole prefill,
// preemption under a tiny block pool recomputes and still completes every request identically,
// n > 1 samples share their prompt's blocks, cancellation returns every block, and the pool
// invariant holds after every step.
#include <gtest/gtest.h>

#include <map>

#include "base/error.h"
#include "common/testdata.h"
#include "engine/engine_core.h"
#include "engine/generate.h"

namespace latent {
namespace {

class EngineCoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = Model::load(test::testdata_path("models/stories260K/stories260K.gguf")).release();
    tok_ = Tokenizer::from_gguf(model_->file()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete model_;
  }

  // 16 different prompts of different lengths.
  static std::vector<std::vector<TokenId>> prompts() {
    const char* texts[] = {"Once upon a time",
                           "The cat sat",
                           "Lily and Tom went to the park to play with a ball",
                           "One day",
                           "There was a big red dog who liked to run",
                           "Sam",
                           "The sun was shining and the birds were singing in the tall trees",
                           "A little girl named Sue",
                           "Tim had a toy car",
                           "Mom said",
                           "The fish swam in the blue sea all day long",
                           "Ben wanted a cookie",
                           "It was a cold night",
                           "Anna found a shiny stone in the garden behind her house",
                           "The bird",
                           "Max and his friend built a big tower of blocks"};
    std::vector<std::vector<TokenId>> out;
    for (const char* t : texts) out.push_back(tok_->encode(t, true));
    return out;
  }

  static CompletionRequest greedy(std::vector<TokenId> prompt, int32_t max_tokens) {
    CompletionRequest r;
    r.prompt = std::move(prompt);
    r.sampling.temperature = 0.0f;
    r.max_tokens = max_tokens;
    return r;
  }

  struct Collected {
    std::map<int32_t, std::vector<TokenId>> tokens;  // per sample index
    std::map<int32_t, std::string> text;
    std::map<int32_t, FinishReason> finish;
    RequestUsage usage;
    bool done = false;
  };
  static OutputCallback collect(Collected& c) {
    return [&c](std::vector<SampleOutput>& outs, bool done, const RequestUsage& usage) {
      for (auto& o : outs) {
        c.tokens[o.index].insert(c.tokens[o.index].end(), o.tokens.begin(), o.tokens.end());
        c.text[o.index] += o.text;
        if (o.finish) c.finish[o.index] = *o.finish;
      }
      c.usage = usage;
      EXPECT_FALSE(c.done) << "output after done";
      c.done = c.done || done;
    };
  }

  static void expect_pool_invariant(const EngineCore& core) {
    const KvBlockPool& pool = core.kv().pool();
    EXPECT_EQ(pool.n_free() + pool.n_used(), pool.n_total());
  }

  // Steps until idle, checking the pool invariant after each step.
  static int run_all(EngineCore& core, int max_steps = 100000) {
    int steps = 0;
    while (core.has_work() && steps < max_steps) {
      const ScheduleStep step = core.step();
      EXPECT_LE(step.n_tokens, core.config().max_batch_tokens);
      expect_pool_invariant(core);
      ++steps;
    }
    EXPECT_FALSE(core.has_work());
    return steps;
  }

  static std::vector<TokenId> alone(const std::vector<TokenId>& prompt, int32_t n) {
    GenerateOptions o;
    o.max_tokens = n;
    o.sampling.temperature = 0.0f;
    return generate(*model_, *tok_, prompt, o, nullptr).tokens;
  }

  static Model* model_;
  static Tokenizer* tok_;
};
Model* EngineCoreTest::model_ = nullptr;
Tokenizer* EngineCoreTest::tok_ = nullptr;

TEST_F(EngineCoreTest, SixteenConcurrentGreedyRequestsEqualEachAlone) {
  const auto ps = prompts();
  EngineConfig ec;
  ec.n_ctx = 256;
  ec.max_running = 16;
  ec.max_batch_tokens = 48;  // prompts are prefilled in chunks mixed with other sequences' decodes
  EngineCore core(*model_, *tok_, ec);
  std::vector<Collected> got(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) core.add(greedy(ps[i], 40), collect(got[i]));
  int max_seqs = 0;
  while (core.has_work()) {
    const ScheduleStep step = core.step();
    max_seqs = std::max(max_seqs, static_cast<int>(step.seqs.size()));
    expect_pool_invariant(core);
  }
  EXPECT_EQ(max_seqs, 16) << "the requests never ran in one batch";
  for (size_t i = 0; i < ps.size(); ++i) {
    ASSERT_TRUE(got[i].done);
    EXPECT_EQ(got[i].tokens[0], alone(ps[i], 40)) << "request " << i;
    EXPECT_EQ(got[i].text[0], tok_->decode(got[i].tokens[0]).substr(0)) << "request " << i;
  }
  EXPECT_EQ(core.counters().n_blocks_used, 0);
}

TEST_F(EngineCoreTest, PrefixCacheHitEqualsColdRequest) {
  const auto ps = prompts();
  EngineConfig ec;
  ec.n_ctx = 256;
  ec.block_size = 4;
  EngineCore core(*model_, *tok_, ec);
  const std::vector<TokenId>& p = ps[6];
  Collected cold, warm;
  core.add(greedy(p, 30), collect(cold));
  run_all(core);
  core.add(greedy(p, 30), collect(warm));
  run_all(core);
  EXPECT_EQ(cold.usage.cached_prompt_tokens, 0);
  // Every whole block before the last prompt token is a hit.
  EXPECT_EQ(warm.usage.cached_prompt_tokens, static_cast<int32_t>((p.size() - 1) / 4 * 4));
  EXPECT_GT(warm.usage.cached_prompt_tokens, 0);
  EXPECT_EQ(warm.tokens[0], cold.tokens[0]);
  EXPECT_EQ(warm.tokens[0], alone(p, 30));
}

TEST_F(EngineCoreTest, PreemptionRecomputesAndCompletesEveryRequest) {
  const auto ps = prompts();
  EngineConfig ec;
  ec.n_ctx = 96;
  ec.block_size = 4;
  ec.n_blocks = 40;  // far fewer than 16 sequences of ~60 tokens need
  ec.max_running = 16;
  ec.max_batch_tokens = 64;
  EngineCore core(*model_, *tok_, ec);
  std::vector<Collected> got(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) core.add(greedy(ps[i], 48), collect(got[i]));
  run_all(core);
  EXPECT_GT(core.counters().preemptions_total, 0);
  for (size_t i = 0; i < ps.size(); ++i) {
    ASSERT_TRUE(got[i].done) << i;
    EXPECT_EQ(got[i].tokens[0], alone(ps[i], 48)) << "request " << i;
  }
  EXPECT_EQ(core.counters().n_blocks_used, 0);
}

TEST_F(EngineCoreTest, SamplesShareThePromptBlocks) {
  const auto ps = prompts();
  EngineConfig ec;
  ec.n_ctx = 128;
  ec.block_size = 4;
  EngineCore core(*model_, *tok_, ec);
  const std::vector<TokenId>& p = ps[2];
  CompletionRequest req = greedy(p, 8);
  req.n = 3;
  req.sampling.temperature = 1.0f;
  req.sampling.seed = 7;
  Collected got;
  core.add(req, collect(got));
  // Step until the prompt is done and the siblings exist.
  ScheduleStep step;
  do step = core.step();
  while (step.seqs.empty() || !step.seqs[0].sample);
  const int32_t prompt_blocks = static_cast<int32_t>((p.size() + 3) / 4);
  // After one more step the full prompt blocks are still shared. A partial last block is copied
  // on write by the first two samples (the third then owns it alone); after a whole last block
  // each sample starts a fresh one.
  step = core.step();
  const bool partial = p.size() % 4 != 0;
  EXPECT_EQ(step.copies.size(), partial ? 2u : 0u);
  EXPECT_EQ(core.counters().n_blocks_used, prompt_blocks + (partial ? 2 : 3));
  run_all(core);
  ASSERT_TRUE(got.done);
  ASSERT_EQ(got.tokens.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got.tokens[i].size(), 8u) << i;
  EXPECT_EQ(got.usage.completion_tokens, 24);
  // Different seeds per sample: not all three equal.
  EXPECT_FALSE(got.tokens[0] == got.tokens[1] && got.tokens[1] == got.tokens[2]);
  // Sample 0 equals a single-sample request with the same seed.
  EngineCore single(*model_, *tok_, ec);
  CompletionRequest one = req;
  one.n = 1;
  Collected alone_got;
  single.add(one, collect(alone_got));
  run_all(single);
  EXPECT_EQ(alone_got.tokens[0], got.tokens[0]);
}

TEST_F(EngineCoreTest, CancelFreesEveryBlock) {
  const auto ps = prompts();
  EngineConfig ec;
  ec.n_ctx = 256;
  ec.prefix_caching = true;
  EngineCore core(*model_, *tok_, ec);
  Collected a, b;
  const RequestId ida = core.add(greedy(ps[0], 100), collect(a));
  core.add(greedy(ps[1], 5), collect(b));
  for (int i = 0; i < 4; ++i) core.step();
  EXPECT_GT(core.counters().n_blocks_used, 0);
  core.cancel(ida);
  EXPECT_TRUE(a.done);
  EXPECT_EQ(a.finish[0], FinishReason::kCancelled);
  run_all(core);
  EXPECT_TRUE(b.done);
  EXPECT_EQ(b.finish[0], FinishReason::kLength);
  EXPECT_EQ(b.tokens[0], alone(ps[1], 5));
  EXPECT_EQ(core.counters().n_blocks_used, 0);
}

TEST_F(EngineCoreTest, StopStringEndsTheSampleBeforeTheMatch) {
  const std::vector<TokenId> p = tok_->encode("Once upon a time", true);
  const std::vector<TokenId> ref = alone(p, 60);
  const std::string full = tok_->decode(ref);
  // Stop at the second word of the continuation.
  const size_t cut = full.find(' ', 3);
  ASSERT_NE(cut, std::string::npos);
  const std::string stop = full.substr(cut, 4);
  EngineConfig ec;
  ec.n_ctx = 256;
  EngineCore core(*model_, *tok_, ec);
  CompletionRequest req = greedy(p, 60);
  req.stop = {"never-appears", stop};
  Collected got;
  core.add(req, collect(got));
  run_all(core);
  EXPECT_EQ(got.finish[0], FinishReason::kStop);
  EXPECT_EQ(got.text[0], full.substr(0, full.find(stop)));
  EXPECT_LT(got.tokens[0].size(), ref.size());
}

TEST_F(EngineCoreTest, RejectsBadRequestsNamingTheField) {
  EngineConfig ec;
  ec.n_ctx = 16;
  EngineCore core(*model_, *tok_, ec);
  auto expect_error = [&](CompletionRequest r, const std::string& field) {
    try {
      core.add(std::move(r), nullptr);
      ADD_FAILURE() << "accepted; expected an error about " << field;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_error(greedy({}, 4), "prompt");
  expect_error(greedy(std::vector<TokenId>(16, 5), 4), "prompt");
  expect_error(greedy({1, 99999}, 4), "prompt");
  CompletionRequest many = greedy({1, 5}, 4);
  many.n = 0;
  expect_error(many, "n:");
  CompletionRequest lp = greedy({1, 5}, 4);
  lp.top_logprobs = 21;
  expect_error(lp, "top_logprobs");
  EXPECT_FALSE(core.has_work());
}

TEST_F(EngineCoreTest, LogprobsAreNormalisedAndOrdered) {
  EngineConfig ec;
  ec.n_ctx = 64;
  EngineCore core(*model_, *tok_, ec);
  CompletionRequest req = greedy(tok_->encode("The cat", true), 5);
  req.top_logprobs = 3;
  std::vector<SampleOutput> outs;
  core.add(req, [&](std::vector<SampleOutput>& o, bool, const RequestUsage&) {
    for (auto& x : o) outs.push_back(x);
  });
  run_all(core);
  int n = 0;
  for (const auto& o : outs) {
    ASSERT_EQ(o.chosen.size(), o.tokens.size());
    for (size_t i = 0; i < o.tokens.size(); ++i, ++n) {
      ASSERT_EQ(o.top[i].size(), 3u);
      // Greedy: the chosen token is the most likely one.
      EXPECT_EQ(o.top[i][0].token, o.tokens[i]);
      EXPECT_FLOAT_EQ(o.top[i][0].logprob, o.chosen[i].logprob);
      EXPECT_LE(o.chosen[i].logprob, 0.0f);
      EXPECT_GE(o.top[i][0].logprob, o.top[i][1].logprob);
      EXPECT_GE(o.top[i][1].logprob, o.top[i][2].logprob);
    }
  }
  EXPECT_EQ(n, 5);
}

}  // namespace
}  // namespace latent
