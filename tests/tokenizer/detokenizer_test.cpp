// Tests of StreamingDetokenizer and its UTF-8 assembly: maximal-subpart replacement of invalid
// bytes, holding back partial characters, the after-BOS space rule, flush of a truncated character
// (U+FFFD), random byte streams, and the Llama-2 vocabulary with emoji/CJK that byte-fall-back into
// <0xXX> runs.
#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string assemble(std::string_view bytes, size_t* consumed = nullptr) {
  std::string out;
  const size_t used = append_valid_utf8(bytes, out);
  if (consumed) *consumed = used;
  return out;
}

// Valid UTF-8 is exactly the input that assembles to itself with nothing left over.
bool is_valid_utf8(std::string_view text) {
  size_t used = 0;
  return assemble(text, &used) == text && used == text.size();
}

TEST(Utf8Assembly, PassesValidTextThrough) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a é € 😀 z
  size_t used = 0;
  EXPECT_EQ(assemble(text, &used), text);
  EXPECT_EQ(used, text.size());
}

TEST(Utf8Assembly, HoldsBackAnIncompleteCharacter) {
  size_t used = 0;
  EXPECT_EQ(assemble("ab\xF0\x9F\x98", &used), "ab");
  EXPECT_EQ(used, 2u);
  EXPECT_EQ(assemble("\xE2", &used), "");
  EXPECT_EQ(used, 0u);
}

TEST(Utf8Assembly, ReplacesMaximalInvalidSubparts) {
  EXPECT_EQ(assemble("\x80"), kFffd);              // stray continuation
  EXPECT_EQ(assemble("\xC0\xAF"), kFffd + kFffd);  // overlong lead
  EXPECT_EQ(assemble("\xFFx"), kFffd + "x");
  EXPECT_EQ(assemble("\xE2\x82x"), kFffd + "x");                           // truncated then ASCII
  EXPECT_EQ(assemble("\xE0\x80\x80"), kFffd + kFffd + kFffd);              // overlong 3-byte form
  EXPECT_EQ(assemble("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // surrogate
  EXPECT_EQ(assemble("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(assemble("\xF0\x9F\x98"
                     "a"),
            kFffd + "a");
}

// A vocabulary of <unk> <s> </s>, the 256 byte tokens (ids 3..258) and "▁hi" (259).
std::unique_ptr<Tokenizer> byte_tokenizer() {
  VocabData data;
  data.tokens = {"<unk>", "<s>", "</s>"};
  data.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    data.tokens.push_back(name);
    data.types.push_back(TokenType::kByte);
  }
  data.tokens.push_back("\xE2\x96\x81hi");
  data.types.push_back(TokenType::kNormal);
  return Tokenizer::from_vocab(std::move(data));
}

TokenId byte_id(uint8_t byte) {
  return 3 + byte;
}

TEST(StreamingDetokenizer, EmitsACharacterWhenItsLastByteArrives) {
  std::unique_ptr<Tokenizer> tokenizer = byte_tokenizer();
  StreamingDetokenizer stream(*tokenizer);
  EXPECT_EQ(stream.push(byte_id(0xF0)), "");
  EXPECT_EQ(stream.push(byte_id(0x9F)), "");
  EXPECT_EQ(stream.push(byte_id(0x98)), "");
  EXPECT_EQ(stream.pending_bytes(), 3u);
  EXPECT_EQ(stream.push(byte_id(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.push(byte_id('x')), "x");
  EXPECT_EQ(stream.flush(), "");
}

TEST(StreamingDetokenizer, DropsTheSpaceAfterBosOnly) {
  std::unique_ptr<Tokenizer> tokenizer = byte_tokenizer();
  StreamingDetokenizer stream(*tokenizer);
  EXPECT_EQ(stream.push(259), " hi");  // no BOS: a continuation of earlier text
  EXPECT_EQ(stream.push(1), "");
  EXPECT_EQ(stream.push(259), "hi");
  EXPECT_EQ(stream.push(259), " hi");
  EXPECT_EQ(stream.push(2), "");  // </s>: control, nothing
  EXPECT_THROW(stream.push(tokenizer->n_vocab()), Error);
}

TEST(StreamingDetokenizer, TruncatedCharacterFlushesAsReplacement) {
  std::unique_ptr<Tokenizer> tokenizer = byte_tokenizer();
  StreamingDetokenizer stream(*tokenizer);
  EXPECT_EQ(stream.push(byte_id('a')), "a");
  EXPECT_EQ(stream.push(byte_id(0xE4)), "");
  EXPECT_EQ(stream.push(byte_id(0xB8)), "");
  EXPECT_EQ(stream.flush(), kFffd);
  EXPECT_EQ(stream.pending_bytes(), 0u);
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(stream.push(byte_id('b')), "b");  // usable again after a flush
}

TEST(StreamingDetokenizer, RandomByteStreamsStayValidAndMatchDecode) {
  std::unique_ptr<Tokenizer> tokenizer = byte_tokenizer();
  std::mt19937 rng(1234);
  // Bias toward bytes that form (and break) multi-byte characters.
  const std::vector<uint8_t> interesting = {'a',  ' ',  0x80, 0x8F, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2,
                                            0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<TokenId> ids;
    if (trial % 2 == 0) ids.push_back(1);
    const int length = static_cast<int>(rng() % 24);
    for (int i = 0; i < length; ++i) {
      const uint32_t r = rng();
      if (r % 7 == 0) {
        ids.push_back(259);
      } else {
        ids.push_back(byte_id(r % 3 == 0 ? static_cast<uint8_t>(r >> 8)
                                         : interesting[(r >> 8) % interesting.size()]));
      }
    }
    StreamingDetokenizer stream(*tokenizer);
    std::string streamed;
    for (TokenId id : ids) {
      const std::string out = stream.push(id);
      ASSERT_TRUE(is_valid_utf8(out)) << "trial " << trial;
      streamed += out;
    }
    const std::string tail = stream.flush();
    ASSERT_TRUE(is_valid_utf8(tail));
    streamed += tail;
    EXPECT_EQ(streamed, tokenizer->decode(ids)) << "trial " << trial;
  }
}

// Llama 2: characters missing from the 32000 pieces (emoji, rare CJK, math letters) become <0xXX>
// runs.
class LlamaSpmStreaming : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GgufFile file =
        GgufFile::open(test::testdata_path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
    tokenizer_ = Tokenizer::from_gguf(file).release();
  }
  static void TearDownTestSuite() { delete tokenizer_; }
  static Tokenizer* tokenizer_;
};
Tokenizer* LlamaSpmStreaming::tokenizer_ = nullptr;

TEST_F(LlamaSpmStreaming, EmojiAndCjkStreamAsWholeCharacters) {
  const std::string text =
      "Hello 🦙 llamas! 你好，世界 🤖🎉 naïve café 𝔘𝔫𝔦 ☃ 鿰 "
      "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x94\xAC";
  const std::vector<TokenId> ids = tokenizer_->encode(text, /*add_special=*/true);
  int n_byte_tokens = 0;
  for (TokenId id : ids) n_byte_tokens += tokenizer_->vocab().type(id) == TokenType::kByte;
  EXPECT_GE(n_byte_tokens, 12);  // several characters really fall back to bytes

  StreamingDetokenizer stream(*tokenizer_);
  std::string streamed;
  int n_empty_pushes = 0;
  for (TokenId id : ids) {
    const std::string out = stream.push(id);
    EXPECT_TRUE(is_valid_utf8(out)) << "token " << id;
    n_empty_pushes += out.empty();
    streamed += out;
  }
  EXPECT_GT(n_empty_pushes, 5);  // partial characters were held back
  streamed += stream.flush();
  EXPECT_EQ(streamed, tokenizer_->decode(ids));
  EXPECT_EQ(streamed, text);
}

TEST_F(LlamaSpmStreaming, TruncatedByteRunFlushesReplacementChar) {
  std::vector<TokenId> ids = tokenizer_->encode("ok 🦙", true);
  ASSERT_EQ(tokenizer_->vocab().type(ids.back()), TokenType::kByte);
  ids.pop_back();  // generation stopped inside the emoji
  StreamingDetokenizer stream(*tokenizer_);
  std::string streamed;
  for (TokenId id : ids) streamed += stream.push(id);
  EXPECT_EQ(streamed, "ok ");
  EXPECT_EQ(stream.flush(), kFffd);
  EXPECT_EQ(tokenizer_->decode(ids), "ok " + kFffd);
}

std::string encode_utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

// Byte fallback makes encoding lossless for valid UTF-8: decode(BOS + encode(text)) == text for
// random code points of all planes (U+2581 excluded: SentencePiece, too, decodes it as a space).
TEST_F(LlamaSpmStreaming, RandomTextRoundTripsThroughEncodeAndDecode) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const int length = static_cast<int>(rng() % 30);
    for (int i = 0; i < length; ++i) {
      const uint32_t r = rng();
      const uint32_t limit[] = {0x80, 0x800, 0x10000, 0x110000};
      uint32_t cp = (r >> 4) % limit[r % 4];
      if ((cp >= 0xD800 && cp < 0xE000) || cp == 0x2581 || cp == 0) cp = ' ';
      text += encode_utf8(cp);
    }
    const std::vector<TokenId> ids = tokenizer_->encode(text, /*add_special=*/true);
    EXPECT_EQ(tokenizer_->decode(ids), text) << "trial " << trial;
  }
}

// Invalid UTF-8 input never crashes encode, yields in-range ids, and decodes to valid UTF-8. (It
// does not round-trip exactly: like llama.cpp, encode takes a character's length from its lead byte
// after escaping spaces, so an invalid lead byte can swallow part of a following "▁".)
TEST_F(LlamaSpmStreaming, InvalidUtf8InputIsHandled) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const int length = static_cast<int>(rng() % 40);
    for (int i = 0; i < length; ++i) {
      const uint32_t r = rng();
      text.push_back(r % 2 ? static_cast<char>(0x20 + (r >> 8) % 0x5F) : static_cast<char>(r >> 8));
    }
    const std::vector<TokenId> ids = tokenizer_->encode(text, /*add_special=*/true);
    for (TokenId id : ids) ASSERT_TRUE(tokenizer_->vocab().contains(id));
    EXPECT_TRUE(is_valid_utf8(tokenizer_->decode(ids))) << "trial " << trial;
  }
}

}  // namespace
}  // namespace latent
