// Golden tests of byte-level BPE on real vocabularies: every BPE GGUF of llama.cpp's tokenizer
// tests
// (.inp/.out, add_special=false, parse_special=false), the tokenizer.json files of
// testdata/tokenizers against their vocab-test.out and against llama.cpp's llama-bpe / qwen2 /
// deepseek-r1-qwen goldens (whose GGUFs are too large to keep), special ids and flags per model,
// and load-time errors. In-memory algorithm tests are bpe_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_test_util.h"

namespace latent {
namespace {

std::unique_ptr<Tokenizer> load_gguf(const std::string& name) {
  GgufFile file =
      GgufFile::open(test::testdata_path("llama.cpp-vocab/ggml-vocab-" + name + ".gguf"));
  return Tokenizer::from_gguf(file);
}

std::unique_ptr<Tokenizer> load_json(const std::string& name) {
  return Tokenizer::from_tokenizer_json(
      test::testdata_path("tokenizers/" + name + "/tokenizer.json"));
}

// Encodes every .inp case and expects the .out ids exactly; also decode(encode(s)) == s.
void expect_golden(const Tokenizer& tokenizer, const std::string& inp, const std::string& out,
                   bool check_round_trip = true) {
  const std::vector<std::string> cases = test::read_inp_cases(test::testdata_path(inp));
  const std::vector<std::vector<TokenId>> expected = test::read_out_lines(test::testdata_path(out));
  ASSERT_EQ(cases.size(), 46u);
  ASSERT_EQ(expected.size(), cases.size());
  int n_exact = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<TokenId> ids = tokenizer.encode(cases[i], /*add_special=*/false);
    EXPECT_EQ(ids, expected[i]) << out << " case " << i << ": \"" << cases[i] << "\"";
    n_exact += ids == expected[i];
    if (check_round_trip) {
      EXPECT_EQ(tokenizer.decode(ids), cases[i]) << out << " case " << i;
    }
  }
  EXPECT_EQ(n_exact, 46) << out;
}

class BpeGguf : public testing::TestWithParam<const char*> {};

TEST_P(BpeGguf, MatchesLlamaCppGoldenIds) {
  const std::string name = GetParam();
  const std::string base = "llama.cpp-vocab/ggml-vocab-" + name + ".gguf";
  std::unique_ptr<Tokenizer> tokenizer = load_gguf(name);
  EXPECT_EQ(tokenizer->vocab().model(), "gpt2");
  expect_golden(*tokenizer, base + ".inp", base + ".out");
}

INSTANTIATE_TEST_SUITE_P(AllPre, BpeGguf,
                         testing::Values("gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt",
                                         "starcoder", "refact"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

struct JsonCase {
  const char* name;
  const char* llama_cpp_out;  // llama.cpp's golden for the same model, "" if none
};

class TokenizerJson : public testing::TestWithParam<JsonCase> {};

TEST_P(TokenizerJson, MatchesGoldenIds) {
  const JsonCase c = GetParam();
  std::unique_ptr<Tokenizer> tokenizer = load_json(c.name);
  const std::string dir = std::string("tokenizers/") + c.name + "/";
  // Mistral's SentencePiece pieces keep the space prefix when decoded without BOS.
  const bool round_trip = std::string(c.name) != "mistral";
  expect_golden(*tokenizer, dir + "vocab-test.inp", dir + "vocab-test.out", round_trip);
  if (*c.llama_cpp_out) {
    expect_golden(*tokenizer, dir + "vocab-test.inp",
                  std::string("llama.cpp-vocab/ggml-vocab-") + c.llama_cpp_out + ".gguf.out");
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizerJson,
                         testing::Values(JsonCase{"llama3", "llama-bpe"},
                                         JsonCase{"llama3_1", "llama-bpe"},
                                         JsonCase{"qwen3", "qwen2"},
                                         JsonCase{"qwen3", "deepseek-r1-qwen"},
                                         JsonCase{"deepseek_v3", ""}, JsonCase{"mistral", ""}),
                         [](const testing::TestParamInfo<JsonCase>& info) {
                           return std::string(info.param.name) + "_" + std::to_string(info.index);
                         });

TEST(TokenizerJsonModels, PreTokenizersMapToGgufNames) {
  EXPECT_EQ(load_json("llama3")->vocab().pre(), "llama-bpe");
  EXPECT_EQ(load_json("qwen3")->vocab().pre(), "qwen2");
  EXPECT_EQ(load_json("deepseek_v3")->vocab().pre(), "deepseek-v3");
  EXPECT_EQ(load_json("mistral")->vocab().model(), "llama");
}

TEST(TokenizerJsonModels, Llama31SpecialTokensAndStopTokens) {
  std::unique_ptr<Tokenizer> t = load_json("llama3_1");
  EXPECT_EQ(t->n_vocab(), 128256);
  EXPECT_EQ(t->bos(), 128000);
  EXPECT_EQ(t->eos(), 128009);  // tokenizer_config.json: eos_token = <|eot_id|>
  EXPECT_TRUE(t->add_bos());
  EXPECT_FALSE(t->add_eos());
  for (TokenId stop : {128001, 128009}) EXPECT_TRUE(t->is_eog(stop)) << stop;
  EXPECT_FALSE(t->is_eog(128000));
  EXPECT_FALSE(t->is_eog(128006));  // <|start_header_id|>
  EXPECT_EQ(t->encode("Hello world", true), (std::vector<TokenId>{128000, 9906, 1917}));
  // parse_special splits <|eot_id|> out; without it the text is plain.
  EXPECT_EQ(t->encode("Hi<|eot_id|>", false, true), (std::vector<TokenId>{13347, 128009}));
  const std::vector<TokenId> plain = t->encode("Hi<|eot_id|>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 128009), 0);
  EXPECT_EQ(t->decode(plain), "Hi<|eot_id|>");
  EXPECT_EQ(t->token_to_piece(128009), "");  // control tokens print nothing
  EXPECT_EQ(t->token_to_piece(1917), " world");
}

TEST(TokenizerJsonModels, Llama3EndOfTurnIsEotNotEos) {
  std::unique_ptr<Tokenizer> t = load_json("llama3");
  EXPECT_EQ(t->eos(), 128001);
  EXPECT_EQ(t->vocab().eot(), 128009);
  EXPECT_TRUE(t->is_eog(128001));
  EXPECT_TRUE(t->is_eog(128009));
}

TEST(TokenizerJsonModels, Qwen3HasNoBosAndStopsAtImEnd) {
  std::unique_ptr<Tokenizer> t = load_json("qwen3");
  EXPECT_EQ(t->bos(), -1);
  EXPECT_FALSE(t->add_bos());
  EXPECT_EQ(t->eos(), 151645);  // <|im_end|>
  EXPECT_TRUE(t->is_eog(151645));
  EXPECT_TRUE(t->is_eog(151643));   // <|endoftext|>
  EXPECT_FALSE(t->is_eog(151644));  // <|im_start|>
  EXPECT_EQ(t->encode("Hi", true), t->encode("Hi", false));
  // Non-special added tokens (user-defined) are split out even without parse_special.
  const std::vector<TokenId> ids = t->encode("a<tool_call>b", false, false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151657), 1);
}

TEST(TokenizerJsonModels, DeepseekV3AndMistralAddBos) {
  std::unique_ptr<Tokenizer> ds = load_json("deepseek_v3");
  EXPECT_EQ(ds->bos(), 0);
  EXPECT_EQ(ds->eos(), 1);
  EXPECT_TRUE(ds->add_bos());
  EXPECT_TRUE(ds->is_eog(1));
  std::unique_ptr<Tokenizer> mistral = load_json("mistral");
  EXPECT_EQ(mistral->encode("Hello world", true), (std::vector<TokenId>{1, 22557, 1526}));
  EXPECT_EQ(mistral->decode(mistral->encode("  Hello world", true)), "  Hello world");
}

TEST(BpeGgufModels, Gpt2SpecialIdsAndPieces) {
  std::unique_ptr<Tokenizer> t = load_gguf("gpt-2");
  EXPECT_EQ(t->n_vocab(), 50257);
  EXPECT_EQ(t->bos(), 50256);
  EXPECT_FALSE(t->add_bos());  // llama.cpp's default for BPE vocabularies
  EXPECT_TRUE(t->is_eog(50256));
  EXPECT_EQ(t->token_to_piece(198), "\n");      // "Ċ"
  EXPECT_EQ(t->token_to_piece(995), " world");  // "Ġworld"
  EXPECT_EQ(t->encode("<|endoftext|>", false, true), (std::vector<TokenId>{50256}));
  EXPECT_GT(t->encode("<|endoftext|>", false, false).size(), 1u);
}

TEST(BpeGgufModels, MissingPreIsLlamaCppDefault) {
  std::unique_ptr<Tokenizer> t = load_gguf("gpt-neox");  // no tokenizer.ggml.pre key
  EXPECT_EQ(t->decode(t->encode("Hello world 12345!", false)), "Hello world 12345!");
}

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

TEST(BpeGgufModels, UnknownPreIsAnErrorListingTheKnownOnes) {
  GgufWriter writer;
  writer.set_str("tokenizer.ggml.model", "gpt2");
  writer.set_str("tokenizer.ggml.pre", "klingon-bpe");
  writer.set_str_array("tokenizer.ggml.tokens", {"a", "b", "ab"});
  writer.set_str_array("tokenizer.ggml.merges", {"a b"});
  const std::string message = load_error("unknown_pre.gguf", writer);
  EXPECT_NE(message.find("tokenizer.ggml.pre"), std::string::npos) << message;
  EXPECT_NE(message.find("klingon-bpe"), std::string::npos) << message;
  for (const char* known : {"llama-bpe", "qwen2", "deepseek-v3", "deepseek-llm", "gpt-2"}) {
    EXPECT_NE(message.find(known), std::string::npos) << known << ": " << message;
  }
}

TEST(BpeGgufModels, MissingMergesNamesTheKey) {
  GgufWriter writer;
  writer.set_str("tokenizer.ggml.model", "gpt2");
  writer.set_str_array("tokenizer.ggml.tokens", {"a", "b"});
  EXPECT_NE(load_error("no_merges.gguf", writer).find("tokenizer.ggml.merges"), std::string::npos);
}

TEST(TokenizerJsonErrors, WordPieceAndUnknownPreTokenizerAreErrors) {
  const std::string dir = test::temp_path("json_errors");
  std::filesystem::create_directories(dir);
  test::write_file(dir + "/tokenizer.json",
                   R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  try {
    Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
    ADD_FAILURE() << "expected latent::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos) << e.what();
  }
  test::write_file(dir + "/tokenizer.json",
                   R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                       "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                         {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated",
                          "invert": false},
                         {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}})");
  try {
    Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
    ADD_FAILURE() << "expected latent::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\\w+"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("llama-bpe"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_tokenizer_json(dir + "/missing.json"), Error);
}

}  // namespace
}  // namespace latent
