// Golden tests of the SPM tokenizer on real vocabularies: llama.cpp's tokenizer test files
// (ggml-vocab-*.gguf with .inp/.out, add_special=false, parse_special=false as in
// tests/test-tokenizer-0.cpp), stories260K's llama2.c-derived prompt ids and greedy text, and the
// load-time errors for unsupported or broken vocabularies. In-memory algorithm tests are in
// spm_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_test_util.h"

namespace latent {
namespace {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& relative) {
  GgufFile file = GgufFile::open(test::testdata_path(relative));
  return Tokenizer::from_gguf(file);
}

using test::read_inp_cases;
using test::read_out_lines;

void expect_vocab_test_cases(const std::string& vocab_name) {
  const std::string base = "llama.cpp-vocab/ggml-vocab-" + vocab_name + ".gguf";
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(base);
  const std::vector<std::string> cases = read_inp_cases(test::testdata_path(base + ".inp"));
  const std::vector<std::vector<TokenId>> expected =
      read_out_lines(test::testdata_path(base + ".out"));
  ASSERT_EQ(cases.size(), 46u);
  ASSERT_EQ(expected.size(), cases.size());
  int n_exact = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<TokenId> ids = tokenizer->encode(cases[i], /*add_special=*/false);
    EXPECT_EQ(ids, expected[i]) << vocab_name << " case " << i << ": \"" << cases[i] << "\"";
    n_exact += ids == expected[i];
  }
  EXPECT_EQ(n_exact, 46) << vocab_name;
}

TEST(VocabFiles, LlamaSpmMatchesLlamaCppGoldenIds) {
  expect_vocab_test_cases("llama-spm");
}
// Phi-3 is SPM too, with user-defined tokens ("</s>", "<|user|>", ...) that are split out even
// without parse_special.
TEST(VocabFiles, Phi3MatchesLlamaCppGoldenIds) {
  expect_vocab_test_cases("phi-3");
}

TEST(VocabFiles, LlamaSpmSpecialIdsAndFlags) {
  std::unique_ptr<Tokenizer> tokenizer =
      load_tokenizer("llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(tokenizer->n_vocab(), 32000);
  EXPECT_EQ(tokenizer->bos(), 1);
  EXPECT_EQ(tokenizer->eos(), 2);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_FALSE(tokenizer->add_eos());
  EXPECT_TRUE(tokenizer->is_eog(2));
  EXPECT_FALSE(tokenizer->is_eog(1));
  EXPECT_EQ(tokenizer->token_to_piece(13), "\n");  // <0x0A>
  EXPECT_EQ(tokenizer->token_to_piece(15043), " Hello");
  EXPECT_EQ(tokenizer->token_to_piece(1), "");
  EXPECT_EQ(tokenizer->encode("Hello world", true), (std::vector<TokenId>{1, 15043, 3186}));
  // parse_special splits control-token texts out; without it they are plain text.
  EXPECT_EQ(tokenizer->encode("<s>Hi</s>", false, true), (std::vector<TokenId>{1, 6324, 2}));
  const std::vector<TokenId> plain = tokenizer->encode("<s>Hi</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("<s>Hi</s>", true, false)), "<s>Hi</s>");
}

nlohmann::json load_reference_ids() {
  return nlohmann::json::parse(
      test::read_file(test::testdata_path("models/stories260K/expected/reference_ids.json")));
}

TEST(VocabFiles, Stories260KPromptsWithBos) {
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer("models/stories260K/stories260K.gguf");
  EXPECT_EQ(tokenizer->n_vocab(), 512);
  EXPECT_TRUE(tokenizer->add_bos());  // no add_bos_token key: SPM default
  const nlohmann::json reference = load_reference_ids();
  const nlohmann::json& prompts = reference.at("tokenize_with_bos");
  ASSERT_EQ(prompts.size(), 4u);
  for (const auto& [prompt, ids] : prompts.items()) {
    EXPECT_EQ(tokenizer->encode(prompt, true), ids.get<std::vector<TokenId>>()) << prompt;
  }
  const nlohmann::json& once = reference.at("greedy_once_upon_a_time");
  EXPECT_EQ(tokenizer->encode(once.at("prompt").get<std::string>(), true),
            once.at("prompt_ids_with_bos").get<std::vector<TokenId>>());
  std::vector<TokenId> continuation = {tokenizer->bos()};
  for (TokenId id : once.at("ids_after_bos")) continuation.push_back(id);
  EXPECT_EQ(tokenizer->decode(continuation).rfind("Once upon a time", 0), 0u);
  EXPECT_EQ(tokenizer->encode("", true), (std::vector<TokenId>{1}));
  EXPECT_EQ(tokenizer->encode("", false), (std::vector<TokenId>{}));
}

TEST(VocabFiles, Stories260KGreedyTextStreamsLikeLlama2c) {
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer("models/stories260K/stories260K.gguf");
  const std::vector<TokenId> ids =
      load_reference_ids().at("greedy_from_bos").at("ids_after_bos").get<std::vector<TokenId>>();
  ASSERT_EQ(ids.size(), 256u);
  const std::string expected_256 =
      test::read_file(test::testdata_path("models/stories260K/expected/greedy_from_bos_n256.txt"));
  const std::string expected_200 =
      test::read_file(test::testdata_path("models/stories260K/expected/llama2c_test_all_n200.txt"));

  StreamingDetokenizer stream(*tokenizer);
  std::string text = stream.push(tokenizer->bos());
  std::string text_200;
  for (size_t i = 0; i < ids.size(); ++i) {
    text += stream.push(ids[i]);
    if (i + 1 == 200) text_200 = text;
  }
  text += stream.flush();
  EXPECT_EQ(text, expected_256);
  EXPECT_EQ(text_200, expected_200);

  std::vector<TokenId> with_bos = {tokenizer->bos()};
  with_bos.insert(with_bos.end(), ids.begin(), ids.end());
  EXPECT_EQ(tokenizer->decode(with_bos), expected_256);
}

// WordPiece (BERT) is not a tokenizer model latent implements: a clear error naming the key.
TEST(VocabFiles, BertModelIsNotSupported) {
  GgufFile file = GgufFile::open(test::testdata_path("llama.cpp-vocab/ggml-vocab-bert-bge.gguf"));
  try {
    Tokenizer::from_gguf(file);
    FAIL() << "expected latent::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tokenizer.ggml.model"), std::string::npos) << message;
    EXPECT_NE(message.find("\"bert\""), std::string::npos) << message;
    EXPECT_NE(message.find("\"gpt2\""), std::string::npos) << message;
  }
}

// Writes a GGUF holding only the given tokenizer keys and returns the Error from_gguf throws.
std::string load_error(const std::string& name, const GgufWriter& writer) {
  const std::string path = test::temp_path(name);
  writer.write(path);
  GgufFile file = GgufFile::open(path);
  try {
    Tokenizer::from_gguf(file);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << name << ": expected latent::Error";
  return "";
}

TEST(VocabFiles, UnknownModelListsSupportedOnes) {
  GgufWriter writer;
  writer.set_str("tokenizer.ggml.model", "t5-unigram");
  writer.set_str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  const std::string message = load_error("unknown_model.gguf", writer);
  EXPECT_NE(message.find("t5-unigram"), std::string::npos) << message;
  EXPECT_NE(message.find("\"llama\""), std::string::npos) << message;
}

TEST(VocabFiles, MissingTokensNamesTheKey) {
  GgufWriter writer;
  writer.set_str("tokenizer.ggml.model", "llama");
  writer.set_f32_array("tokenizer.ggml.scores", {0.0f, 0.0f});
  const std::string message = load_error("no_tokens.gguf", writer);
  EXPECT_NE(message.find("tokenizer.ggml.tokens"), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
}

TEST(VocabFiles, MissingModelAndMismatchedScoresNameTheKey) {
  GgufWriter no_model;
  no_model.set_str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  EXPECT_NE(load_error("no_model.gguf", no_model).find("tokenizer.ggml.model"), std::string::npos);

  GgufWriter short_scores;
  short_scores.set_str("tokenizer.ggml.model", "llama");
  short_scores.set_str_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  short_scores.set_f32_array("tokenizer.ggml.scores", {0.0f});
  const std::string message = load_error("short_scores.gguf", short_scores);
  EXPECT_NE(message.find("tokenizer.ggml.scores"), std::string::npos) << message;
  EXPECT_NE(message.find("3 entries"), std::string::npos) << message;
}

}  // namespace
}  // namespace latent
