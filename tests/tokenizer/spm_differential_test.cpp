// Differential test: latent's SPM tokenizer (ggml-vocab-llama-spm.gguf) against Google's
// SentencePiece (python3-sentencepiece via spm_reference.py, with Meta's Llama-2 tokenizer.model,
// which has the same pieces and scores) on a varied corpus: llama.cpp's tokenizer test strings,
// hand-picked scripts, whitespace and emoji cases, and seeded random strings. Skipped when the
// Python module is missing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

const std::vector<std::string> kHandPicked = {
    "The quick brown fox jumps over the lazy dog.",
    "  two leading spaces",
    "trailing spaces   ",
    "tabs\tand\nnewlines\r\nand \t mixed \n\n\n whitespace",
    "int main() {\n    return 0;\n}\n",
    "{\"key\": [1, 2.5, -3e10, null, true], \"nested\": {\"a\": \"b\"}}",
    "https://example.com/path?query=1&other=two#frag user@example.org",
    "It's, don't, we'll, they've, I'm, she'd.",
    "1234567890 3.14159 1,000,000 12:30pm 2024-01-01",
    "Ünïcödé façade naïve café résumé coöperate",
    "Привет, мир! Как дела?",
    "Γειά σου Κόσμε",
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 텍스트 테스트",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "🦙🤖🎉 👩‍🔬 👍🏽 🇫🇷 ❤️ ☃",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 ∑∫∂√∞ ≤≥≠",
    "e\xCC\x81 a\xCC\x8A combining marks",
    "non\xC2\xA0"
    "breaking\xE2\x80\x8B"
    "zero width",
    "<s> </s> <unk> [INST] <<SYS>> look like special tokens",
    "\x01\x02\x7F control characters \x1B[0m",
    "▁ already has the space marker ▁▁",
    "",
    " ",
    "a",
    "!!!???...,,,;;;",
};

// Seeded random strings from a pool of words, whitespace, punctuation and code points of many
// scripts.
std::vector<std::string> random_corpus(size_t count) {
  const std::vector<std::string> pool = {
      "the",  "and", " ",        "  ",   "\n", "\t", "ing", "Hello", "world",    "llama",
      "tion", "un",  "re",       ".",    ",",  "'",  "\"",  "(",     ")",        "-",
      "_",    "0",   "42",       "2024", "é",  "ß",  "ø",   "Ω",     "ж",        "я",
      "中",   "文",  "字",       "の",   "カ", "한", "ع",   "ש",     "क",        "ก",
      "🦙", "😀",   "👍🏽", "🇯🇵",   "€",  "™",  "∀",   "𝔘",     "\xCC\x81", "\xC2\xA0",
      "<s>",  "▁",   "ab",       "xyz",  "QQ", "!",  "?",   "\r\n"};
  std::mt19937 rng(20240611);
  std::vector<std::string> corpus;
  for (size_t i = 0; i < count; ++i) {
    std::string text;
    const size_t n_items = 1 + rng() % 14;
    for (size_t k = 0; k < n_items; ++k) text += pool[rng() % pool.size()];
    corpus.push_back(std::move(text));
  }
  return corpus;
}

std::vector<std::string> build_corpus() {
  std::vector<std::string> corpus = kHandPicked;
  const std::string inp =
      test::read_file(test::testdata_path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf.inp"));
  const std::string separator = "\n__ggml_vocab_test__\n";
  for (size_t begin = 0, end; (end = inp.find(separator, begin)) != std::string::npos;
       begin = end + separator.size()) {
    corpus.push_back(inp.substr(begin, end - begin));
  }
  for (std::string& text : random_corpus(1500)) corpus.push_back(std::move(text));
  return corpus;
}

std::string reference_script() {
  return test::source_dir() + "/tests/tokenizer/spm_reference.py";
}

TEST(SpmDifferential, MatchesSentencePieceOnVariedCorpus) {
  std::string output;
  if (test::run_command(test::python() + " " + reference_script() + " check", &output) != 0) {
    GTEST_SKIP() << output << "(install python3-sentencepiece to run this differential test)";
  }
  const std::vector<std::string> corpus = build_corpus();
  const std::string corpus_path = test::temp_path("spm_corpus.json");
  const std::string result_path = test::temp_path("spm_reference_out.json");
  test::write_file(corpus_path, nlohmann::json(corpus).dump());
  const std::string model = test::testdata_path("llama2c-tokenizer/tokenizer.model");
  ASSERT_EQ(test::run_command(test::python() + " " + reference_script() + " '" + model + "' '" +
                                  corpus_path + "' '" + result_path + "'",
                              &output),
            0)
      << output;
  const nlohmann::json reference = nlohmann::json::parse(test::read_file(result_path));
  ASSERT_EQ(reference.size(), corpus.size());

  GgufFile file = GgufFile::open(test::testdata_path("llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(file);
  size_t n_encode_mismatches = 0;
  size_t n_decode_mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::vector<TokenId> expected = reference[i].at("ids").get<std::vector<TokenId>>();
    const std::vector<TokenId> ids = tokenizer->encode(corpus[i], /*add_special=*/false);
    if (ids != expected && ++n_encode_mismatches <= 10) {
      ADD_FAILURE() << "encode mismatch on corpus[" << i << "] = \"" << corpus[i] << "\"";
    }
    // SentencePiece drops the dummy-prefix space on decode; latent does so after BOS.
    std::vector<TokenId> with_bos = {tokenizer->bos()};
    with_bos.insert(with_bos.end(), expected.begin(), expected.end());
    const std::string text = reference[i].at("text").get<std::string>();
    if (tokenizer->decode(with_bos) != text && ++n_decode_mismatches <= 10) {
      ADD_FAILURE() << "decode mismatch on corpus[" << i << "]: latent \""
                    << tokenizer->decode(with_bos) << "\" vs SentencePiece \"" << text << "\"";
    }
  }
  EXPECT_EQ(n_encode_mismatches, 0u) << "of " << corpus.size();
  EXPECT_EQ(n_decode_mismatches, 0u) << "of " << corpus.size();
}

}  // namespace
}  // namespace latent
