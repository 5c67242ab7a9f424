// jinja::Value semantics: Python truthiness, str()/repr(), json.dumps as HF's tojson calls it,
// equality and ordering.
#include "tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "base/error.h"

namespace latent::jinja {

const Value* CallArgs::get(size_t index, std::string_view name) const {
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return index < pos.size() ? &pos[index] : nullptr;
}

Value Value::undefined(std::string name) {
  Value v;
  v.name_ = std::move(name);
  return v;
}

Value Value::make_namespace(Json attrs) {
  Value v(Json{});
  v.ns_ = std::make_shared<Json>(std::move(attrs));
  return v;
}

Value Value::function(Function fn) {
  Value v(Json{});
  v.fn_ = std::make_shared<Function>(std::move(fn));
  return v;
}

bool Value::truthy() const {
  if (undefined_) return false;
  if (ns_ || fn_) return true;
  switch (data_.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return data_.get<bool>();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return data_.get<int64_t>() != 0;
    case Json::value_t::number_float:
      return data_.get<double>() != 0.0;
    case Json::value_t::string:
      return !data_.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return !data_.empty();
    default:
      return true;
  }
}

// Python's float repr: the shortest round-trip digits, scientific below 1e-4 and from 1e16 on.
std::string python_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, res.ptr);  // e.g. "-1.5e-07"
  const size_t e = s.find('e');
  const int exp = std::stoi(s.substr(e + 1));
  std::string mant = s.substr(0, e);
  const bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp < -4 || exp >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  } else if (exp < 0) {
    out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else {
    const size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out = digits + std::string(int_len - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  }
  return neg ? "-" + out : out;
}

namespace {

std::string repr_string(const std::string& s) {
  const char q =
      (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == static_cast<unsigned char>(q)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + q;
}

void dump_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    char b[16];
    if (c < 0x20) {
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
    } else {  // decode one UTF-8 sequence, escape as \uXXXX (surrogate pairs above U+FFFF)
      const int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      uint32_t cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
      for (int k = 1; k < len && i + 1 < s.size(); ++k) cp = (cp << 6) | (s[++i] & 0x3F);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else {
        std::snprintf(b, sizeof b, "\\u%04x", cp);
      }
      out += b;
    }
  }
  out += '"';
}

void dump(const Json& j, const DumpOptions& o, int depth, std::string& out) {
  auto newline = [&](int d) {
    if (o.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(o.indent * d), ' ');
  };
  if (j.is_object()) {
    if (j.empty()) {
      out += "{}";
      return;
    }
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    if (o.sort_keys) std::sort(keys.begin(), keys.end());
    out += '{';
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i) out += o.item_sep;
      newline(depth + 1);
      dump_string(keys[i], o.ensure_ascii, out);
      out += o.key_sep;
      dump(j.at(keys[i]), o, depth + 1, out);
    }
    newline(depth);
    out += '}';
  } else if (j.is_array()) {
    if (j.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < j.size(); ++i) {
      if (i) out += o.item_sep;
      newline(depth + 1);
      dump(j[i], o, depth + 1, out);
    }
    newline(depth);
    out += ']';
  } else if (j.is_string()) {
    dump_string(j.get_ref<const std::string&>(), o.ensure_ascii, out);
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    out += std::isnan(d)   ? "NaN"
           : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity")
                           : python_float(d);
  } else {
    out += j.dump();  // null, true/false, integers
  }
}

}  // namespace

std::string repr(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "None";
    case Json::value_t::boolean:
      return j.get<bool>() ? "True" : "False";
    case Json::value_t::number_float:
      return python_float(j.get<double>());
    case Json::value_t::string:
      return repr_string(j.get_ref<const std::string&>());
    case Json::value_t::array: {
      std::string s = "[";
      for (size_t i = 0; i < j.size(); ++i) s += (i ? ", " : "") + repr(j[i]);
      return s + "]";
    }
    case Json::value_t::object: {
      std::string s = "{";
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it, first = false)
        s += (first ? "" : ", ") + repr_string(it.key()) + ": " + repr(it.value());
      return s + "}";
    }
    default:
      return j.dump();
  }
}

std::string to_str(const Value& v) {
  if (v.is_undefined()) return "";
  if (v.is_namespace()) return "<Namespace " + repr(v.namespace_attrs()) + ">";
  if (v.is_callable()) return "<function>";
  if (v.data().is_string()) return v.data().get<std::string>();
  return repr(v.data());
}

std::string dumps(const Json& j, const DumpOptions& opt) {
  DumpOptions o = opt;
  if (o.item_sep.empty()) o.item_sep = o.indent < 0 ? ", " : ",";
  if (o.key_sep.empty()) o.key_sep = ": ";
  std::string out;
  dump(j, o, 0, out);
  return out;
}

const char* type_name(const Value& v) {
  if (v.is_undefined()) return "undefined";
  if (v.is_namespace()) return "namespace";
  if (v.is_callable()) return "function";
  switch (v.data().type()) {
    case Json::value_t::null:
      return "none";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_float:
      return "float";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "dict";
    default:
      return "?";
  }
}

bool equal(const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (!a.is_data() || !b.is_data()) return false;
  const Json &x = a.data(), &y = b.data();
  if (x.is_number() && y.is_number()) return x.get<double>() == y.get<double>();
  if (x.is_boolean() != y.is_boolean()) return false;  // True == 1 is rare in templates
  return x == y;
}

int compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.data().get<double>(), y = b.data().get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    return a.data().get_ref<const std::string&>().compare(b.data().get_ref<const std::string&>());
  }
  if (a.is_list() && b.is_list()) {
    const Json &x = a.data(), &y = b.data();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      const int c = compare(Value(x[i]), Value(y[i]));
      if (c != 0) return c;
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw Error(std::string("cannot order ") + type_name(a) + " and " + type_name(b));
}

std::vector<size_t> codepoint_offsets(std::string_view s) {
  std::vector<size_t> off;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) off.push_back(i);
  off.push_back(s.size());
  return off;
}

}  // namespace latent::jinja
