// Failure path of LATENT_CHECK.
#include "base/check.h"

namespace latent {

void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::string text =
      std::string("internal check failed: ") + expr + " at " + file + ":" + std::to_string(line);
  if (!msg.empty()) text += ": " + msg;
  throw InternalError(text);
}

}  // namespace latent
