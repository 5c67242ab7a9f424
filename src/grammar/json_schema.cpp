// JSON Schema -> GBNF converter. Each schema becomes a rule whose language is the JSON values the
// schema accepts followed by bounded whitespace (`space`); separators and brackets are followed by
// `space` as well, so whitespace may appear between any two JSON tokens but never unboundedly.
#include "grammar/json_schema.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema_parts.h"

namespace latent::grammar {

namespace {

using Json = nlohmann::ordered_json;

// Shared building blocks (llama.cpp's json-schema-to-grammar primitives, with the trailing space
// moved into the rules that use them).
const std::map<std::string, std::string>& primitive_rules() {
  static const std::map<std::string, std::string> rules = {
      {"space", R"("" | " " | "\n" [ \t]{0,20})"},
      {"char", R"([^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4}))"},
      {"string", R"("\"" char* "\"" space)"},
      {"integral-part", R"([0] | [1-9] [0-9]{0,15})"},
      {"decimal-part", R"([0-9]{1,16})"},
      {"number", R"(("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space)"},
      {"integer", R"(("-"? integral-part) space)"},
      {"boolean", R"(("true" | "false") space)"},
      {"null", R"("null" space)"},
      {"value", R"(object | array | string | number | boolean | null)"},
      {"object",
       R"("{" space ( string ":" space value ("," space string ":" space value)* )? "}" space)"},
      {"array", R"("[" space ( value ("," space value)* )? "]" space)"},
      // RFC 3339 full-date: days per month, and February 29 only in leap years (divisible by 4,
      // centuries only when divisible by 400), so no date that does not exist is accepted.
      {"date",
       R"([0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) ) | ( [0-9] [0-9] ( "0" [48] | [2468] [048] | [13579] [26] ) | ( [02468] [048] | [13579] [26] ) "00" ) "-02-29")"},
      {"time",
       R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))"},
      {"date-time", R"(date "T" time)"},
      {"uuid",
       R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})"},
  };
  return rules;
}

// oneOf demands that exactly one branch matches, which a grammar cannot check in general; it is
// exact when no value can match two branches. Decidable cases: branches whose JSON types differ
// ("integer" counts as "number"), and const/enum branches with distinct values. Anything else is
// refused rather than enforced as the looser anyOf.
struct BranchValues {
  bool known = false;
  std::set<std::string> types;  // JSON types the branch can match
  std::vector<Json> literals;   // when the branch is a const/enum: exactly these values
  bool literal = false;
};

std::string json_type_of(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

BranchValues branch_values(const Json& b) {
  BranchValues out;
  if (!b.is_object() || b.contains("$ref") || b.contains("anyOf") || b.contains("oneOf") ||
      b.contains("allOf"))
    return out;
  if (b.contains("const") || b.contains("enum")) {
    if (b.contains("const")) out.literals.push_back(b["const"]);
    if (b.contains("enum") && b["enum"].is_array())
      for (const auto& v : b["enum"]) out.literals.push_back(v);
    for (const auto& v : out.literals) out.types.insert(json_type_of(v));
    out.known = out.literal = true;
    return out;
  }
  if (!b.contains("type")) return out;
  auto add = [&](const Json& t) {
    if (!t.is_string()) return false;
    const std::string name = t.get<std::string>();
    out.types.insert(name == "integer" ? "number" : name);
    return true;
  };
  if (b["type"].is_array()) {
    for (const auto& t : b["type"])
      if (!add(t)) return out;
  } else if (!add(b["type"])) {
    return out;
  }
  out.known = true;
  return out;
}

bool branches_disjoint(const BranchValues& a, const BranchValues& b) {
  if (!a.known || !b.known) return false;
  if (a.literal && b.literal) {
    for (const auto& x : a.literals)
      for (const auto& y : b.literals)
        if (x == y) return false;
    return true;
  }
  for (const auto& t : a.types)
    if (b.types.count(t)) return false;
  return true;
}

const std::set<std::string>& annotation_keywords() {
  static const std::set<std::string> keys = {"title",    "description", "default",  "examples",
                                             "$schema",  "$id",         "$comment", "deprecated",
                                             "readOnly", "writeOnly",   "$defs",    "definitions"};
  return keys;
}

const std::set<std::string>& supported_keywords() {
  static const std::set<std::string> keys = {"type",
                                             "properties",
                                             "required",
                                             "additionalProperties",
                                             "enum",
                                             "const",
                                             "items",
                                             "minItems",
                                             "maxItems",
                                             "anyOf",
                                             "oneOf",
                                             "allOf",
                                             "$ref",
                                             "pattern",
                                             "minLength",
                                             "maxLength",
                                             "minimum",
                                             "maximum",
                                             "exclusiveMinimum",
                                             "exclusiveMaximum",
                                             "format"};
  return keys;
}

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string literal(const std::string& utf8) {
  std::string out = "\"";
  out += escape_literal_utf8(utf8);
  out += '"';
  return out;
}

std::string sanitize_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (ok) {
      out += c;
    } else if (out.empty() || out.back() != '-') {
      out += '-';
    }
  }
  return out.empty() ? "x" : out;
}

std::vector<uint32_t> decode_utf8(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto b0 = static_cast<unsigned char>(s[i]);
    int len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 1;
    if (i + static_cast<size_t>(len) > s.size()) len = 1;
    uint32_t v = len == 1 ? b0 : b0 & (0x7F >> len);
    for (int k = 1; k < len; ++k)
      v = (v << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    out.push_back(v);
    i += static_cast<size_t>(len);
  }
  return out;
}

class SchemaConverter {
 public:
  explicit SchemaConverter(const Json& root) : root_(root) {}

  std::string convert() {
    reserved_.insert("root");
    for (const auto& [name, body] : primitive_rules()) reserved_.insert(name);
    std::string body = visit_body(root_, "root", "#");
    rules_.insert(rules_.begin(), {"root", body});
    std::string out;
    for (const auto& [name, rule_body] : rules_) out += name + " ::= " + rule_body + "\n";
    return out;
  }

  std::string json_object() {
    use_primitive("object");
    rules_.insert(rules_.begin(), {"root", "object"});
    std::string out;
    for (const auto& [name, rule_body] : rules_) out += name + " ::= " + rule_body + "\n";
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& pointer, const std::string& what) const {
    throw Error("json schema: " + pointer + ": " + what);
  }

  // Adds a primitive rule and the primitives it references.
  std::string use_primitive(const std::string& name) {
    if (primitives_added_.insert(name).second) {
      static const std::map<std::string, std::vector<std::string>> deps = {
          {"string", {"char", "space"}},
          {"number", {"integral-part", "decimal-part", "space"}},
          {"integer", {"integral-part", "space"}},
          {"boolean", {"space"}},
          {"null", {"space"}},
          {"value", {"object", "array", "string", "number", "boolean", "null"}},
          {"object", {"space", "string", "value"}},
          {"array", {"space", "value"}},
          {"date-time", {"date", "time"}},
      };
      rules_.push_back({name, primitive_rules().at(name)});
      auto it = deps.find(name);
      if (it != deps.end()) {
        for (const std::string& dep : it->second) use_primitive(dep);
      }
    }
    return name;
  }

  std::string unique_name(const std::string& base) {
    std::string name = sanitize_name(base);
    std::string candidate = name;
    for (int i = 2; reserved_.count(candidate) || names_.count(candidate); ++i) {
      candidate = name + "-" + std::to_string(i);
    }
    names_.insert(candidate);
    return candidate;
  }

  // Adds `body` as a new rule (named after `base`) and returns its name; identical bodies share a
  // rule.
  std::string add_rule(const std::string& base, const std::string& body) {
    auto it = rule_by_body_.find(body);
    if (it != rule_by_body_.end()) return it->second;
    std::string name = unique_name(base);
    rules_.push_back({name, body});
    rule_by_body_[body] = name;
    return name;
  }

  std::string visit(const Json& schema, const std::string& name, const std::string& pointer) {
    std::string body = visit_body(schema, name, pointer);
    // A body that is just a rule name needs no rule of its own.
    if (rule_exists(body)) return body;
    return add_rule(name, body);
  }

  bool rule_exists(const std::string& body) const {
    for (const auto& [name, rule_body] : rules_) {
      if (name == body) return true;
    }
    return names_.count(body) > 0;  // reserved for a $ref target being converted
  }

  void check_keywords(const Json& schema, const std::string& pointer) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      const std::string& key = it.key();
      if (annotation_keywords().count(key) || supported_keywords().count(key)) continue;
      fail(pointer, "unsupported keyword '" + key + "' (the grammar cannot express it exactly)");
    }
  }

  // Keywords of `schema` other than annotations and `allowed`.
  std::vector<std::string> other_keywords(const Json& schema,
                                          const std::set<std::string>& allowed) {
    std::vector<std::string> out;
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (!annotation_keywords().count(it.key()) && !allowed.count(it.key()))
        out.push_back(it.key());
    }
    return out;
  }

  void require_alone(const Json& schema, const std::string& keyword, const std::string& pointer,
                     const std::set<std::string>& also_allowed = {}) {
    std::set<std::string> allowed = also_allowed;
    allowed.insert(keyword);
    std::vector<std::string> others = other_keywords(schema, allowed);
    if (!others.empty()) {
      fail(pointer, "unsupported keyword '" + others[0] + "' next to '" + keyword +
                        "' (combining them requires an intersection the grammar cannot express)");
    }
  }

  std::string visit_body(const Json& schema, const std::string& name, const std::string& pointer) {
    if (schema.is_boolean()) {
      if (schema.get<bool>()) return use_primitive("value");
      fail(pointer, "schema 'false' matches nothing");
    }
    if (!schema.is_object()) fail(pointer, "expected a schema object, found " + schema.dump());
    check_keywords(schema, pointer);

    if (schema.contains("$ref")) {
      require_alone(schema, "$ref", pointer);
      return resolve_ref(schema["$ref"], pointer + "/$ref");
    }
    for (const char* keyword : {"anyOf", "oneOf"}) {
      if (!schema.contains(keyword)) continue;
      require_alone(schema, keyword, pointer);
      const Json& list = schema[keyword];
      if (!list.is_array() || list.empty())
        fail(pointer, std::string(keyword) + ": expected a non-empty array");
      if (std::string_view(keyword) == "oneOf") {
        for (size_t i = 0; i < list.size(); ++i)
          for (size_t j = i + 1; j < list.size(); ++j)
            if (!branches_disjoint(branch_values(list[i]), branch_values(list[j])))
              fail(pointer, "unsupported keyword 'oneOf' with branches " + std::to_string(i) +
                                " and " + std::to_string(j) +
                                " that may both match (exactly-one cannot be enforced; use anyOf "
                                "or branches of different types or values)");
      }
      std::string body;
      for (size_t i = 0; i < list.size(); ++i) {
        std::string sub = visit(list[i], name + "-" + std::to_string(i),
                                pointer + "/" + keyword + "/" + std::to_string(i));
        body += (i ? " | " : "") + sub;
      }
      return body;
    }
    if (schema.contains("allOf")) {
      require_alone(schema, "allOf", pointer);
      const Json& list = schema["allOf"];
      if (!list.is_array() || list.size() != 1) {
        fail(pointer, "allOf: expected exactly one member (intersections are not supported)");
      }
      return visit_body(list[0], name, pointer + "/allOf/0");
    }
    if (schema.contains("const") || schema.contains("enum")) return visit_enum(schema, pointer);

    if (schema.contains("type") && schema["type"].is_array()) {
      const Json& types = schema["type"];
      if (types.empty()) fail(pointer + "/type", "expected a non-empty array of types");
      std::string body;
      for (size_t i = 0; i < types.size(); ++i) {
        Json single = schema;
        single["type"] = types[i];
        std::string type_name = types[i].is_string() ? types[i].get<std::string>() : "type";
        body += (i ? " | " : "") + visit(single, name + "-" + type_name, pointer);
      }
      return body;
    }
    std::string type = schema_type(schema, pointer);
    if (type == "object") return visit_object(schema, name, pointer);
    if (type == "array") return visit_array(schema, name, pointer);
    if (type == "string") return visit_string(schema, pointer);
    if (type == "integer") return visit_integer(schema, pointer);
    if (type == "number") {
      for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
        if (schema.contains(k))
          fail(pointer + "/" + k, std::string("unsupported keyword '") + k +
                                      "' on type number (only integer bounds are supported)");
      }
      return use_primitive("number");
    }
    if (type == "boolean") return use_primitive("boolean");
    if (type == "null") return use_primitive("null");
    if (type == "any") return use_primitive("value");
    fail(pointer + "/type", "unsupported type '" + type + "'");
  }

  // The schema's type, inferred from its keywords when `type` is absent.
  std::string schema_type(const Json& schema, const std::string& pointer) {
    if (schema.contains("type")) {
      if (!schema["type"].is_string()) fail(pointer + "/type", "expected a string or an array");
      return schema["type"].get<std::string>();
    }
    for (const char* k : {"properties", "additionalProperties", "required"}) {
      if (schema.contains(k)) return "object";
    }
    for (const char* k : {"items", "minItems", "maxItems"}) {
      if (schema.contains(k)) return "array";
    }
    for (const char* k : {"pattern", "minLength", "maxLength", "format"}) {
      if (schema.contains(k)) return "string";
    }
    for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      if (schema.contains(k)) {
        fail(pointer, std::string("'") + k + "' without a type (give type integer)");
      }
    }
    return "any";
  }

  std::string resolve_ref(const Json& ref_value, const std::string& pointer) {
    if (!ref_value.is_string()) fail(pointer, "expected a string");
    std::string ref = ref_value.get<std::string>();
    auto known = ref_names_.find(ref);
    if (known != ref_names_.end()) return known->second;
    if (ref != "#" && ref.rfind("#/", 0) != 0) {
      fail(pointer, "unsupported $ref '" + ref + "' (only local references like #/$defs/Name)");
    }
    const Json* target = nullptr;
    try {
      target = &root_.at(Json::json_pointer(ref.substr(1)));
    } catch (const std::exception&) {
      fail(pointer, "$ref '" + ref + "' does not resolve to a schema in this document");
    }
    std::string def_name = ref == "#" ? "root-ref" : ref.substr(ref.rfind('/') + 1);
    std::string name = unique_name(def_name);
    ref_names_[ref] = name;  // before visiting: the definition may refer to itself
    size_t slot = rules_.size();
    rules_.push_back({name, ""});
    std::string body = visit_body(*target, name, ref);
    rules_[slot].second = body;
    return name;
  }

  std::string visit_enum(const Json& schema, const std::string& pointer) {
    require_alone(schema, schema.contains("const") ? "const" : "enum", pointer, {"type"});
    if (schema.contains("const") && schema.contains("enum"))
      fail(pointer, "both 'const' and 'enum'");
    std::vector<Json> values;
    if (schema.contains("const")) {
      values.push_back(schema["const"]);
    } else {
      if (!schema["enum"].is_array()) fail(pointer + "/enum", "expected an array");
      for (const Json& v : schema["enum"]) values.push_back(v);
    }
    std::set<std::string> types;
    if (schema.contains("type")) {
      const Json& t = schema["type"];
      if (t.is_string()) types.insert(t.get<std::string>());
      if (t.is_array()) {
        for (const Json& x : t) types.insert(x.get<std::string>());
      }
    }
    std::string body;
    for (const Json& v : values) {
      if (!types.empty() && !types.count(json_type(v)) &&
          !(json_type(v) == "integer" && types.count("number"))) {
        continue;  // a value of another type does not validate
      }
      body += (body.empty() ? "" : " | ") + literal(v.dump());
    }
    if (body.empty()) fail(pointer, "no enum/const value matches the schema's type");
    use_primitive("space");
    return "(" + body + ") space";
  }

  static std::string json_type(const Json& v) {
    if (v.is_object()) return "object";
    if (v.is_array()) return "array";
    if (v.is_string()) return "string";
    if (v.is_boolean()) return "boolean";
    if (v.is_null()) return "null";
    if (v.is_number_integer()) return "integer";
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return "integer";
    return "number";
  }

  std::optional<uint64_t> count_keyword(const Json& schema, const char* key,
                                        const std::string& pointer) {
    if (!schema.contains(key)) return std::nullopt;
    const Json& v = schema[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      fail(pointer + "/" + key, "expected a non-negative integer, found " + v.dump());
    }
    return v.get<uint64_t>();
  }

  std::string visit_string(const Json& schema, const std::string& pointer) {
    use_primitive("space");
    auto min_length = count_keyword(schema, "minLength", pointer);
    auto max_length = count_keyword(schema, "maxLength", pointer);
    if (schema.contains("format")) {
      for (const char* k : {"pattern", "minLength", "maxLength"}) {
        if (schema.contains(k)) fail(pointer, std::string("'format' together with '") + k + "'");
      }
      if (!schema["format"].is_string()) fail(pointer + "/format", "expected a string");
      std::string format = schema["format"].get<std::string>();
      if (format != "date" && format != "time" && format != "date-time" && format != "uuid") {
        fail(pointer + "/format",
             "unsupported format '" + format + "' (supported: date, time, date-time, uuid)");
      }
      return "\"\\\"\" " + use_primitive(format) + " \"\\\"\" space";
    }
    if (schema.contains("pattern")) {
      if (min_length || max_length)
        fail(pointer, "'pattern' together with 'minLength'/'maxLength'");
      if (!schema["pattern"].is_string()) fail(pointer + "/pattern", "expected a string");
      use_primitive("char");
      return "\"\\\"\" " +
             regex_to_gbnf(schema["pattern"].get<std::string>(), pointer + "/pattern", "char") +
             " \"\\\"\" space";
    }
    if (!min_length && !max_length) return use_primitive("string");
    uint64_t lo = min_length.value_or(0);
    if (max_length && *max_length < lo) fail(pointer, "minLength > maxLength");
    use_primitive("char");
    std::string repeat =
        "{" + std::to_string(lo) + "," + (max_length ? std::to_string(*max_length) : "") + "}";
    return "\"\\\"\" char" + repeat + " \"\\\"\" space";
  }

  std::optional<int64_t> integer_bound(const Json& schema, const char* key, bool is_min,
                                       bool exclusive, const std::string& pointer) {
    if (!schema.contains(key)) return std::nullopt;
    const Json& v = schema[key];
    if (!v.is_number()) {
      fail(pointer + "/" + key,
           "expected a number (the boolean draft-4 form is not supported), found " + v.dump());
    }
    double d = v.get<double>();
    if (!(std::fabs(d) < 1e16))
      fail(pointer + "/" + key, "expected at most 16 digits, found " + v.dump());
    if (v.is_number_integer()) {
      int64_t i = v.get<int64_t>();
      return exclusive ? (is_min ? i + 1 : i - 1) : i;
    }
    double bound = is_min ? (exclusive ? std::floor(d) + 1 : std::ceil(d))
                          : (exclusive ? std::ceil(d) - 1 : std::floor(d));
    return static_cast<int64_t>(bound);
  }

  std::string visit_integer(const Json& schema, const std::string& pointer) {
    use_primitive("space");
    std::optional<int64_t> lo = integer_bound(schema, "minimum", true, false, pointer);
    std::optional<int64_t> hi = integer_bound(schema, "maximum", false, false, pointer);
    std::optional<int64_t> xlo = integer_bound(schema, "exclusiveMinimum", true, true, pointer);
    std::optional<int64_t> xhi = integer_bound(schema, "exclusiveMaximum", false, true, pointer);
    if (xlo && (!lo || *xlo > *lo)) lo = xlo;
    if (xhi && (!hi || *xhi < *hi)) hi = xhi;
    if (!lo && !hi) return use_primitive("integer");
    return integer_range_gbnf(lo, hi, pointer) + " space";
  }

  std::string visit_array(const Json& schema, const std::string& name, const std::string& pointer) {
    use_primitive("space");
    std::string item = "value";
    if (schema.contains("items")) {
      if (schema["items"].is_array())
        fail(pointer + "/items", "unsupported tuple form of 'items' (an array)");
      item = visit(schema["items"], name + "-item", pointer + "/items");
    } else {
      use_primitive("value");
    }
    uint64_t lo = count_keyword(schema, "minItems", pointer).value_or(0);
    std::optional<uint64_t> hi = count_keyword(schema, "maxItems", pointer);
    if (hi && *hi < lo) fail(pointer, "minItems > maxItems");
    if (hi && *hi == 0) return "\"[\" space \"]\" space";
    std::string more = "(\",\" space " + item + ")";
    uint64_t more_lo = lo == 0 ? 0 : lo - 1;
    std::string repeat =
        "{" + std::to_string(more_lo) + "," + (hi ? std::to_string(*hi - 1) : "") + "}";
    std::string list = item + " " + more + repeat;
    return "\"[\" space " + (lo == 0 ? "(" + list + ")?" : list) + " \"]\" space";
  }

  struct TrieNode {
    std::map<uint32_t, TrieNode> children;
    bool end = false;
  };

  // JSON string contents (raw characters) different from every key in the trie; see the header
  // of this file. Characters that would need escaping in a declared key are rejected by the caller.
  std::string not_in_trie(const TrieNode& node) {
    std::vector<std::string> alternatives;
    std::string excluded = "[^\"\\\\\\x7F\\x00-\\x1F";
    for (const auto& [c, child] : node.children) {
      std::string alternative = "\"";
      alternative += escape_literal(std::u32string(1, static_cast<char32_t>(c)));
      alternative += "\" (";
      alternative += not_in_trie(child);
      alternative += ")";
      alternatives.push_back(std::move(alternative));
      excluded += class_char_gbnf(c);
    }
    alternatives.push_back(excluded + "] char*");
    if (!node.end) alternatives.push_back("\"\"");
    std::string out;
    for (size_t i = 0; i < alternatives.size(); ++i) out += (i ? " | " : "") + alternatives[i];
    return out;
  }

  std::string visit_object(const Json& schema, const std::string& name,
                           const std::string& pointer) {
    use_primitive("space");
    Json properties = schema.contains("properties") ? schema["properties"] : Json::object();
    if (!properties.is_object()) fail(pointer + "/properties", "expected an object");
    std::vector<std::string> required;
    if (schema.contains("required")) {
      if (!schema["required"].is_array())
        fail(pointer + "/required", "expected an array of strings");
      for (const Json& r : schema["required"]) {
        if (!r.is_string()) fail(pointer + "/required", "expected an array of strings");
        required.push_back(r.get<std::string>());
      }
    }
    Json additional = schema.contains("additionalProperties") ? schema["additionalProperties"]
                                                              : Json(properties.empty());
    std::string prefix = name == "root" ? "" : name + "-";
    std::set<std::string> required_set(required.begin(), required.end());
    std::string additional_value;
    if (!(additional.is_boolean() && !additional.get<bool>())) {
      additional_value = additional.is_boolean() ? use_primitive("value")
                                                 : visit(additional, prefix + "additional-value",
                                                         pointer + "/additionalProperties");
    }
    auto kv_rule = [&](const std::string& key, const std::string& value_rule) {
      Json key_json = key;
      return add_rule(prefix + key + "-kv",
                      literal(key_json.dump()) + " space \":\" space " + value_rule);
    };
    std::vector<std::string> required_kvs, optional_kvs;
    for (auto it = properties.begin(); it != properties.end(); ++it) {
      std::string value_rule =
          visit(it.value(), prefix + it.key(), pointer + "/properties/" + pointer_token(it.key()));
      (required_set.count(it.key()) ? required_kvs : optional_kvs)
          .push_back(kv_rule(it.key(), value_rule));
    }
    for (const std::string& key : required) {
      if (properties.contains(key)) continue;
      if (additional_value.empty()) {
        fail(pointer + "/required",
             "required property '" + key +
                 "' is neither in 'properties' nor allowed by additionalProperties");
      }
      required_kvs.push_back(kv_rule(key, additional_value));
    }
    std::string additional_kv;
    if (!additional_value.empty()) {
      std::string key_rule;
      if (properties.empty()) {
        key_rule = use_primitive("string");
      } else {
        TrieNode trie;
        for (auto it = properties.begin(); it != properties.end(); ++it) {
          TrieNode* node = &trie;
          for (uint32_t c : decode_utf8(it.key())) {
            if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F) {
              fail(pointer + "/properties",
                   "property name '" + it.key() +
                       "' needs JSON escapes, which additionalProperties cannot exclude");
            }
            node = &node->children[c];
          }
          node->end = true;
        }
        use_primitive("char");
        key_rule = add_rule(prefix + "additional-k",
                            "\"\\\"\" (" + not_in_trie(trie) + ") \"\\\"\" space");
      }
      additional_kv =
          add_rule(prefix + "additional-kv", key_rule + " \":\" space " + additional_value);
    }

    // After the first member every member is preceded by ",": optional members each at most once
    // in declaration order, then any number of additional members.
    std::string tail;
    for (const std::string& kv : optional_kvs) tail += " (\",\" space " + kv + ")?";
    if (!additional_kv.empty()) tail += " (\",\" space " + additional_kv + ")*";
    std::string content;
    if (!required_kvs.empty()) {
      for (size_t i = 0; i < required_kvs.size(); ++i)
        content += (i ? " \",\" space " : "") + required_kvs[i];
      content += tail;
    } else {
      // No required member: the first member may be any optional one (the ones before it are
      // skipped) or an additional one. rest-i shares the tails so the rule stays linear in size.
      std::vector<std::string> alternatives;
      std::string rest_after = additional_kv.empty() ? "" : " (\",\" space " + additional_kv + ")*";
      std::vector<std::string> rests(optional_kvs.size() + 1);
      rests[optional_kvs.size()] = rest_after;
      for (size_t i = optional_kvs.size(); i-- > 0;) {
        std::string body = "(\",\" space " + optional_kvs[i] + ")?" + rests[i + 1];
        rests[i] = " " + add_rule(prefix + "rest-" + std::to_string(i), body);
      }
      for (size_t i = 0; i < optional_kvs.size(); ++i)
        alternatives.push_back(optional_kvs[i] + rests[i + 1]);
      if (!additional_kv.empty()) alternatives.push_back(additional_kv + rest_after);
      if (!alternatives.empty()) {
        content = "(";
        for (size_t i = 0; i < alternatives.size(); ++i)
          content += (i ? " | " : "") + alternatives[i];
        content += ")?";
      }
    }
    return "\"{\" space " + (content.empty() ? "" : content + " ") + "\"}\" space";
  }

  const Json& root_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::unordered_map<std::string, std::string> rule_by_body_;
  std::set<std::string> names_;
  std::set<std::string> reserved_;
  std::set<std::string> primitives_added_;
  std::unordered_map<std::string, std::string> ref_names_;
};

}  // namespace

std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema) {
  return SchemaConverter(schema).convert();
}

std::string json_schema_to_gbnf(const nlohmann::json& schema) {
  return json_schema_to_gbnf(nlohmann::ordered_json(schema));
}

std::string json_schema_to_gbnf_text(std::string_view schema_json) {
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(schema_json);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(std::string("json schema: expected valid JSON, found a parse error: ") + e.what());
  }
  return json_schema_to_gbnf(schema);
}

std::string json_object_gbnf() {
  static const nlohmann::ordered_json empty = nlohmann::ordered_json::object();
  return SchemaConverter(empty).json_object();
}

}  // namespace latent::grammar
