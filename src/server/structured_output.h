// The grammars behind structured output: GBNF composition (several JSON-schema grammars in one,
// a payload after a reasoning block) and the grammar that forces a template's tool-call syntax
// with each function's parameters schema as its arguments. Errors are ApiError 400s naming the
// request field and the construct.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/tool_calls.h"

namespace latent::server {

// The GBNF with every rule renamed to prefix + name (its root becomes prefix + "root"), printed
// back, so several grammars can live in one text. Throws latent::Error for GBNF that does not
// parse.
std::string prefix_gbnf_rules(const std::string& gbnf, const std::string& prefix);

// A payload that follows a reasoning block: "</think>", up to two newlines or spaces, then the
// payload (GrammarTokenConstraint's after_think grammar).
std::string after_think_gbnf(const std::string& payload_gbnf);

// JSON schema → GBNF; a construct the converter cannot express is a 400 naming `field`.
std::string schema_gbnf(const nlohmann::ordered_json& schema, const std::string& field);

struct ToolFunction {
  std::string name;
  nlohmann::ordered_json parameters;  // JSON schema of the arguments object
  std::string field;                  // "tools[2].function.parameters", for errors
};

// One call to any of `functions` (or up to four, newline-separated, when parallel and the format
// allows several) in `format`'s exact syntax.
std::string tool_call_gbnf(ToolFormat format, const std::vector<ToolFunction>& functions,
                           bool parallel);

}  // namespace latent::server
