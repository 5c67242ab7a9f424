// Unit tests of the SPM encode pipeline and Vocab on small vocabularies built in memory: merge
// order by score, leftmost tie-breaking, byte fallback, space prefix, special-token splitting,
// BOS/EOS flags, piece texts, and Vocab validation errors. Real vocabularies are tested in
// vocab_files_test.cpp.
#include <gtest/gtest.h>

#include "base/error.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

struct Piece {
  std::string text;
  float score;
  TokenType type = TokenType::kNormal;
};

// <unk> <s> </s>, 256 byte tokens <0x00>..<0xFF> (ids 3..258, as in Llama and llama2.c), then
// `pieces` with ids from 259 on.
VocabData make_vocab(const std::vector<Piece>& pieces) {
  VocabData data;
  data.tokens = {"<unk>", "<s>", "</s>"};
  data.scores = {0.0f, 0.0f, 0.0f};
  data.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    data.tokens.push_back(name);
    data.scores.push_back(0.0f);
    data.types.push_back(TokenType::kByte);
  }
  for (const Piece& piece : pieces) {
    data.tokens.push_back(piece.text);
    data.scores.push_back(piece.score);
    data.types.push_back(piece.type);
  }
  return data;
}

constexpr TokenId kFirstPiece = 259;
constexpr TokenId byte_id(uint8_t byte) {
  return 3 + byte;
}

// Ids: ▁=259 h=260 e=261 l=262 o=263 ▁h=264 ll=265 he=266 llo=267 ▁hello=268 ▁he=269 w=270 ▁w=271
const std::vector<Piece> kHelloPieces = {
    {"\xE2\x96\x81", -1.0f},
    {"h", -2.0f},
    {"e", -2.0f},
    {"l", -2.0f},
    {"o", -2.0f},
    {"\xE2\x96\x81h", -3.0f},
    {"ll", -1.5f},
    {"he", -4.0f},
    {"llo", -2.5f},
    {"\xE2\x96\x81hello", -5.0f},
    {"\xE2\x96\x81he", -3.5f},
    {"w", -2.0f},
    {"\xE2\x96\x81w", -2.0f},
};

TEST(Spm, EscapesOnlySpaces) {
  EXPECT_EQ(escape_spaces("a b\tc\n d"),
            "a\xE2\x96\x81"
            "b\tc\n\xE2\x96\x81"
            "d");
  EXPECT_EQ(escape_spaces(""), "");
}

TEST(Spm, MergesHighestScoreFirst) {
  const Vocab vocab(make_vocab(kHelloPieces));
  std::vector<TokenId> out;
  // "▁hello": ll (-1.5) merges first, then llo (-2.5), ▁h (-3.0), ▁he (-3.5); "▁hello" needs
  // ▁he+llo.
  spm_tokenize(vocab, escape_spaces(" hello"), out);
  EXPECT_EQ(out, (std::vector<TokenId>{268}));
  out.clear();
  spm_tokenize(vocab, escape_spaces(" hell"), out);
  EXPECT_EQ(out, (std::vector<TokenId>{269, 265}));  // ▁he ll
}

TEST(Spm, EqualScoresMergeLeftmostFirst) {
  // "aaa": "aa" can merge at (0,1) or (1,2) with the same score; the leftmost wins -> "aa" "a".
  const Vocab vocab(make_vocab({{"a", -1.0f}, {"aa", -2.0f}}));
  std::vector<TokenId> out;
  spm_tokenize(vocab, "aaa", out);
  EXPECT_EQ(out, (std::vector<TokenId>{kFirstPiece + 1, kFirstPiece}));
}

TEST(Spm, ByteFallbackForUnknownCharacters) {
  const Vocab vocab(make_vocab(kHelloPieces));
  std::vector<TokenId> out;
  spm_tokenize(vocab, "h\xC3\xA9", out);  // "hé": é is not a piece -> <0xC3> <0xA9>
  EXPECT_EQ(out, (std::vector<TokenId>{260, byte_id(0xC3), byte_id(0xA9)}));
  out.clear();
  // Invalid UTF-8 still tokenizes: a character's length comes from its lead byte alone (0xFF -> 4,
  // as llama.cpp's unicode_len_utf8), so "\xFF" swallows "e\xE2\x82" and all four fall back to
  // bytes.
  spm_tokenize(vocab,
               "\xFF"
               "e\xE2\x82",
               out);
  EXPECT_EQ(out, (std::vector<TokenId>{byte_id(0xFF), byte_id('e'), byte_id(0xE2), byte_id(0x82)}));
  out.clear();
  spm_tokenize(vocab, "e\xE2\x82", out);  // truncated character at the end: clamped to the text
  EXPECT_EQ(out, (std::vector<TokenId>{261, byte_id(0xE2), byte_id(0x82)}));
}

TEST(Spm, ByteFallbackUsesUnknownWhenByteTokensAreMissing) {
  VocabData data;
  data.tokens = {"<unk>", "<s>", "</s>", "a"};
  data.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl, TokenType::kNormal};
  const Vocab vocab(std::move(data));
  std::vector<TokenId> out;
  spm_tokenize(vocab, "ab", out);
  EXPECT_EQ(out, (std::vector<TokenId>{3, 0}));

  VocabData no_unk;
  no_unk.tokens = {"a"};
  no_unk.bos = no_unk.eos = no_unk.unk = -1;
  const Vocab strict(std::move(no_unk));
  out.clear();
  EXPECT_THROW(spm_tokenize(strict, "b", out), Error);
}

TEST(Tokenizer, SpacePrefixAndBosEos) {
  VocabData data = make_vocab(kHelloPieces);
  data.add_eos = true;
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_vocab(std::move(data));
  EXPECT_EQ(tokenizer->encode("hello", true), (std::vector<TokenId>{1, 268, 2}));
  EXPECT_EQ(tokenizer->encode("hello", false), (std::vector<TokenId>{268}));
  EXPECT_EQ(tokenizer->encode("", true), (std::vector<TokenId>{1, 2}));
  EXPECT_EQ(tokenizer->encode("hello hello", false), (std::vector<TokenId>{268, 268}));

  VocabData no_prefix = make_vocab(kHelloPieces);
  no_prefix.add_space_prefix = false;
  no_prefix.add_bos = false;
  tokenizer = Tokenizer::from_vocab(std::move(no_prefix));
  EXPECT_EQ(tokenizer->encode("hello", true), (std::vector<TokenId>{266, 267}));  // he llo
}

TEST(Tokenizer, ParseSpecialSplitsControlTokens) {
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_vocab(make_vocab(kHelloPieces));
  // Each text fragment after a special token gets its own space prefix (llama.cpp).
  EXPECT_EQ(tokenizer->encode("hello</s><s>hello", false, true),
            (std::vector<TokenId>{268, 2, 1, 268}));
  // Without parse_special, "</s>" is text: ▁ then bytes of "<", "/", ...
  const std::vector<TokenId> plain = tokenizer->encode("</s>", false, false);
  EXPECT_EQ(plain,
            (std::vector<TokenId>{259, byte_id('<'), byte_id('/'), byte_id('s'), byte_id('>')}));
}

TEST(Tokenizer, UserDefinedTokensAreAlwaysSplitOut) {
  std::vector<Piece> pieces = kHelloPieces;
  pieces.push_back({"<|user|>", 0.0f, TokenType::kUserDefined});  // id 272
  pieces.push_back({"<|user|>x", 0.0f, TokenType::kControl});     // id 273, longer: matched first
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_vocab(make_vocab(pieces));
  EXPECT_EQ(tokenizer->encode("<|user|>hello", false, false), (std::vector<TokenId>{272, 268}));
  EXPECT_EQ(tokenizer->encode("<|user|>x", false, true), (std::vector<TokenId>{273}));
  EXPECT_EQ(tokenizer->token_to_piece(272), "<|user|>");
  EXPECT_EQ(tokenizer->token_to_piece(273), "");
}

TEST(Tokenizer, PiecesAndDecode) {
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_vocab(make_vocab(kHelloPieces));
  EXPECT_EQ(tokenizer->token_to_piece(268), " hello");
  EXPECT_EQ(tokenizer->token_to_piece(byte_id('\n')), "\n");
  EXPECT_EQ(tokenizer->token_to_piece(0), "");  // <unk>
  EXPECT_EQ(tokenizer->token_to_piece(1), "");  // <s>
  EXPECT_THROW(tokenizer->token_to_piece(-1), Error);
  EXPECT_THROW(tokenizer->token_to_piece(tokenizer->n_vocab()), Error);

  const std::vector<TokenId> ids = tokenizer->encode("hello hé\nhello", true);
  EXPECT_EQ(tokenizer->decode(ids), "hello hé\nhello");  // space after BOS dropped
  const std::vector<TokenId> no_bos(ids.begin() + 1, ids.end());
  EXPECT_EQ(tokenizer->decode(no_bos), " hello hé\nhello");  // a continuation keeps it
}

TEST(Tokenizer, EndOfGeneration) {
  std::vector<Piece> pieces = kHelloPieces;
  pieces.push_back({"<|im_end|>", 0.0f, TokenType::kControl});  // id 272
  VocabData data = make_vocab(pieces);
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_vocab(data);
  EXPECT_TRUE(tokenizer->is_eog(2));
  EXPECT_TRUE(tokenizer->is_eog(272));  // detected by text, as llama.cpp does
  EXPECT_FALSE(tokenizer->is_eog(1));
  EXPECT_FALSE(tokenizer->is_eog(-1));

  data.eos = -1;
  data.eot = 268;
  tokenizer = Tokenizer::from_vocab(data);
  EXPECT_EQ(tokenizer->eos(), -1);
  EXPECT_FALSE(tokenizer->is_eog(2));
  EXPECT_TRUE(tokenizer->is_eog(268));
}

TEST(Vocab, ValidationErrorsNameTheField) {
  VocabData empty;
  EXPECT_THROW(Vocab{empty}, Error);

  VocabData bad_scores = make_vocab({});
  bad_scores.scores.pop_back();
  try {
    Vocab vocab(bad_scores);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.scores"), std::string::npos);
  }

  VocabData bad_types = make_vocab({});
  bad_types.types.push_back(TokenType::kNormal);
  try {
    Vocab vocab(bad_types);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.token_type"), std::string::npos);
  }

  VocabData out_of_range = make_vocab({});
  out_of_range.bos = 100000;
  out_of_range.pad = -7;
  const Vocab vocab(out_of_range);
  EXPECT_EQ(vocab.bos(), -1);
  EXPECT_EQ(vocab.pad(), -1);
}

TEST(Vocab, ByteTokensAndLookups) {
  const Vocab vocab(make_vocab(kHelloPieces));
  EXPECT_EQ(vocab.byte_token(0x0A), byte_id(0x0A));
  EXPECT_EQ(vocab.find("\xE2\x96\x81hello"), 268);
  EXPECT_EQ(vocab.find("nope"), -1);
  ASSERT_EQ(vocab.special_tokens().size(), 3u);
  EXPECT_EQ(vocab.text(vocab.special_tokens()[0]).size(), 5u);  // <unk> (longest first)
}

}  // namespace
}  // namespace latent
