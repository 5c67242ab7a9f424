// Jinja filters and tests used by chat templates. tojson is HF's (json.dumps with
// ensure_ascii=False, optional indent/separators/sort_keys), not jinja2's HTML-safe one; the others
// follow jinja2's filters.py / tests.py for the arguments they take here.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "base/error.h"
#include "tokenizer/jinja_filters.h"
#include "tokenizer/jinja_parser.h"

namespace latent::jinja {
namespace {

using Filter = std::function<Value(const Value&, const CallArgs&)>;
using Test = std::function<bool(const Value&, const CallArgs&)>;

const Value& arg(const CallArgs& a, size_t i, const char* name) {
  const Value* v = a.get(i, name);
  if (!v) throw Error(std::string("missing argument '") + name + "'");
  return *v;
}
int64_t int_arg(const CallArgs& a, size_t i, const char* name, int64_t def) {
  const Value* v = a.get(i, name);
  return v && v->is_number() ? v->data().get<int64_t>() : def;
}
bool bool_arg(const CallArgs& a, size_t i, const char* name, bool def) {
  const Value* v = a.get(i, name);
  return v ? v->truthy() : def;
}
int64_t length(const Value& v) {
  if (v.is_undefined()) return 0;
  if (v.is_string())
    return static_cast<int64_t>(codepoint_offsets(v.data().get_ref<const std::string&>()).size()) -
           1;
  if (v.is_list() || v.is_dict()) return static_cast<int64_t>(v.data().size());
  throw Error(std::string("length: a ") + type_name(v) + " has no length");
}
Value method(const Value& v, const char* name, CallArgs args = {}) {
  return get_attr(v, name).fn()(args);
}
// Calls the test named by args[first] with the remaining positional arguments.
bool run_named_test(const Value& item, const CallArgs& a, size_t first) {
  const Value& name = arg(a, first, "test");
  if (!name.is_string()) throw Error("expected a test name");
  CallArgs rest;
  rest.pos.assign(a.pos.begin() + static_cast<long>(first) + 1, a.pos.end());
  return apply_test(name.data().get<std::string>(), item, rest);
}
Value select(const Value& v, const CallArgs& a, bool keep, bool by_attr) {
  Json out = Json::array();
  for (const Json& item : iterate(v)) {
    Value x(item);
    if (by_attr) x = get_attr(x, to_str(arg(a, 0, "attribute")));
    const bool pass =
        a.pos.size() > (by_attr ? 1u : 0u) ? run_named_test(x, a, by_attr ? 1 : 0) : x.truthy();
    if (pass == keep) out.push_back(item);
  }
  return out;
}
Json data_of(const Value& v, const char* what) {
  if (v.is_undefined()) throw Error(std::string(what) + ": value is undefined");
  if (v.is_namespace()) return v.namespace_attrs();
  if (!v.is_data()) throw Error(std::string(what) + ": cannot convert a function");
  return v.data();
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> f = {
      {"trim", [](const Value& v,
                  const CallArgs& a) { return method(Value(Json(to_str(v))), "strip", a); }},
      {"tojson",
       [](const Value& v, const CallArgs& a) {
         DumpOptions o;
         o.indent = static_cast<int>(int_arg(a, 0, "indent", -1));
         o.ensure_ascii = bool_arg(a, 99, "ensure_ascii", false);
         o.sort_keys = bool_arg(a, 99, "sort_keys", false);
         if (const Value* s = a.get(99, "separators"); s && s->is_list() && s->data().size() == 2) {
           o.item_sep = s->data()[0].get<std::string>();
           o.key_sep = s->data()[1].get<std::string>();
         }
         return Value(Json(dumps(data_of(v, "tojson"), o)));
       }},
      {"length", [](const Value& v, const CallArgs&) { return Value(Json(length(v))); }},
      {"count", [](const Value& v, const CallArgs&) { return Value(Json(length(v))); }},
      {"first",
       [](const Value& v, const CallArgs&) {
         Json items = iterate(v);
         return items.empty() ? Value::undefined() : Value(items.front());
       }},
      {"last",
       [](const Value& v, const CallArgs&) {
         Json items = iterate(v);
         return items.empty() ? Value::undefined() : Value(items.back());
       }},
      {"join",
       [](const Value& v, const CallArgs& a) {
         const Value* sep = a.get(0, "d");
         const Value* attr = a.get(1, "attribute");
         std::string out, s = sep ? to_str(*sep) : "";
         bool first = true;
         for (const Json& item : iterate(v)) {
           out +=
               (first ? "" : s) + to_str(attr ? get_attr(Value(item), to_str(*attr)) : Value(item));
           first = false;
         }
         return Value(Json(out));
       }},
      {"default",
       [](const Value& v, const CallArgs& a) {
         const bool use = v.is_undefined() || (bool_arg(a, 1, "boolean", false) && !v.truthy());
         if (!use) return v;
         const Value* d = a.get(0, "default_value");
         return d ? *d : Value(Json(""));
       }},
      {"items",
       [](const Value& v, const CallArgs&) {
         if (v.is_undefined()) return Value(Json::array());
         if (!v.is_dict())
           throw Error(std::string("items: expected a dict, found ") + type_name(v));
         return method(v, "items");
       }},
      {"list", [](const Value& v, const CallArgs&) { return Value(iterate(v)); }},
      {"upper",
       [](const Value& v, const CallArgs&) { return method(Value(Json(to_str(v))), "upper"); }},
      {"lower",
       [](const Value& v, const CallArgs&) { return method(Value(Json(to_str(v))), "lower"); }},
      {"capitalize", [](const Value& v,
                        const CallArgs&) { return method(Value(Json(to_str(v))), "capitalize"); }},
      {"title",
       [](const Value& v, const CallArgs&) { return method(Value(Json(to_str(v))), "title"); }},
      {"replace", [](const Value& v,
                     const CallArgs& a) { return method(Value(Json(to_str(v))), "replace", a); }},
      {"string", [](const Value& v, const CallArgs&) { return Value(Json(to_str(v))); }},
      {"safe", [](const Value& v, const CallArgs&) { return v; }},
      {"int",
       [](const Value& v, const CallArgs& a) {
         if (v.is_number()) return Value(Json(static_cast<int64_t>(v.data().get<double>())));
         try {
           return Value(Json(static_cast<int64_t>(std::stoll(to_str(v)))));
         } catch (const std::exception&) {
           return Value(Json(int_arg(a, 0, "default", 0)));
         }
       }},
      {"float",
       [](const Value& v, const CallArgs&) {
         if (v.is_number()) return Value(Json(v.data().get<double>()));
         try {
           return Value(Json(std::stod(to_str(v))));
         } catch (const std::exception&) {
           return Value(Json(0.0));
         }
       }},
      {"abs",
       [](const Value& v, const CallArgs&) {
         if (!v.is_number()) throw Error("abs: expected a number");
         if (v.data().is_number_float()) return Value(Json(std::fabs(v.data().get<double>())));
         return Value(Json(std::llabs(v.data().get<int64_t>())));
       }},
      {"select", [](const Value& v, const CallArgs& a) { return select(v, a, true, false); }},
      {"reject", [](const Value& v, const CallArgs& a) { return select(v, a, false, false); }},
      {"selectattr", [](const Value& v, const CallArgs& a) { return select(v, a, true, true); }},
      {"rejectattr", [](const Value& v, const CallArgs& a) { return select(v, a, false, true); }},
      {"map",
       [](const Value& v, const CallArgs& a) {
         Json out = Json::array();
         const Value* attr = a.get(99, "attribute");
         for (const Json& item : iterate(v)) {
           if (attr) {
             Value x = get_attr(Value(item), to_str(*attr));
             if (x.is_undefined()) {
               const Value* d = a.get(99, "default");
               x = d ? *d : Value(Json(nullptr));
             }
             out.push_back(data_of(x, "map"));
           } else {
             CallArgs rest;
             rest.pos.assign(a.pos.begin() + 1, a.pos.end());
             out.push_back(
                 data_of(apply_filter(to_str(arg(a, 0, "filter")), Value(item), rest), "map"));
           }
         }
         return Value(out);
       }},
      {"reverse",
       [](const Value& v, const CallArgs&) {
         if (v.is_string()) return get_slice(v, Value(), Value(), Value(Json(-1)));
         Json items = iterate(v);
         std::reverse(items.begin(), items.end());
         return Value(items);
       }},
      {"unique",
       [](const Value& v, const CallArgs&) {
         Json out = Json::array();
         for (const Json& item : iterate(v))
           if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
         return Value(out);
       }},
      {"sort",
       [](const Value& v, const CallArgs& a) {
         Json items = iterate(v);
         const Value* attr = a.get(2, "attribute");
         const bool rev = bool_arg(a, 0, "reverse", false);
         auto key = [&](const Json& j) {
           return attr ? get_attr(Value(j), to_str(*attr)) : Value(j);
         };
         std::stable_sort(items.begin(), items.end(), [&](const Json& x, const Json& y) {
           return rev ? compare(key(y), key(x)) < 0 : compare(key(x), key(y)) < 0;
         });
         return Value(items);
       }},
      {"indent",
       [](const Value& v, const CallArgs& a) {
         const std::string s = to_str(v);
         const Value* w = a.get(0, "width");
         const std::string pad =
             w && w->is_string() ? w->data().get<std::string>()
                                 : std::string(static_cast<size_t>(int_arg(a, 0, "width", 4)), ' ');
         const bool first = bool_arg(a, 1, "first", false), blank = bool_arg(a, 2, "blank", false);
         std::string out;
         size_t start = 0;
         for (bool is_first = true;; is_first = false) {
           const size_t nl = s.find('\n', start);
           const std::string line =
               s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
           if ((!is_first || first) && (blank || !line.empty())) out += pad;
           out += line;
           if (nl == std::string::npos) break;
           out += '\n';
           start = nl + 1;
         }
         return Value(Json(out));
       }},
  };
  return f;
}

bool is_int(const Value& v) {
  return v.is_number() && !v.data().is_number_float();
}

const std::map<std::string, Test>& tests() {
  auto cmp = [](auto pred) {
    return
        [pred](const Value& v, const CallArgs& a) { return pred(compare(v, arg(a, 0, "other"))); };
  };
  auto eq = [](const Value& v, const CallArgs& a) { return equal(v, arg(a, 0, "other")); };
  auto ne = [](const Value& v, const CallArgs& a) { return !equal(v, arg(a, 0, "other")); };
  static const std::map<std::string, Test> t = {
      {"defined", [](const Value& v, const CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, const CallArgs&) { return v.is_undefined(); }},
      {"none", [](const Value& v, const CallArgs&) { return v.is_none(); }},
      {"string", [](const Value& v, const CallArgs&) { return v.is_string(); }},
      {"number", [](const Value& v, const CallArgs&) { return v.is_number(); }},
      {"integer", [](const Value& v, const CallArgs&) { return is_int(v); }},
      {"float",
       [](const Value& v, const CallArgs&) { return v.is_number() && v.data().is_number_float(); }},
      {"boolean",
       [](const Value& v, const CallArgs&) { return v.is_data() && v.data().is_boolean(); }},
      {"true",
       [](const Value& v, const CallArgs&) { return v.is_data() && v.data() == Json(true); }},
      {"false",
       [](const Value& v, const CallArgs&) { return v.is_data() && v.data() == Json(false); }},
      {"mapping", [](const Value& v, const CallArgs&) { return v.is_dict(); }},
      // jinja2: anything iter() accepts, which includes strings and Undefined.
      {"iterable",
       [](const Value& v, const CallArgs&) {
         return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
       }},
      {"sequence",
       [](const Value& v, const CallArgs&) { return v.is_string() || v.is_list() || v.is_dict(); }},
      {"callable", [](const Value& v, const CallArgs&) { return v.is_callable(); }},
      {"odd", [](const Value& v,
                 const CallArgs&) { return is_int(v) && v.data().get<int64_t>() % 2 != 0; }},
      {"even", [](const Value& v,
                  const CallArgs&) { return is_int(v) && v.data().get<int64_t>() % 2 == 0; }},
      {"divisibleby",
       [](const Value& v, const CallArgs& a) {
         const int64_t d = int_arg(a, 0, "num", 0);
         return is_int(v) && d != 0 && v.data().get<int64_t>() % d == 0;
       }},
      {"lower",
       [](const Value& v, const CallArgs&) {
         return v.is_string() && to_str(method(v, "lower")) == to_str(v);
       }},
      {"upper",
       [](const Value& v, const CallArgs&) {
         return v.is_string() && to_str(method(v, "upper")) == to_str(v);
       }},
      {"in",
       [](const Value& v, const CallArgs& a) {
         for (const Json& item : iterate(arg(a, 0, "seq")))
           if (equal(v, Value(item))) return true;
         return false;
       }},
      {"equalto", eq},
      {"eq", eq},
      {"==", eq},
      {"sameas", eq},
      {"ne", ne},
      {"!=", ne},
      {"lt", cmp([](int c) { return c < 0; })},
      {"<", cmp([](int c) { return c < 0; })},
      {"le", cmp([](int c) { return c <= 0; })},
      {"<=", cmp([](int c) { return c <= 0; })},
      {"gt", cmp([](int c) { return c > 0; })},
      {">", cmp([](int c) { return c > 0; })},
      {"ge", cmp([](int c) { return c >= 0; })},
      {">=", cmp([](int c) { return c >= 0; })},
  };
  return t;
}

}  // namespace

bool has_filter(const std::string& name) {
  return name == "d" || name == "e" || name == "escape" || filters().count(name) > 0;
}
bool has_test(const std::string& name) {
  return tests().count(name) > 0;
}

Value apply_filter(const std::string& name, const Value& v, const CallArgs& args) {
  if (name == "d") return apply_filter("default", v, args);
  if (name == "e" || name == "escape") {  // HTML escaping (templates render unescaped otherwise)
    std::string out;
    for (char c : to_str(v)) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&#34;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          out += c;
      }
    }
    return Json(out);
  }
  auto it = filters().find(name);
  if (it == filters().end()) throw Error("unknown filter '" + name + "'");
  return it->second(v, args);
}

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw Error("unknown test '" + name + "'");
  return it->second(v, args);
}

}  // namespace latent::jinja
