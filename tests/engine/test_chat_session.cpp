// ChatSession on the trained stories260K model: a turn that reuses cached prefix blocks gives
// exactly the tokens a fresh generate() gives for the whole conversation, only the tokens after the
// last whole cached block are run, and a conversation that differs from the cache inside it (a
// template re-rendering history) reuses only the blocks before the first difference.
#include <gtest/gtest.h>

#include "base/error.h"
#include "common/testdata.h"
#include "engine/chat_session.h"

namespace latent {
namespace {

class ChatSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::load(test::testdata_path("models/stories260K/stories260K.gguf"));
    tok_ = Tokenizer::from_gguf(model_->file());
    opt_.max_tokens = 12;
    opt_.sampling.temperature = 0.0f;
    opt_.prefill_chunk = 7;
    opt_.kv_block_size = kBlock;
  }
  static constexpr int32_t kBlock = 4;
  static int32_t whole_blocks(size_t n) { return static_cast<int32_t>(n / kBlock * kBlock); }
  std::vector<TokenId> enc(const std::string& s, bool bos) { return tok_->encode(s, bos); }
  static std::vector<TokenId> cat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
  GenerateOptions opt_;
};

TEST_F(ChatSessionTest, SecondTurnReusesCacheAndEqualsFreshGenerate) {
  ChatSession chat(*model_, *tok_, opt_);
  const std::vector<TokenId> turn1 = enc("Once upon a time", true);
  GenerateResult r1 = chat.respond(turn1, nullptr);
  EXPECT_EQ(r1.n_reused, 0);
  EXPECT_EQ(r1.n_prompt, static_cast<int32_t>(turn1.size()));
  EXPECT_EQ(r1.tokens, generate(*model_, *tok_, turn1, opt_, nullptr).tokens);
  ASSERT_EQ(r1.stop, StopReason::kMaxTokens);

  // The next turn: the conversation so far, the reply, and new text.
  const std::vector<TokenId> turn2 = cat(cat(turn1, r1.tokens), enc(" The dog ran", false));
  std::string streamed;
  GenerateResult r2 = chat.respond(turn2, [&](TokenId, std::string_view t) {
    streamed += t;
    return true;
  });
  // The reply's last token was sampled but never run (the limit stopped it); the blocks full of
  // computed tokens before it are reused.
  EXPECT_EQ(r2.n_reused, whole_blocks(turn1.size() + r1.tokens.size() - 1));
  EXPECT_GT(r2.n_reused, 0);
  EXPECT_EQ(r2.n_prompt, static_cast<int32_t>(turn2.size()) - r2.n_reused);
  const GenerateResult fresh = generate(*model_, *tok_, turn2, opt_, nullptr);
  EXPECT_EQ(r2.tokens, fresh.tokens);
  EXPECT_FALSE(streamed.empty());
  EXPECT_EQ(chat.history(), cat(turn2, r2.tokens));
}

TEST_F(ChatSessionTest, RewindsToFirstDifference) {
  ChatSession chat(*model_, *tok_, opt_);
  const std::vector<TokenId> a = enc("Once upon a time there was a cat", true);
  chat.respond(a, nullptr);
  // Same start, different middle: only the blocks before the first difference are reused.
  const std::vector<TokenId> b = enc("Once upon a time there was a big dog", true);
  size_t common = 0;
  while (a[common] == b[common]) ++common;
  GenerateResult r = chat.respond(b, nullptr);
  EXPECT_EQ(r.n_reused, whole_blocks(common));
  EXPECT_EQ(r.tokens, generate(*model_, *tok_, b, opt_, nullptr).tokens);
  // The identical conversation again: every whole block before the last token is reused.
  GenerateResult again = chat.respond(b, nullptr);
  EXPECT_EQ(again.n_reused, whole_blocks(b.size() - 1));
  EXPECT_EQ(again.tokens, r.tokens);
}

TEST_F(ChatSessionTest, ConversationThatDoesNotFitIsAnError) {
  opt_.n_ctx = 8;
  ChatSession chat(*model_, *tok_, opt_);
  EXPECT_THROW(chat.respond(enc("Once upon a time there was a big dog", true), nullptr), Error);
  EXPECT_THROW(chat.respond(std::vector<TokenId>{}, nullptr), Error);
}

}  // namespace
}  // namespace latent
