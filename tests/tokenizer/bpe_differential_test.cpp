// Differential test against @lenml/tokenizers 3.7.2 (npm; transformers.js' tokenizers): a seeded
// corpus of 5,000 varied strings (lenml_reference.mjs) must give 100% identical ids for Llama 3,
// Qwen3, DeepSeek-V3 and Mistral loaded from their tokenizer.json, and decode(encode(s)) == s. The
// package is installed with npm under the build directory on first use; node and npm are required.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

constexpr int kCorpusSize = 5000;
constexpr int kSeed = 20261123;

std::string lenml_modules() {
  const std::string prefix = test::binary_dir() + "/npm";
  const std::string modules = prefix + "/node_modules";
  if (!std::filesystem::exists(modules + "/@lenml/tokenizers/dist/main.mjs")) {
    std::string out;
    const int rc = test::run_command(
        "npm install --no-audit --no-fund --prefix '" + prefix + "' @lenml/tokenizers@3.7.2 2>&1",
        &out);
    EXPECT_EQ(rc, 0) << "npm install @lenml/tokenizers@3.7.2 failed (node and npm are "
                        "scripts/setup.sh packages):\n"
                     << out;
  }
  return modules;
}

TEST(BpeDifferential, LenmlTokenizersGiveIdenticalIds) {
  const std::string reference = test::temp_path("lenml_reference.json");
  std::string out;
  const std::string command = "node '" + test::source_dir() +
                              "/tests/tokenizer/lenml_reference.mjs' '" + lenml_modules() + "' '" +
                              test::testdata_dir() + "' " + std::to_string(kCorpusSize) + " " +
                              std::to_string(kSeed) + " '" + reference + "' 2>&1";
  ASSERT_EQ(test::run_command(command, &out), 0) << command << "\n" << out;
  const nlohmann::json ref = nlohmann::json::parse(test::read_file(reference));
  const auto strings = ref.at("strings").get<std::vector<std::string>>();
  const auto nfc = ref.at("nfc").get<std::vector<std::string>>();
  ASSERT_EQ(strings.size(), static_cast<size_t>(kCorpusSize));

  for (const std::string name : {"llama3", "qwen3", "deepseek_v3", "mistral"}) {
    SCOPED_TRACE(name);
    std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_tokenizer_json(
        test::testdata_path("tokenizers/" + name + "/tokenizer.json"));
    // Qwen's tokenizer.json normalizes to NFC, which latent (like llama.cpp's GGUF path) does not:
    // its inputs are the NFC forms.
    const std::vector<std::string>& inputs = name == "qwen3" ? nfc : strings;
    const nlohmann::json& expected = ref.at("ids").at(name);
    int n_same = 0, n_round_trip = 0, n_lossy = 0, n_shown = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      // Hugging Face splits special tokens out of the text: parse_special = true.
      const std::vector<TokenId> ids = tokenizer->encode(inputs[i], false, true);
      const bool same = ids == expected[i].get<std::vector<TokenId>>();
      n_same += same;
      if (!same && n_shown++ < 5) {
        ADD_FAILURE() << "string " << i << " \"" << inputs[i] << "\": ids differ from lenml's "
                      << expected[i].dump();
      }
      // Round trip: as plain text, with BOS where the model adds one. SentencePiece maps '▁'
      // (U+2581) to ' ', so such strings cannot round-trip through Mistral's vocabulary.
      const bool lossy = name == "mistral" && inputs[i].find("\xE2\x96\x81") != std::string::npos;
      n_lossy += lossy;
      const std::string decoded = tokenizer->decode(tokenizer->encode(inputs[i], true, false));
      if (!lossy) {
        EXPECT_EQ(decoded, inputs[i]) << "string " << i;
        n_round_trip += decoded == inputs[i];
      }
    }
    EXPECT_EQ(n_same, kCorpusSize);
    EXPECT_EQ(n_round_trip + n_lossy, kCorpusSize);
    std::printf(
        "[ lenml    ] %s: %d/%d identical ids, %d/%d round trips (%d skipped: contain U+2581)\n",
        name.c_str(), n_same, kCorpusSize, n_round_trip, kCorpusSize - n_lossy, n_lossy);
  }
}

}  // namespace
}  // namespace latent
