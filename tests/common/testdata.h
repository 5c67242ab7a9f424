// Test-side helpers: where the shared test data lives, the Python reference interpreter, temp
// paths. Test data is found through one setting, LATENT_TESTDATA (default ../shared/testdata beside
// the repo); a missing directory fails the test loudly instead of skipping it.
#pragma once

#include <string>
#include <vector>

namespace latent::test {

// Absolute path of a file under the shared test data; fails the current test if the directory is
// absent.
std::string testdata_path(const std::string& relative);
// Directory of the test data (LATENT_TESTDATA or the built-in default).
std::string testdata_dir();
// Python interpreter with NumPy, for tests/reference.
std::string python();
std::string source_dir();
std::string binary_dir();
// The built CLI (LATENT_BIN, else <build>/latent).
std::string latent_bin();
// A fresh path under a per-process temp directory.
std::string temp_path(const std::string& name);
// Whole file as bytes.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
// Runs a shell command; returns its exit status and fills *out with stdout.
int run_command(const std::string& cmd, std::string* out);
// Runs the built CLI with `args` (shell syntax): its exit status, stdout in *out and, when given,
// stderr in *err. A non-empty stdin_text is fed on stdin; env_prefix (e.g. "env -u LATENT_MODEL")
// goes before the binary.
int run_latent(const std::string& args, std::string* out, std::string* err = nullptr,
               const std::string& stdin_text = "", const std::string& env_prefix = "");

}  // namespace latent::test
