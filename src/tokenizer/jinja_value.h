// jinja::Value: the run-time value of the chat-template interpreter — JSON data (none, bool, int,
// float, string, list, dict), Jinja's undefined, a namespace() object (shared, mutable) or a
// callable (macro or global function). Owns Python's semantics for truthiness, str()/repr(),
// comparison and HF's tojson (json.dumps with ensure_ascii=False). Not the parser or the filters.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latent::jinja {

using Json = nlohmann::ordered_json;

class Value;

// Arguments of a call: positional, then keyword (in source order).
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  const Value* get(size_t index, std::string_view name) const;  // nullptr when not given
};

using Function = std::function<Value(const CallArgs&)>;

class Value {
 public:
  Value() : undefined_(true) {}
  Value(Json data) : data_(std::move(data)) {}  // NOLINT: implicit from data by design
  static Value undefined(std::string name = {});
  static Value make_namespace(Json attrs);
  static Value function(Function fn);

  bool is_undefined() const { return undefined_; }
  bool is_namespace() const { return ns_ != nullptr; }
  bool is_callable() const { return fn_ != nullptr; }
  // Plain data: none, bool, number, string, array or object (not undefined, namespace, callable).
  bool is_data() const { return !undefined_ && !ns_ && !fn_; }
  bool is_string() const { return is_data() && data_.is_string(); }
  bool is_number() const { return is_data() && data_.is_number(); }
  bool is_list() const { return is_data() && data_.is_array(); }
  bool is_dict() const { return is_data() && data_.is_object(); }
  bool is_none() const { return is_data() && data_.is_null(); }

  const Json& data() const { return data_; }
  Json& namespace_attrs() const { return *ns_; }
  const Function& fn() const { return *fn_; }
  const std::string& undefined_name() const { return name_; }

  bool truthy() const;

 private:
  Json data_;
  bool undefined_ = false;
  std::string name_;          // for undefined: what was looked up
  std::shared_ptr<Json> ns_;  // namespace attributes (an object)
  std::shared_ptr<Function> fn_;
};

// Python str(): strings as they are, None/True/False, lists and dicts as repr; undefined is "".
std::string to_str(const Value& v);
// Python repr() of data: strings in quotes, floats as Python prints them.
std::string repr(const Json& j);
std::string python_float(double d);

struct DumpOptions {
  int indent = -1;  // < 0: one line
  std::string item_sep, key_sep;
  bool ensure_ascii = false;
  bool sort_keys = false;
};
// json.dumps: separators default to (", ", ": ") on one line and (",", ": ") with an indent.
std::string dumps(const Json& j, const DumpOptions& opt);

// Python ==, and <, <=, >, >= for numbers, strings and lists; false when types differ (equality)
// or throws latent::Error (ordering) — callers add the template position.
bool equal(const Value& a, const Value& b);
int compare(const Value& a, const Value& b);  // <0, 0, >0
const char* type_name(const Value& v);

// UTF-8 code point boundaries of s (size = code points + 1), for indexing and slicing strings.
std::vector<size_t> codepoint_offsets(std::string_view s);

}  // namespace latent::jinja
