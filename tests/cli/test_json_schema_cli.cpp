// `latent run --json-schema / --grammar-file`: the output of every run matches (checked by ajv
// through tests/server_js/schema_samples.mjs, the same schemas the server test uses), and flag
// errors name the flag and the construct.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/testdata.h"

namespace latent::test {
namespace {

std::string npm_dir() {
  if (const char* d = std::getenv("LATENT_NPM_DIR")) return d;
  return source_dir() + "/build/npm";
}

std::string stories() {
  return testdata_path("models/stories260K/stories260K.gguf");
}

TEST(RunJsonSchema, EveryRunValidates) {
  if (!std::filesystem::exists(npm_dir() + "/node_modules/ajv/package.json"))
    GTEST_SKIP() << "\n\n*** SKIPPED: npm package `ajv` not installed; run scripts/setup.sh.\n\n";
  const std::string script = source_dir() + "/tests/server_js/schema_samples.mjs";
  nlohmann::json samples = nlohmann::json::array();
  for (const std::string name : {"record", "list", "segment"}) {
    std::string schema;
    ASSERT_EQ(run_command("LATENT_NPM_DIR='" + npm_dir() + "' LATENT_PRINT_SCHEMA=" + name +
                              " node " + script,
                          &schema),
              0)
        << schema;
    const std::string path = temp_path("cli_schema_" + name + ".json");
    write_file(path, schema);
    for (int seed = 1; seed <= 8; ++seed) {
      std::string out;
      ASSERT_EQ(run_command(latent_bin() + " run -m " + stories() + " -n 300 --temp 1 -t 1 -s " +
                                std::to_string(seed) + " --json-schema " + path + " 2>/dev/null",
                            &out),
                0)
          << out;
      samples.push_back({{"schema", name}, {"output", out}});
    }
  }
  const std::string file = temp_path("cli_schema_samples.json");
  write_file(file, samples.dump());
  std::string out;
  EXPECT_EQ(run_command("LATENT_NPM_DIR='" + npm_dir() + "' LATENT_VALIDATE_FILE=" + file +
                            " node " + script + " 2>&1",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("validated 24 samples, 0 failures"), std::string::npos) << out;
}

TEST(RunJsonSchema, GrammarFileAndErrors) {
  const std::string g = temp_path("cli_yes_no.gbnf");
  write_file(g, "root ::= (\"yes\" | \"no\") \".\"\n");
  std::string out;
  ASSERT_EQ(run_command(latent_bin() + " run -m " + stories() + " -n 50 --temp 1 -s 3 -t 1 " +
                            "--grammar-file " + g + " 2>&1",
                        &out),
            0)
      << out;
  EXPECT_TRUE(out.starts_with("yes.") || out.starts_with("no.")) << out;
  EXPECT_NE(out.find("[latent] grammar:"), std::string::npos) << out;  // mask time reported
  EXPECT_EQ(
      run_command(latent_bin() + " run -m " + stories() +
                      " -n 5 --json-schema '{\"type\": \"array\", \"uniqueItems\": true}' 2>&1",
                  &out),
      1);
  EXPECT_NE(out.find("--json-schema"), std::string::npos) << out;
  EXPECT_NE(out.find("uniqueItems"), std::string::npos) << out;
  EXPECT_EQ(run_command(latent_bin() + " run -m " + stories() + " -n 5 --grammar-file " +
                            temp_path("no_such.gbnf") + " 2>&1",
                        &out),
            1);
  EXPECT_NE(out.find("--grammar-file"), std::string::npos) << out;
}

}  // namespace
}  // namespace latent::test
