// Structured output and tool calls end to end through `latent serve`:
// - constrained sampling at temperature 1.0 (random-weight model and stories260K) checked by ajv
//   (tests/server_js/schema_samples.mjs) — hundreds of samples, zero failures;
// - 400s that name the field and the construct (unsupported schema keyword, GBNF syntax, unknown
//   forced tool);
// - tool calls round-tripping through the official `openai` npm client for each format
//   (tests/server_js/tool_calls.mjs), on random models carrying the real chat templates.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "server_harness.h"

namespace latent::test {
namespace {

using nlohmann::json;

std::string npm_dir() {
  if (const char* d = std::getenv("LATENT_NPM_DIR")) return d;
  return source_dir() + "/build/npm";
}

// Skips loudly when the npm packages are missing (scripts/setup.sh installs them).
bool have_npm(const char* package) {
  return std::filesystem::exists(npm_dir() + "/node_modules/" + package + "/package.json");
}

#define REQUIRE_NPM(pkg)                                                                        \
  if (!have_npm(pkg))                                                                           \
  GTEST_SKIP() << "\n\n*** SKIPPED: npm package `" << pkg << "` not installed in " << npm_dir() \
               << "/node_modules; run scripts/setup.sh.\n\n"

int run_schema_samples(int port, const std::string& env, std::string* out) {
  return run_command("LATENT_NPM_DIR='" + npm_dir() +
                         "' LATENT_URL=http://127.0.0.1:" + std::to_string(port) + " " + env +
                         " node " + source_dir() + "/tests/server_js/schema_samples.mjs 2>&1",
                     out);
}

const char* kSchemas = "LATENT_SCHEMAS=record,choice,list,segment,formats,either";

TEST(StructuredOutput, AjvAcceptsEveryConstrainedSample) {
  REQUIRE_NPM("ajv");
  ServerProcess random(tiny_model("schema_random", ""), {});
  ServerProcess stories(testdata_path("models/stories260K/stories260K.gguf"), {});
  std::string out;
  // 6 schemas x 2 requests x n=16 = 192 samples.
  EXPECT_EQ(run_schema_samples(random.port(), std::string(kSchemas) + " LATENT_REQUESTS=2", &out),
            0)
      << out << "\nserver log:\n"
      << random.log();
  EXPECT_NE(out.find("validated 192 samples, 0 failures"), std::string::npos) << out;
  // stories260K (its own 512-token vocabulary): 6 x 1 x 16 = 96 samples.
  EXPECT_EQ(run_schema_samples(stories.port(), std::string(kSchemas) + " LATENT_REQUESTS=1", &out),
            0)
      << out << "\nserver log:\n"
      << stories.log();
  EXPECT_NE(out.find("validated 96 samples, 0 failures"), std::string::npos) << out;
}

// format: date must respect days per month and leap years, as ajv-formats (RFC 3339) does.
TEST(StructuredOutput, DateFormatIsNotLooserThanTheSchema) {
  REQUIRE_NPM("ajv");
  ServerProcess stories(testdata_path("models/stories260K/stories260K.gguf"), {});
  std::string out;
  EXPECT_EQ(run_schema_samples(stories.port(), "LATENT_SCHEMAS=dates LATENT_REQUESTS=2", &out), 0)
      << out;
}

TEST(StructuredOutput, GrammarFieldAndRefusals) {
  ServerProcess server(tiny_model("schema_random", ""), {});
  HttpResponse r = http(server.port(), "POST", "/v1/completions",
                        R"({"prompt": "x", "max_tokens": 20, "n": 4, "temperature": 1,
                            "grammar": "root ::= (\"yes\" | \"no\") \"!\""})");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const json& c : json::parse(r.body)["choices"]) {
    const std::string text = c["text"];
    EXPECT_TRUE(text == "yes!" || text == "no!") << text;
    EXPECT_EQ(c["finish_reason"], "stop");
  }
  r = http(server.port(), "POST", "/v1/completions",
           R"({"prompt": "x", "response_format": {"type": "json_schema", "json_schema":
               {"name": "t", "schema": {"type": "array", "uniqueItems": true}}}})");
  EXPECT_EQ(r.status, 400) << r.body;
  json e = json::parse(r.body)["error"];
  EXPECT_EQ(e["param"], "response_format.json_schema.schema");
  EXPECT_NE(e["message"].get<std::string>().find("uniqueItems"), std::string::npos) << r.body;
  r = http(server.port(), "POST", "/v1/completions",
           R"({"prompt": "x", "grammar": "root ::= (\"a\" | undefined-rule"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "grammar") << r.body;
  r = http(server.port(), "POST", "/v1/completions",
           R"({"prompt": "x", "grammar": "root ::= root \"a\" | \"b\""})");
  EXPECT_EQ(r.status, 400) << r.body;  // left recursion, found when compiling
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "grammar") << r.body;
  r = http(server.port(), "POST", "/v1/completions",
           R"({"prompt": "x", "response_format": {"type": "xml"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "response_format.type") << r.body;
}

TEST(StructuredOutput, ToolCallsRoundTripThroughTheOpenAISdk) {
  REQUIRE_NPM("openai");
  REQUIRE_NPM("ajv");
  const std::map<std::string, std::string> formats = {
      {"llama3-json", "meta-llama-Llama-3.1-8B-Instruct.jinja"},
      {"hermes", "Qwen-Qwen2.5-7B-Instruct.jinja"},
      {"deepseek", "llama-cpp-deepseek-r1.jinja"},
  };
  std::vector<std::unique_ptr<ServerProcess>> servers;
  json urls = json::object();
  for (const auto& [format, file] : formats) {
    const std::string model = tiny_model(
        "tools_" + format, read_file(testdata_path("chat-templates/" + file)), "--n-ctx 2048");
    servers.push_back(
        std::make_unique<ServerProcess>(model, std::vector<std::string>{"--model-name", "tiny"}));
    urls[format] = "http://127.0.0.1:" + std::to_string(servers.back()->port());
  }
  std::string out;
  const int rc = run_command("LATENT_NPM_DIR='" + npm_dir() + "' LATENT_SERVERS='" + urls.dump() +
                                 "' node " + source_dir() + "/tests/server_js/tool_calls.mjs 2>&1",
                             &out);
  std::string logs;
  for (auto& s : servers) logs += s->log();
  EXPECT_EQ(rc, 0) << out << "\nserver logs:\n" << logs;
  for (const auto& [format, file] : formats)
    EXPECT_NE(out.find("ok " + format + " tool result fed back"), std::string::npos) << out;
}

}  // namespace
}  // namespace latent::test
