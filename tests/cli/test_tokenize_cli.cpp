// Black-box tests of `latent tokenize` with a tokenizer.json (--tokenizer) and a file (--file), its
// argument errors, and `latent run` on a model with a byte-level BPE (GPT-2) vocabulary.
#include <gtest/gtest.h>

#include "common/testdata.h"

namespace latent {
namespace {

int latent(const std::string& args, std::string* out, std::string* err = nullptr) {
  return test::run_latent(args, out, err);
}

// Single-quoted for the shell (appended, not "'" + ...: that form trips GCC 12's false -Wrestrict).
std::string quoted(const std::string& path) {
  std::string q = "'";
  q += path;
  q += "'";
  return q;
}

std::string json(const std::string& name) {
  return quoted(test::testdata_path("tokenizers/" + name + "/tokenizer.json"));
}

std::string gpt2_gguf() {
  return quoted(test::testdata_path("llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
}

bool is_valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(CliTokenize, TokenizerJsonInsteadOfModel) {
  std::string out, err;
  ASSERT_EQ(latent("tokenize --tokenizer " + json("llama3_1") + " -p 'Hello world'", &out, &err), 0)
      << err;
  EXPECT_EQ(out, "128000 9906 1917\n");
  ASSERT_EQ(latent("tokenize --tokenizer " + json("llama3_1") +
                       " -p 'Hello world<|eot_id|>' --no-bos --parse-special",
                   &out),
            0);
  EXPECT_EQ(out, "9906 1917 128009\n");
  ASSERT_EQ(latent("tokenize --tokenizer " + json("qwen3") + " -p 'Hello world'", &out), 0);
  EXPECT_EQ(out, "9707 1879\n");  // Qwen adds no BOS
}

TEST(CliTokenize, FileContentIsTokenizedWhole) {
  const std::string path = test::temp_path("tokenize_input.txt");
  test::write_file(path, "Hello world\n\n  indented\ttab 🦙\n");
  std::string from_file, from_prompt, err;
  ASSERT_EQ(latent("tokenize -m " + gpt2_gguf() + " --file '" + path + "'", &from_file, &err), 0)
      << err;
  ASSERT_EQ(latent("tokenize -m " + gpt2_gguf() +
                       " -p \"$(printf 'Hello world\\n\\n  "
                       "indented\\ttab 🦙\\n_')\"",
                   &from_prompt),
            0);
  // The prompt form carries a trailing "_" (the shell strips trailing newlines otherwise).
  EXPECT_EQ(from_prompt.rfind(from_file.substr(0, from_file.size() - 1), 0), 0u)
      << from_file << "\n"
      << from_prompt;
  EXPECT_EQ(from_file.rfind("15496 995 628 220", 0), 0u) << from_file;
}

TEST(CliTokenize, ExactlyOneVocabularyAndOneText) {
  std::string out, err;
  EXPECT_NE(latent("tokenize -p x", &out, &err), 0);
  EXPECT_NE(
      latent("tokenize -m " + gpt2_gguf() + " --tokenizer " + json("qwen3") + " -p x", &out, &err),
      0);
  EXPECT_NE(latent("tokenize -m " + gpt2_gguf(), &out, &err), 0);
  EXPECT_NE(latent("tokenize --tokenizer " + json("qwen3") + " -p x --file '" +
                       test::testdata_path("tokenizers/qwen3/vocab-test.inp") + "'",
                   &out, &err),
            0);
  EXPECT_NE(latent("tokenize -m '" +
                       test::testdata_path("llama.cpp-vocab/ggml-vocab-bert-bge.gguf") + "' -p x",
                   &out, &err),
            0);
  EXPECT_NE(err.find("bert"), std::string::npos) << err;
}

TEST(CliRun, Gpt2VocabularyModelStreamsValidText) {
  const std::string model = test::temp_path("gpt2_vocab_model.gguf");
  std::string out, err;
  ASSERT_EQ(test::run_command(test::binary_dir() +
                                  "/latent-gen-model --n-vocab 50257 --n-embd 32 --n-layer 1 "
                                  "--n-head 2 --n-ff 64 --vocab-from " +
                                  gpt2_gguf() + " --out '" + model + "' 2>&1",
                              &out),
            0)
      << out;
  // Unfiltered sampling over 50257 tokens reaches byte-level pieces that are fragments of UTF-8
  // characters; what the detokenizer streams must still be valid UTF-8.
  for (int seed = 1; seed <= 3; ++seed) {
    ASSERT_EQ(latent("run -m '" + model + "' -p 'Hello 🦙' -n 64 --temp 1 --top-k 0 --top-p 1 " +
                         "--min-p 0 --seed " + std::to_string(seed),
                     &out, &err),
              0)
        << err;
    EXPECT_FALSE(out.empty());
    EXPECT_TRUE(is_valid_utf8(out)) << out;
  }
  std::string again;
  ASSERT_EQ(latent("run -m '" + model +
                       "' -p 'Hello 🦙' -n 64 --temp 1 --top-k 0 --top-p 1 "
                       "--min-p 0 --seed 3",
                   &again),
            0);
  EXPECT_EQ(again, out);
}

}  // namespace
}  // namespace latent
