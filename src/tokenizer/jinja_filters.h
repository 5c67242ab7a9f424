// Built-in filters, tests and methods of the chat-template interpreter, and Jinja's attribute /
// item lookup (obj.name falls back to obj["name"], misses give undefined). Functions throw
// latent::Error without a position; the evaluator prefixes the template position.
#pragma once

#include <string>

#include "tokenizer/jinja_value.h"

namespace latent::jinja {

Value apply_filter(const std::string& name, const Value& v, const CallArgs& args);
bool apply_test(const std::string& name, const Value& v, const CallArgs& args);

// obj.name: dict/str methods (d.items, s.strip, ...) as bound functions first, then the key; a
// namespace's attribute; undefined when absent. Throws for attributes of undefined or none.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: dict key, list/string index (negative counts from the end); undefined when absent.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] for lists and strings (Python slicing; null parts are omitted).
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// The elements a for loop visits: list items, dict keys, string characters; none for undefined.
Json iterate(const Value& v);

}  // namespace latent::jinja
