// The task vocabulary through latent's Tokenizer, and checkpoints through latent's Model: a GGUF
// written from a ParamSet loads with Model::load and gives the training forward pass's logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/arith_task.h"
#include "train/arith_vocab.h"
#include "train/checkpoint.h"
#include "train/sft_data.h"
#include "train/transformer.h"
#include "train_test_util.h"

namespace latent::train {
namespace {

TEST(ArithVocab, RoundTripThroughTheWrittenGguf) {
  ParamSet p(test::grad_dims(true));
  p.init_random(1);
  const std::string path = latent::test::temp_path("vocab.gguf");
  write_model_gguf(path, p);
  const GgufFile f = GgufFile::open(path);
  const auto tok = Tokenizer::from_gguf(f);
  EXPECT_EQ(tok->bos(), kArithBos);
  EXPECT_EQ(tok->eos(), kArithEos);
  // <think> and </think> are single tokens; every other character is one token.
  const std::vector<int32_t> ids = tok->encode("<think>1+2</think> 3", false, true);
  ASSERT_EQ(ids.size(), 7u);
  EXPECT_EQ(ids[0], 3);
  EXPECT_EQ(ids[4], 4);
  EXPECT_EQ(tok->vocab().text(ids[5]), "\xE2\x96\x81");  // the space
  // The chat template renders a conversation as its last question in the trained form.
  const std::optional<std::string> tmpl = f.get_str_opt("tokenizer.chat_template");
  ASSERT_TRUE(tmpl.has_value());
  ChatRenderInput in;
  in.bos_token = "<s>";
  in.add("user", "What is 2+3?");
  in.add("assistant", "<think>2+3:2+3+0=5;5</think> 5");
  in.add("user", "What is 48*17?");
  EXPECT_EQ(ChatTemplate(*tmpl).render(in), "<s>What is 48*17?");
  EXPECT_NE(tmpl->find("<think>"), std::string::npos);  // so `latent serve` splits reasoning
  ArithGenerator gen(5, Split::kTrain);
  for (int i = 0; i < 300; ++i) {
    const ArithProblem pr = gen.next();
    const std::string text = pr.question + pr.completion();
    const std::vector<int32_t> enc = tok->encode(text, true, true);
    EXPECT_EQ(enc.front(), kArithBos);
    EXPECT_EQ(enc.size(), text.size() + 1 - 6 - 7);  // BOS; <think>, </think> one token each
    for (int32_t id : enc) EXPECT_NE(id, 0) << "unknown character in " << text;
    EXPECT_EQ(tok->decode(enc), text);
    // Training sequences are prompt + completion + EOS with weights on the completion only.
    const Sequence s = sft_sequence(*tok, pr, 256);
    EXPECT_EQ(s.tokens.back(), kArithEos);
    EXPECT_EQ(s.weights.size(), s.tokens.size() - 1);
    const size_t n_prompt = prompt_tokens(*tok, pr).size();
    EXPECT_EQ(s.weights[n_prompt - 2], 0.0f);
    EXPECT_EQ(s.weights[n_prompt - 1], 1.0f);  // predicts <think>
    EXPECT_EQ(s.tokens[n_prompt], 3);
  }
}

void expect_same_logits(bool tied, bool wide = false) {
  ModelDims d = test::grad_dims(tied);
  if (wide) d.n_embd = 64, d.n_head = 2, d.n_head_kv = 1, d.n_ctx = 128;  // head size 32
  ParamSet p(d);
  test::init_for_checks(p, tied ? 3 : 4);
  const std::string path = latent::test::temp_path(tied ? "tied.gguf" : "untied.gguf");
  write_model_gguf(path, p);
  // The file reads back bit for bit.
  const ParamSet back = read_model_gguf(path);
  ASSERT_EQ(back.n_params(), p.n_params());
  EXPECT_EQ(0, std::memcmp(back.data(), p.data(), sizeof(float) * p.n_params()));

  auto model = Model::load(path);
  const int32_t V = p.dims().n_vocab;
  std::vector<int32_t> tokens = {1, 60, 23, 3, 17, 18, 40, 4, 5, 44, 9, 9, 30, 2, 70, 71, 72, 80};
  if (wide)
    for (int i = 0; i < 80; ++i) tokens.push_back(5 + (i * 37) % 90);
  std::vector<int32_t> pos(tokens.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  KvCache cache(model->config(), p.dims().n_ctx);
  std::vector<float> want(tokens.size() * V);
  model->forward(tokens, pos, cache, /*all_logits=*/true, want.data());

  Activations acts;
  forward(p, tokens, acts);
  double max_diff = 0.0, max_abs = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(want[i] - acts.logits[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(want[i])));
  }
  EXPECT_LE(max_diff, 1e-4) << "logits up to " << max_abs;
  std::printf("logits: max |latent − train| %.2e (logits up to %.2f)\n", max_diff, max_abs);
  EXPECT_GT(max_abs, 0.5);  // the check is not vacuous
}

TEST(Checkpoint, LatentLoadsItWithTheSameLogitsTied) {
  expect_same_logits(true);
}
TEST(Checkpoint, LatentLoadsItWithTheSameLogitsUntied) {
  expect_same_logits(false);
}
TEST(Checkpoint, LatentLoadsItWithTheSameLogitsLongerWider) {
  expect_same_logits(true, true);
}

TEST(Checkpoint, RejectsAMismatchedFile) {
  ParamSet p(test::grad_dims(true));
  const std::string path = latent::test::temp_path("mismatch.gguf");
  write_model_gguf(path, p);
  AdamW opt(p);
  EXPECT_THROW(load_checkpoint(path), Error);  // no optimizer file beside it
  EXPECT_THROW(forward(p, std::vector<int32_t>{1, 500}, *std::make_unique<Activations>()), Error);
}

}  // namespace
}  // namespace latent::train
