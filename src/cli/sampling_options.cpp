// Implements the shared sampling flags of sampling_options.h.
#include "cli/sampling_options.h"

#include <fstream>
#include <sstream>

#include "base/error.h"
#include "grammar/json_schema.h"

namespace latent::cli {

void add_sampling_options(CLI::App* sub, SamplerParams& p) {
  sub->add_option("--temp", p.temperature, "Temperature (0: greedy)")->capture_default_str();
  sub->add_option("--top-k", p.top_k, "Top-k (0: off)")->capture_default_str();
  sub->add_option("--top-p", p.top_p, "Top-p (1: off)")->capture_default_str();
  sub->add_option("--min-p", p.min_p, "Min-p (0: off)")->capture_default_str();
  sub->add_option("--repeat-penalty", p.repeat_penalty, "Repetition penalty (1: off)")
      ->capture_default_str();
  sub->add_option("--repeat-last-n", p.repeat_last_n, "Tokens the penalties look back at")
      ->capture_default_str();
  sub->add_option("--frequency-penalty", p.frequency_penalty, "Frequency penalty")
      ->capture_default_str();
  sub->add_option("--presence-penalty", p.presence_penalty, "Presence penalty")
      ->capture_default_str();
}

namespace {

std::string read_text(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(flag + ": expected a readable file, found '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void add_constraint_options(CLI::App* sub, ConstraintOptions& o) {
  auto* g = sub->add_option("--grammar-file", o.grammar_file,
                            "GBNF grammar (llama.cpp's format) the output must match");
  auto* j = sub->add_option("--json-schema", o.json_schema,
                            "JSON schema the output must match (a file, or the JSON itself)");
  g->excludes(j);
}

std::string constraint_gbnf(const ConstraintOptions& o) {
  if (!o.grammar_file.empty()) return read_text(o.grammar_file, "--grammar-file");
  if (o.json_schema.empty()) return {};
  // Inline JSON starts with '{'; anything else is a path.
  const bool inline_json = o.json_schema.find_first_not_of(" \t\n") != std::string::npos &&
                           o.json_schema[o.json_schema.find_first_not_of(" \t\n")] == '{';
  const std::string text = inline_json ? o.json_schema : read_text(o.json_schema, "--json-schema");
  try {
    return grammar::json_schema_to_gbnf_text(text);
  } catch (const Error& e) {
    throw Error(std::string("--json-schema: ") + e.what());
  }
}

}  // namespace latent::cli
