// The model `latent run`, `chat` and `serve` use when no -m is given: the small arithmetic
// reasoning model that latent's own recipe trains (models/README.md: `latent train`, then
// `latent grpo`), committed as models/latent-arith.gguf.
#pragma once

#include <string>

namespace latent::cli {

inline constexpr const char* kDefaultModelFile = "latent-arith.gguf";

// The first of: $LATENT_MODEL; <binary's dir>/../share/latent/latent-arith.gguf (installed);
// <source tree>/models/latent-arith.gguf (a build tree). Throws latent::Error listing the places
// it looked when none exists.
std::string default_model_path();

// `model` when given, else default_model_path() (logged at info level).
std::string model_or_default(const std::string& model);

// Help text of the -m option of run, chat and serve.
inline constexpr const char* kModelOptionHelp =
    "GGUF model file (default: the bundled arithmetic reasoning model, or $LATENT_MODEL)";

}  // namespace latent::cli
