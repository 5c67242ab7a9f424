// A deepseek2 model in the engine: the paged KV cache holds exactly MLA's latent row per token and
// layer (kv_lora_rank + qk_rope floats), read from the block pool's accounting, and batching
// deepseek2 sequences (MoE routing per batch row) changes no request's tokens.
#include <gtest/gtest.h>

#include "common/testdata.h"
#include "engine/engine_core.h"
#include "engine/generate.h"

namespace latent {
namespace {

std::string gen_deepseek(const std::string& preset) {
  const std::string path = test::temp_path(preset + ".gguf");
  std::string log;
  const int rc = test::run_command(
      test::binary_dir() + "/latent-gen-model --preset " + preset + " --out '" + path + "' 2>&1",
      &log);
  EXPECT_EQ(rc, 0) << log;
  return path;
}

TEST(EngineDeepseek2, KvBlocksHoldExactlyTheLatentPerToken) {
  auto model = Model::load(gen_deepseek("ds-v2-lite-tiny"));
  auto tok = Tokenizer::from_gguf(model->file());
  const ModelConfig& c = model->config();
  EngineConfig ec;
  ec.n_ctx = 128;
  ec.block_size = 16;
  EngineCore core(*model, *tok, ec);
  // Bytes per block: every layer, 16 positions, one latent + rope row each, f32; no value rows.
  const int64_t latent_floats = int64_t{c.ds.kv_lora_rank} + c.ds.qk_rope;
  EXPECT_EQ(core.kv_memory().stride(), latent_floats);
  EXPECT_EQ(core.kv_memory().v_stride(), 0);
  EXPECT_EQ(core.kv_memory().bytes_per_block(), int64_t{c.n_layer} * 16 * latent_floats * 4);
  EXPECT_EQ(core.kv_memory().bytes_per_block(), 16 * c.kv_bytes_per_token());
  EXPECT_LT(core.kv_memory().bytes_per_block(), c.kv_bytes_per_token_expanded() * 16);

  CompletionRequest req;
  for (int i = 0; i < 40; ++i) req.prompt.push_back(1 + (i * 7) % (c.n_vocab - 1));
  req.sampling.temperature = 0.0f;
  req.max_tokens = 10;
  std::vector<TokenId> batched;
  core.add(req, [&](std::vector<SampleOutput>& outs, bool, const RequestUsage&) {
    for (auto& o : outs) batched.insert(batched.end(), o.tokens.begin(), o.tokens.end());
  });
  core.step();  // the whole 40-token prompt (budget 512): 3 blocks
  EXPECT_EQ(core.counters().n_blocks_used, 3);
  // In bytes: 40 tokens' latent rows fit the 3 blocks' 48 rows and need no more.
  EXPECT_GE(3 * core.kv_memory().bytes_per_block(), 40 * c.n_layer * latent_floats * 4);
  while (core.has_work()) core.step();
  EXPECT_EQ(core.counters().n_blocks_used, 0);
  GenerateOptions o;
  o.max_tokens = 10;
  o.sampling.temperature = 0.0f;
  EXPECT_EQ(batched, generate(*model, *tok, req.prompt, o, nullptr).tokens);
}

}  // namespace
}  // namespace latent
