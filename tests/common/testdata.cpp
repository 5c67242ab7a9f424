// Implements tests/common/testdata.h.
#include "testdata.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace latent::test {

std::string testdata_dir() {
  const char* env = std::getenv("LATENT_TESTDATA");
  std::string dir = env && *env ? env : LATENT_TESTDATA_DEFAULT;
  if (!std::filesystem::is_directory(dir)) {
    ADD_FAILURE() << "TEST DATA MISSING: '" << dir
                  << "' is not a directory. Set LATENT_TESTDATA to the shared testdata folder "
                     "(../shared/testdata beside the clone).";
  }
  return dir;
}

std::string testdata_path(const std::string& relative) {
  std::string path = testdata_dir() + "/" + relative;
  if (!std::filesystem::exists(path)) ADD_FAILURE() << "TEST DATA MISSING: " << path;
  return path;
}

std::string python() {
  const char* env = std::getenv("LATENT_PYTHON");
  return env && *env ? env : LATENT_PYTHON;
}

std::string source_dir() {
  return LATENT_SOURCE_DIR;
}
std::string binary_dir() {
  return LATENT_BINARY_DIR;
}

std::string latent_bin() {
  const char* env = std::getenv("LATENT_BIN");
  return env && *env ? env : std::string(LATENT_BINARY_DIR) + "/latent";
}

namespace {
// One scratch directory per test process, removed when the process exits: ctest runs every test
// in its own process, so leaving them would leave thousands of directories in /tmp.
struct ScratchDir {
  std::string path;
  ScratchDir()
      : path((std::filesystem::temp_directory_path() / ("latent-test-" + std::to_string(getpid())))
                 .string()) {
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_path(const std::string& name) {
  static const ScratchDir dir;
  return dir.path + "/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot read " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

int run_command(const std::string& cmd, std::string* out) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  std::string result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) result.append(buf, n);
  int status = pclose(pipe);
  if (out) *out = std::move(result);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_latent(const std::string& args, std::string* out, std::string* err,
               const std::string& stdin_text, const std::string& env_prefix) {
  const std::string err_path = temp_path("latent_stderr.txt");
  std::string cmd = env_prefix.empty() ? "" : env_prefix + " ";
  cmd += latent_bin() + " " + args + " 2>" + err_path;
  if (!stdin_text.empty()) {
    const std::string in_path = temp_path("latent_stdin.txt");
    write_file(in_path, stdin_text);
    cmd += " < " + in_path;
  }
  const int rc = run_command(cmd, out);
  if (err) *err = read_file(err_path);
  return rc;
}

}  // namespace latent::test
