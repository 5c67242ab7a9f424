// Sampling flags shared by the generating commands (run, chat), so both accept the same names and
// defaults. The seed stays with each command: `chat` uses -s for its system prompt.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "sample/sampler.h"

namespace latent::cli {

// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --frequency-penalty
// --presence-penalty, bound to `params`.
void add_sampling_options(CLI::App* sub, SamplerParams& params);

// Structured output for `run`: --grammar-file FILE (GBNF) or --json-schema FILE_OR_JSON.
struct ConstraintOptions {
  std::string grammar_file;
  std::string json_schema;
};
void add_constraint_options(CLI::App* sub, ConstraintOptions& options);
// The GBNF the options ask for (empty: none). Throws latent::Error naming the flag for an
// unreadable file, malformed JSON or a schema construct the converter cannot express.
std::string constraint_gbnf(const ConstraintOptions& options);

}  // namespace latent::cli
