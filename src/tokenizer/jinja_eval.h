// Evaluator of parsed Jinja templates: renders a jinja::Template with variables (JSON) and global
// functions. Owns scoping (a for-loop iteration and a macro call get their own scope; `set` writes
// the innermost one; namespace() objects are shared), the loop object, macros, operators and the
// built-in globals namespace(), range(), dict(). Errors carry the template position.
#pragma once

#include <map>
#include <string>

#include "tokenizer/jinja_ast.h"

namespace latent::jinja {

// vars: a JSON object of the template's variables. functions: extra globals (raise_exception,
// strftime_now, ...). Throws latent::Error "chat template L:C: ..." for any run-time error.
std::string render(const Template& t, const Json& vars,
                   const std::map<std::string, Function>& functions);

}  // namespace latent::jinja
