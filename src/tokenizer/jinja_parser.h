// Jinja parser: template source -> jinja::Template (jinja_ast.h). Owns the statement and expression
// grammar of the supported subset (if/elif/else, for/else with `if` filter, set, set-block,
// namespace attribute set, macro, break/continue, generation blocks; Jinja2's operator
// precedence). Unknown tags, filters and tests are errors here, with their position.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/jinja_ast.h"

namespace latent::jinja {

// Throws latent::Error "chat template L:C: expected ..., found ..." on a syntax error.
std::shared_ptr<const Template> parse(std::string source);

// Whether a filter / test of that name exists (jinja_filters.cpp).
bool has_filter(const std::string& name);
bool has_test(const std::string& name);

}  // namespace latent::jinja
