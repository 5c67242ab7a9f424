// Locating the bundled default model.
#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "base/error.h"
#include "base/log.h"

#ifndef LATENT_SOURCE_DIR
#define LATENT_SOURCE_DIR ""
#endif

namespace latent::cli {

std::string default_model_path() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("LATENT_MODEL"); env && *env) {
    if (!fs::exists(env))
      throw Error::field("$LATENT_MODEL", "model file", "an existing GGUF file", env);
    return env;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / ".." / "share" / "latent" / kDefaultModelFile);
  if (*LATENT_SOURCE_DIR)
    candidates.push_back(fs::path(LATENT_SOURCE_DIR) / "models" / kDefaultModelFile);
  std::string looked;
  for (const fs::path& p : candidates) {
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
    looked += (looked.empty() ? "" : ", ") + p.string();
  }
  throw Error("no -m given and the default model " + std::string(kDefaultModelFile) +
              " was not found (looked in $LATENT_MODEL, " + looked + "); pass -m MODEL.gguf");
}

std::string model_or_default(const std::string& model) {
  if (!model.empty()) return model;
  std::string path = default_model_path();
  log_info("no -m given: using the default model " + path);
  return path;
}

}  // namespace latent::cli
