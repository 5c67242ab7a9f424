// Sampling flags shared by the generating commands (run, chat), so both accept the same names and
// defaults. The seed stays with each command: `chat` uses -s for its system prompt.
#pragma once

#include <CLI/CLI.hpp>

#include "sample/sampler.h"

namespace latent::cli {

// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --frequency-penalty
// --presence-penalty, bound to `params`.
void add_sampling_options(CLI::App* sub, SamplerParams& params);

}  // namespace latent::cli
