// Runs tests/server_js/openai_client.mjs: OpenAI's official Node SDK (npm `openai`, installed by
// scripts/setup.sh into build/npm) against two `latent serve` processes, one with --api-key.
// Skips, loudly, only when the SDK is not installed; a missing node is a failure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/testdata.h"
#include "server_harness.h"

namespace latent::test {
namespace {

const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}[SYS]{{ m.content }}[/SYS]"
    "{% elif m.role == 'user' %}[INST] {{ m.content | trim }} [/INST]{% else %}{{ m.content }}"
    "{{ eos_token }}{% endif %}{% endfor %}";

std::string npm_dir() {
  if (const char* d = std::getenv("LATENT_NPM_DIR")) return d;
  return source_dir() + "/build/npm";
}

TEST(OpenAINodeSdk, DrivesTheServer) {
  const std::string npm = npm_dir();
  if (!std::filesystem::exists(npm + "/node_modules/openai/package.json")) {
    GTEST_SKIP() << "\n\n*** SKIPPED: the `openai` npm package is not installed in " << npm
                 << "/node_modules.\n*** Run scripts/setup.sh (npm install --prefix build/npm "
                    "openai@4.95.0) to run the official-SDK tests.\n\n";
  }
  std::string out;
  ASSERT_EQ(run_command("node --version", &out), 0) << "node is required (setup.sh installs it)";
  const std::string model = tiny_model("js_chat", kTemplate, "--n-ctx 512");
  ServerProcess plain(model, {"--model-name", "tiny"});
  ServerProcess keyed(model, {"--model-name", "tiny", "--api-key", "sekret"});
  const std::string cmd =
      "LATENT_NPM_DIR='" + npm +
      "' LATENT_MODEL=tiny LATENT_URL=http://127.0.0.1:" + std::to_string(plain.port()) +
      " LATENT_KEY_URL=http://127.0.0.1:" + std::to_string(keyed.port()) + " node " + source_dir() +
      "/tests/server_js/openai_client.mjs 2>&1";
  const int rc = run_command(cmd, &out);
  EXPECT_EQ(rc, 0) << out << "\nserver log:\n" << plain.log();
  EXPECT_NE(out.find("ok AuthenticationError without the key"), std::string::npos) << out;
  EXPECT_EQ(plain.terminate(30), 0);
  EXPECT_EQ(keyed.terminate(30), 0);
}

}  // namespace
}  // namespace latent::test
