// In-memory tests of byte-level BPE: the GPT-2 byte <-> unicode table, the PCRE2 pre-tokenizers
// (word splits llama.cpp documents), merge order (rank, then leftmost) on a hand-made vocabulary,
// invalid UTF-8 input, and streaming decode of characters split across byte-level tokens.
#include <gtest/gtest.h>

#include <set>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

TEST(ByteUnicode, TableIsGpt2sBytesToUnicode) {
  EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");   // Ġ U+0120
  EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");  // Ċ U+010A
  EXPECT_EQ(byte_to_unicode('!'), "!");
  EXPECT_EQ(byte_to_unicode(0xAD), "\xC5\x83");  // soft hyphen -> U+0143, the last one
  EXPECT_EQ(byte_to_unicode(0xE9), "\xC3\xA9");  // é maps to itself
  std::set<std::string_view> distinct;
  std::string all_bytes, encoded;
  for (int b = 0; b < 256; ++b) {
    distinct.insert(byte_to_unicode(static_cast<uint8_t>(b)));
    all_bytes.push_back(static_cast<char>(b));
    encoded.append(byte_to_unicode(static_cast<uint8_t>(b)));
  }
  EXPECT_EQ(distinct.size(), 256u);
  EXPECT_EQ(unicode_to_bytes(encoded), all_bytes);
  EXPECT_EQ(unicode_to_bytes("<|eot_id|>"), "<|eot_id|>");
  EXPECT_EQ(unicode_to_bytes("\xE4\xBD\xA0"), "\xE4\xBD\xA0");  // outside the table: kept
}

std::vector<std::string> words(const std::string& pre, std::string_view text) {
  PreTokenizer p(pre, "<test>");
  std::vector<std::pair<size_t, size_t>> ranges;
  p.split(text, ranges);
  std::vector<std::string> out;
  for (const auto& [b, e] : ranges) out.emplace_back(text.substr(b, e - b));
  return out;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Llama3SplitsContractionsDigitTriplesAndWhitespace) {
  EXPECT_EQ(words("llama-bpe", "I'M 1234567 ok!!\n\n  x"),
            (Words{"I", "'M", " ", "123", "456", "7", " ok", "!!\n\n", " ", " x"}));
  EXPECT_EQ(words("llama3", "   "), (Words{"   "}));
  EXPECT_EQ(words("llama-bpe", "a \u00A0b"), (Words{"a", " ", "\u00A0b"}));
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(words("qwen2", "x123"), (Words{"x", "1", "2", "3"}));
}

TEST(PreTokenizer, Gpt2AndDeepseekV3) {
  EXPECT_EQ(words("gpt-2", "Hello world's 42"), (Words{"Hello", " world", "'s", " 42"}));
  EXPECT_EQ(words("deepseek-v3", "你好abc 12345"), (Words{"你好", "abc", " ", "123", "45"}));
}

TEST(PreTokenizer, InvalidUtf8BytesStayInTheWords) {
  const std::string text = "ab\xFF\xC3 cd\xE2\x82";
  std::string joined;
  for (const std::string& w : words("llama-bpe", text)) joined += w;
  EXPECT_EQ(joined, text);
}

TEST(PreTokenizer, UnknownNameListsKnownOnes) {
  try {
    PreTokenizer("nope", "model.gguf");
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("model.gguf"), std::string::npos) << message;
    EXPECT_NE(message.find("\"nope\""), std::string::npos) << message;
    EXPECT_NE(message.find("deepseek-coder"), std::string::npos) << message;
  }
}

TEST(PreTokenizer, HfRegexesMapToGgufNames) {
  EXPECT_EQ(pre_name_for_hf_pre_tokenizer({}, true), "gpt-2");
  EXPECT_EQ(pre_name_for_hf_pre_tokenizer({"\\w+"}, false), "");
}

// A vocabulary over the bytes 'a', 'b', 'c' and ' ' (Ġ) with hand-picked merge ranks.
std::unique_ptr<Tokenizer> tiny_bpe(std::vector<std::string> merges) {
  VocabData data;
  data.model = "gpt2";
  data.pre = "gpt-2";
  data.tokens = {"a",
                 "b",
                 "c",
                 "\xC4\xA0",
                 "ab",
                 "bc",
                 "abc",
                 "\xC4\xA0"
                 "a",
                 "aa",
                 "<|end|>"};
  data.types.assign(data.tokens.size(), TokenType::kNormal);
  data.types.back() = TokenType::kControl;
  data.merges = std::move(merges);
  data.bos = -1;
  data.eos = 9;
  data.add_bos = false;
  data.add_space_prefix = false;
  return Tokenizer::from_vocab(std::move(data));
}

TEST(BpeMerges, LowestRankFirstThenLeftmost) {
  // "ab" before "bc": abc -> ab c -> abc.
  EXPECT_EQ(tiny_bpe({"a b", "b c", "ab c"})->encode("abc", false), (std::vector<TokenId>{6}));
  // "bc" before "ab": a bc; no merge "a bc" exists.
  EXPECT_EQ(tiny_bpe({"b c", "a b", "ab c"})->encode("abc", false), (std::vector<TokenId>{0, 5}));
  // Equal pairs: the leftmost merges first: aaa -> aa a.
  EXPECT_EQ(tiny_bpe({"a a"})->encode("aaa", false), (std::vector<TokenId>{8, 0}));
  EXPECT_EQ(tiny_bpe({"\xC4\xA0 a"})->encode(" a a", false), (std::vector<TokenId>{7, 7}));
  // A merge whose result is not a token is skipped; a byte with no token is dropped (llama.cpp).
  EXPECT_EQ(tiny_bpe({"c c"})->encode("cc", false), (std::vector<TokenId>{2, 2}));
  EXPECT_EQ(tiny_bpe({})->encode("ad", false), (std::vector<TokenId>{0}));
  EXPECT_EQ(tiny_bpe({})->encode("a<|end|>", false, true), (std::vector<TokenId>{0, 9}));
  EXPECT_TRUE(tiny_bpe({})->is_eog(9));
}

TEST(BpeGpt2Vocab, InvalidUtf8RoundTripsThroughPieces) {
  GgufFile file = GgufFile::open(test::testdata_path("llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
  std::unique_ptr<Tokenizer> t = Tokenizer::from_gguf(file);
  const std::string text = "ok \xFF\xFE \xC3( \xE2\x82 \xF0\x9F\xA6 end\x80";
  std::string pieces;
  for (TokenId id : t->encode(text, false)) pieces += t->token_to_piece(id);
  EXPECT_EQ(pieces, text);
  // Whole-text decode replaces the invalid parts, one U+FFFD per maximal subpart.
  EXPECT_EQ(t->decode(t->encode("a\xFF"
                                "b",
                                false)),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(BpeGpt2Vocab, StreamingNeverEmitsABrokenCharacter) {
  GgufFile file = GgufFile::open(test::testdata_path("llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
  std::unique_ptr<Tokenizer> t = Tokenizer::from_gguf(file);
  const std::string text = "llama 🦙 emoji 👨‍👩‍👧 and 中文 ok";
  const std::vector<TokenId> ids = t->encode(text, false);
  StreamingDetokenizer detok(*t);
  std::string streamed;
  int held_back = 0;
  for (TokenId id : ids) {
    const std::string out = detok.push(id);
    std::string valid;
    EXPECT_EQ(append_valid_utf8(out, valid), out.size());
    EXPECT_EQ(valid, out);  // every emitted chunk is complete, valid UTF-8
    held_back += detok.pending_bytes() > 0;
    streamed += out;
  }
  streamed += detok.flush();
  EXPECT_EQ(streamed, text);
  EXPECT_GT(held_back, 0);  // 🦙 is several byte-level tokens in GPT-2's vocabulary
  EXPECT_EQ(t->decode(ids), text);
}

}  // namespace
}  // namespace latent
