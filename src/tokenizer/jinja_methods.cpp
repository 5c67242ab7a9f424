// Attribute, item and slice access of the chat-template interpreter, and the Python methods that
// templates call on strings (strip, split, startswith, replace, ...) and dicts (items, get, keys,
// values). Follows jinja2's Environment.getattr/getitem: misses become undefined.
#include <algorithm>
#include <cctype>

#include "base/error.h"
#include "tokenizer/jinja_filters.h"

namespace latent::jinja {
namespace {

const std::string& str_arg(const CallArgs& a, size_t i, const char* name, const char* method) {
  const Value* v = a.get(i, name);
  if (!v || !v->is_string())
    throw Error(std::string(method) + "(): expected a string argument '" + name + "'");
  return v->data().get_ref<const std::string&>();
}

bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// str.strip / lstrip / rstrip; chars: the set to remove (default whitespace).
std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
  auto drop = [&](char c) {
    if (!chars || chars->is_none()) return is_py_space(c);
    return chars->data().get_ref<const std::string&>().find(c) != std::string::npos;
  };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && drop(s[b])) ++b;
  if (right)
    while (e > b && drop(s[e - 1])) --e;
  return s.substr(b, e - b);
}

Json split(const std::string& s, const Value* sep, const Value* maxsplit) {
  int64_t max = maxsplit && maxsplit->is_number() ? maxsplit->data().get<int64_t>() : -1;
  Json out = Json::array();
  if (!sep || sep->is_none()) {  // runs of whitespace, no empty strings
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_py_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (max == 0) {
        std::string rest = s.substr(i);
        while (!rest.empty() && is_py_space(rest.back())) rest.pop_back();
        out.push_back(rest);
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_py_space(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      --max;
      i = j;
    }
    return out;
  }
  const std::string& d = sep->data().get_ref<const std::string&>();
  if (d.empty()) throw Error("split(): empty separator");
  size_t start = 0;
  for (;;) {
    const size_t k = max == 0 ? std::string::npos : s.find(d, start);
    if (k == std::string::npos) break;
    out.push_back(s.substr(start, k - start));
    start = k + d.size();
    --max;
  }
  out.push_back(s.substr(start));
  return out;
}

bool affix_match(const std::string& s, const Value& arg, bool prefix) {
  auto one = [&](const Json& p) {
    if (!p.is_string()) throw Error("startswith/endswith: expected a string or a tuple of strings");
    const std::string& t = p.get_ref<const std::string&>();
    return prefix ? s.starts_with(t) : s.ends_with(t);
  };
  if (arg.is_list()) {
    for (const Json& p : arg.data())
      if (one(p)) return true;
    return false;
  }
  return one(arg.data());
}

Value string_method(const std::string& s, const std::string& m, const CallArgs& a) {
  if (m == "strip" || m == "lstrip" || m == "rstrip")
    return Json(strip(s, a.get(0, "chars"), m != "rstrip", m != "lstrip"));
  if (m == "split") return split(s, a.get(0, "sep"), a.get(1, "maxsplit"));
  if (m == "startswith" || m == "endswith") {
    const Value* p = a.get(0, "prefix");
    if (!p) throw Error(m + "(): expected an argument");
    return Json(affix_match(s, *p, m == "startswith"));
  }
  if (m == "replace") {
    const std::string &from = str_arg(a, 0, "old", "replace"),
                      &to = str_arg(a, 1, "new", "replace");
    const Value* count = a.get(2, "count");
    int64_t n = count && count->is_number() ? count->data().get<int64_t>() : -1;
    std::string out;
    size_t i = 0;
    if (from.empty()) return Json(s);
    for (size_t k; n != 0 && (k = s.find(from, i)) != std::string::npos; --n) {
      out += s.substr(i, k - i) + to;
      i = k + from.size();
    }
    return Json(out + s.substr(i));
  }
  if (m == "upper" || m == "lower") {
    std::string out = s;
    for (char& c : out)
      c = static_cast<char>(m == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                         : std::tolower(static_cast<unsigned char>(c)));
    return Json(out);
  }
  if (m == "title" || m == "capitalize") {
    std::string out = s;
    bool start = true;
    for (char& c : out) {
      const unsigned char u = static_cast<unsigned char>(c);
      c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
      start = m == "title" ? !std::isalpha(u) : false;
    }
    return Json(out);
  }
  if (m == "find") {
    const size_t k = s.find(str_arg(a, 0, "sub", "find"));
    return Json(k == std::string::npos ? int64_t{-1} : static_cast<int64_t>(k));
  }
  if (m == "join") {
    const Value* items = a.get(0, "iterable");
    if (!items || !items->is_list()) throw Error("join(): expected a list");
    std::string out;
    for (size_t i = 0; i < items->data().size(); ++i)
      out += (i ? s : "") + to_str(Value(items->data()[i]));
    return Json(out);
  }
  throw Error("string has no method '" + m + "'");
}

Value dict_method(const Json& d, const std::string& m, const CallArgs& a) {
  if (m == "items") {
    Json out = Json::array();
    for (auto it = d.begin(); it != d.end(); ++it)
      out.push_back(Json::array({it.key(), it.value()}));
    return out;
  }
  if (m == "keys" || m == "values") {
    Json out = Json::array();
    for (auto it = d.begin(); it != d.end(); ++it)
      out.push_back(m == "keys" ? Json(it.key()) : it.value());
    return out;
  }
  // get(key, default=None)
  const Value* key = a.get(0, "key");
  if (!key || !key->is_string()) throw Error("get(): expected a string key");
  auto it = d.find(key->data().get<std::string>());
  if (it != d.end()) return *it;
  const Value* def = a.get(1, "default");
  return def ? *def : Value(Json(nullptr));
}

bool is_string_method(const std::string& m) {
  for (const char* n : {"strip", "lstrip", "rstrip", "split", "startswith", "endswith", "replace",
                        "upper", "lower", "title", "capitalize", "find", "join"})
    if (m == n) return true;
  return false;
}

int64_t norm_index(int64_t i, int64_t n) {
  return i < 0 ? i + n : i;
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) {
    throw Error("'" + (obj.undefined_name().empty() ? std::string("value") : obj.undefined_name()) +
                "' is undefined, so it has no attribute '" + name + "'");
  }
  if (obj.is_namespace()) {
    auto& attrs = obj.namespace_attrs();
    auto it = attrs.find(name);
    return it == attrs.end() ? Value::undefined(name) : Value(*it);
  }
  if (obj.is_dict()) {
    if (name == "items" || name == "keys" || name == "values" || name == "get") {
      Json d = obj.data();
      return Value::function([d, name](const CallArgs& a) { return dict_method(d, name, a); });
    }
    auto it = obj.data().find(name);
    return it == obj.data().end() ? Value::undefined(name) : Value(*it);
  }
  if (obj.is_string() && is_string_method(name)) {
    std::string s = obj.data().get<std::string>();
    return Value::function([s, name](const CallArgs& a) { return string_method(s, name, a); });
  }
  if (obj.is_none()) throw Error("None has no attribute '" + name + "'");
  return Value::undefined(name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) {
    throw Error("'" + (obj.undefined_name().empty() ? std::string("value") : obj.undefined_name()) +
                "' is undefined, so it cannot be indexed");
  }
  if (key.is_string() && (obj.is_dict() || obj.is_namespace()))
    return get_attr(obj, key.data().get<std::string>());
  if (key.is_number() && !key.data().is_number_float()) {
    const int64_t i = key.data().get<int64_t>();
    if (obj.is_list()) {
      const int64_t n = static_cast<int64_t>(obj.data().size()), k = norm_index(i, n);
      return k >= 0 && k < n ? Value(obj.data()[static_cast<size_t>(k)]) : Value::undefined();
    }
    if (obj.is_string()) {
      const std::string& s = obj.data().get_ref<const std::string&>();
      const auto off = codepoint_offsets(s);
      const int64_t n = static_cast<int64_t>(off.size()) - 1, k = norm_index(i, n);
      if (k < 0 || k >= n) return Value::undefined();
      return Json(s.substr(off[k], off[k + 1] - off[k]));
    }
  }
  if (obj.is_none()) throw Error("None cannot be indexed");
  return Value::undefined();
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  auto num = [](const Value& v, int64_t def) {
    if (v.is_undefined() || v.is_none()) return def;
    if (!v.is_number()) throw Error("slice indices must be integers");
    return v.data().get<int64_t>();
  };
  const int64_t st = num(step, 1);
  if (st == 0) throw Error("slice step cannot be zero");
  const bool is_str = obj.is_string();
  if (!is_str && !obj.is_list()) throw Error(std::string("cannot slice a ") + type_name(obj));
  std::vector<size_t> off;
  int64_t n;
  if (is_str) {
    off = codepoint_offsets(obj.data().get_ref<const std::string&>());
    n = static_cast<int64_t>(off.size()) - 1;
  } else {
    n = static_cast<int64_t>(obj.data().size());
  }
  // Python's slice.indices()
  auto clamp = [&](int64_t v, bool is_start) {
    if (v < 0) v += n;
    if (st > 0) return std::clamp<int64_t>(v, 0, n);
    (void)is_start;
    return std::clamp<int64_t>(v, -1, n - 1);
  };
  int64_t b = st > 0 ? num(start, 0) : num(start, n - 1);
  int64_t e = st > 0 ? num(stop, n) : num(stop, -n - 1);
  if (!(start.is_undefined() || start.is_none())) b = clamp(b, true);
  if (!(stop.is_undefined() || stop.is_none()))
    e = clamp(e, false);
  else if (st < 0)
    e = -1;
  std::string s_out;
  Json l_out = Json::array();
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (is_str) {
      s_out += obj.data().get_ref<const std::string&>().substr(off[i], off[i + 1] - off[i]);
    } else {
      l_out.push_back(obj.data()[static_cast<size_t>(i)]);
    }
  }
  return is_str ? Value(Json(s_out)) : Value(l_out);
}

Json iterate(const Value& v) {
  if (v.is_undefined()) return Json::array();
  if (v.is_list()) return v.data();
  if (v.is_dict()) {
    Json keys = Json::array();
    for (auto it = v.data().begin(); it != v.data().end(); ++it) keys.push_back(it.key());
    return keys;
  }
  if (v.is_string()) {
    const std::string& s = v.data().get_ref<const std::string&>();
    const auto off = codepoint_offsets(s);
    Json chars = Json::array();
    for (size_t i = 0; i + 1 < off.size(); ++i)
      chars.push_back(s.substr(off[i], off[i + 1] - off[i]));
    return chars;
  }
  throw Error(std::string("cannot iterate over a ") + type_name(v));
}

}  // namespace latent::jinja
