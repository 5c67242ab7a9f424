// JSON Schema -> GBNF: for each schema, JSON texts that must be accepted and texts that must be
// rejected by the generated grammar; every unsupported construct gives an error naming it and its
// JSON pointer; integer ranges are checked exhaustively against arithmetic.
#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema_parts.h"
#include "grammar/matcher.h"

namespace latent::grammar {
namespace {

struct Suite {
  const char* schema;
  std::vector<std::string> accepted;
  std::vector<std::string> rejected;
};

bool matches(const GrammarMatcher& start, std::string_view text) {
  GrammarMatcher m = start;
  return m.accept_bytes(text) && m.is_complete();
}

void run_suite(const Suite& suite) {
  SCOPED_TRACE(suite.schema);
  std::string gbnf = json_schema_to_gbnf_text(suite.schema);
  SCOPED_TRACE(gbnf);
  // The output is itself valid, printable GBNF.
  Grammar parsed = parse_gbnf(gbnf);
  EXPECT_EQ(parse_gbnf(print_gbnf(parsed)), parsed);
  GrammarMatcher start = GrammarMatcher::from_gbnf(gbnf);
  for (const std::string& text : suite.accepted) {
    EXPECT_TRUE(matches(start, text)) << "should accept: " << text;
  }
  for (const std::string& text : suite.rejected) {
    EXPECT_FALSE(matches(start, text)) << "should reject: " << text;
  }
}

TEST(JsonSchema, PrimitiveTypes) {
  run_suite({R"({"type": "string"})",
             {R"("")", R"("a b")", R"("\n\u00e9\"")", R"("日本")"},
             {R"(a)", R"("a)", "\"\n\"", R"("\q")", "1"}});
  run_suite({R"({"type": "number"})",
             {"0", "-1.5", "3e10", "2.5E-3", "10"},
             {"01", "1.", ".5", "+1", "1e", "\"1\""}});
  run_suite({R"({"type": "integer"})", {"0", "-7", "123456"}, {"1.0", "-", "00", "1e3"}});
  run_suite({R"({"type": "boolean"})", {"true", "false"}, {"True", "1", "null"}});
  run_suite({R"({"type": "null"})", {"null"}, {"nul", "\"null\""}});
  run_suite({R"({})", {"1", "\"x\"", "[1, {\"a\": null}]", "{}"}, {"", "[1,]"}});
  run_suite({R"(true)", {"[]"}, {"]"}});
  run_suite(
      {R"({"type": ["string", "null"], "maxLength": 2})", {"null", R"("ab")"}, {R"("abc")", "1"}});
}

TEST(JsonSchema, WhitespaceIsBounded) {
  run_suite({R"({"type": "array", "items": {"type": "integer"}})",
             {"[1,2]", "[ 1, 2 ]", "[\n  1,\n  2\n]", "[1] ", "[\n\t\t1]"},
             {"[  1]", "[1 ,  2]", "[\n" + std::string(21, ' ') + "1]", "[1]\n\n"}});
}

TEST(JsonSchema, ObjectsRequiredAndOptional) {
  const char* schema = R"({
    "type": "object",
    "properties": {"b": {"type": "integer"}, "a": {"type": "string"}, "c": {"type": "boolean"},
                   "d": {"type": "null"}},
    "required": ["c", "b"]
  })";
  run_suite(
      {schema,
       {R"({"b": 1, "c": true})", R"({"b":1,"c":false,"a":"x"})", R"({"b":1,"c":true,"d":null})",
        R"({"b":1,"c":true,"a":"x","d":null})", "{\n  \"b\": 1,\n  \"c\": true\n}"},
       {R"({"b": 1})", R"({"c": true, "b": 1})", R"({"b":1,"c":true,"d":null,"a":"x"})",
        R"({"b":1,"c":true,"e":1})", R"({"b":"1","c":true})", R"({})"}});
  // No required properties: any subset in declaration order, including none.
  run_suite({R"({"properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}})",
             {"{}", R"({"x":1})", R"({"y":2})", R"({"x":1,"y":2})"},
             {R"({"y":2,"x":1})", R"({"x":1,})", R"({,"y":2})"}});
}

TEST(JsonSchema, AdditionalProperties) {
  run_suite({R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
                 "additionalProperties": {"type": "boolean"}})",
             {R"({"a":1})", R"({"a":1,"b":true})", R"({"a":1,"ab":false,"x":true})",
              R"({"a":1,"":true})"},
             {R"({"a":1,"b":1})", R"({"a":1,"a":true})", R"({"b":true})"}});
  run_suite({R"({"type": "object", "additionalProperties": true})",
             {"{}", R"({"k":[1,{"z":null}]})"},
             {"[]"}});
  run_suite({R"({"type": "object"})", {"{}", R"({"k":1})"}, {"1"}});
  run_suite(
      {R"({"type": "object", "properties": {"ab": {"type": "integer"}}, "additionalProperties": true})",
       {R"({"ab":1})", R"({"a":"x"})", R"({"abc":"x"})", R"({"ab":1,"b":2})"},
       {R"({"ab":"x"})", R"({"b":2,"ab":1})"}});
  run_suite(
      {R"({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false})",
       {"{}", R"({"a":1})"},
       {R"({"b":1})"}});
}

TEST(JsonSchema, EnumAndConst) {
  run_suite({R"({"enum": ["red", "green", 3, null, {"k": [1]}]})",
             {R"("red")", R"("green")", "3", "null", R"({"k":[1]})"},
             {R"("blue")", "4", R"("Red")"}});
  run_suite({R"({"const": "x\"y"})", {R"("x\"y")"}, {R"("xy")"}});
  run_suite({R"({"type": "string", "enum": ["a", 1]})", {R"("a")"}, {"1"}});
}

TEST(JsonSchema, Arrays) {
  run_suite({R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3})",
             {"[1,2]", "[1,2,3]"},
             {"[]", "[1]", "[1,2,3,4]", "[1,\"a\"]"}});
  run_suite({R"({"type": "array", "maxItems": 0})", {"[]"}, {"[1]"}});
  run_suite({R"({"type": "array"})", {"[]", "[1,\"a\",null]"}, {"[,]"}});
  run_suite(
      {R"({"type": "array", "items": {"type": "string"}, "minItems": 1})", {R"(["a"])"}, {"[]"}});
}

TEST(JsonSchema, AnyOfOneOfAllOfRefs) {
  run_suite({R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]})",
             {"1", R"("a")"},
             {R"("ab")", "true"}});
  run_suite({R"({"oneOf": [{"type": "boolean"}, {"type": "null"}]})", {"true", "null"}, {"1"}});
  run_suite({R"({"oneOf": [{"const": 1}, {"enum": [2, "x"]}]})", {"1", "2", "\"x\""}, {"3"}});
  run_suite({R"({"allOf": [{"type": "integer"}]})", {"1"}, {"\"1\""}});
  run_suite({R"({"$defs": {"Pos": {"type": "integer", "minimum": 1}},
                 "type": "object", "properties": {"p": {"$ref": "#/$defs/Pos"}}, "required": ["p"]})",
             {R"({"p":5})"},
             {R"({"p":0})"}});
  run_suite({R"({"definitions": {"Node": {"type": "object", "properties": {
                    "v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/definitions/Node"}, {"type": "null"}]}},
                    "required": ["v", "next"]}},
                 "$ref": "#/definitions/Node"})",
             {R"({"v":1,"next":null})", R"({"v":1,"next":{"v":2,"next":null}})"},
             {R"({"v":1})", R"({"v":1,"next":{"v":2}})"}});
}

TEST(JsonSchema, RecursiveRootReference) {
  run_suite({R"({"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$ref": "#"}]}})",
             {"[]", "[1,[2,[]]]"},
             {"[1,[2,\"x\"]]"}});
}

TEST(JsonSchema, StringLengthAndFormats) {
  run_suite({R"({"type": "string", "minLength": 2, "maxLength": 3})",
             {R"("ab")", R"("abc")", R"("a\n")", R"("日本")"},
             {R"("a")", R"("abcd")"}});
  run_suite({R"({"type": "string", "format": "date"})",
             {R"("2024-02-29")"},
             {R"("2024-13-01")", R"("24-01-01")", R"("2024-01-32")"}});
  run_suite({R"({"type": "string", "format": "time"})",
             {R"("23:59:59Z")", R"("01:02:03.456+05:30")"},
             {R"("24:00:00Z")", R"("12:00:00")"}});
  run_suite({R"({"type": "string", "format": "date-time"})",
             {R"("2024-01-02T03:04:05Z")"},
             {R"("2024-01-02 03:04:05Z")"}});
  run_suite(
      {R"({"type": "string", "format": "uuid"})",
       {R"("123e4567-e89b-12d3-a456-426614174000")"},
       {R"("123e4567e89b12d3a456426614174000")", R"("123e4567-e89b-12d3-a456-42661417400g")"}});
}

TEST(JsonSchema, Patterns) {
  run_suite({R"({"type": "string", "pattern": "^[a-z]+-\\d{2,3}$"})",
             {R"("ab-12")", R"("x-123")"},
             {R"("ab-1")", R"("AB-12")", R"("ab-1234")", R"(" ab-12")"}});
  // Unanchored: the match may be anywhere.
  run_suite({R"({"type": "string", "pattern": "ab"})", {R"("ab")", R"("xaby")"}, {R"("a b")"}});
  run_suite({R"({"type": "string", "pattern": "^(?:cat|dog)s?$"})",
             {R"("cat")", R"("dogs")"},
             {R"("cats!")", R"("bird")"}});
  run_suite({R"({"type": "string", "pattern": "^a.c$"})",
             {R"("abc")", R"("a\"c")", R"("aéc")"},
             {R"("a\nc")", R"("ac")"}});
  run_suite({R"({"type": "string", "pattern": "^[^a]\\.\\w*\\s?$"})",
             {R"("b.x_1")", R"("\".")", R"("b. ")"},
             {R"("a.x")", R"("bxx")"}});
  run_suite({R"({"type": "string", "pattern": "^\\\\\"$"})", {R"("\\\"")"}, {R"("\"")"}});
}

TEST(JsonSchema, IntegerBounds) {
  run_suite({R"({"type": "integer", "minimum": -5, "maximum": 12})",
             {"-5", "0", "9", "12"},
             {"-6", "13", "-0", "012"}});
  run_suite({R"({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100})",
             {"1", "99"},
             {"0", "100"}});
  run_suite({R"({"type": "integer", "minimum": 1.5})", {"2", "1000000"}, {"1", "-3"}});
  run_suite({R"({"type": "integer", "maximum": -10})", {"-10", "-123456"}, {"-9", "0", "5"}});
}

TEST(JsonSchema, IntegerRangesExhaustive) {
  // Every range [lo, hi] over a grid, every integer in [-1100, 1100]: accepted iff in range.
  const int64_t bounds[] = {-1000, -987, -150, -101, -100, -99, -10, -9,  -1,  0,   1,
                            7,     9,    10,   19,   99,   100, 101, 123, 150, 999, 1000};
  for (int64_t lo : bounds) {
    for (int64_t hi : bounds) {
      if (lo > hi) continue;
      std::string gbnf = "root ::= " + integer_range_gbnf(lo, hi, "#") + "\n";
      GrammarMatcher start = GrammarMatcher::from_gbnf(gbnf);
      for (int64_t v = -1100; v <= 1100; ++v) {
        bool expected = lo <= v && v <= hi;
        ASSERT_EQ(matches(start, std::to_string(v)), expected)
            << "[" << lo << ", " << hi << "] " << v << "\n"
            << gbnf;
      }
    }
  }
  // One-sided.
  GrammarMatcher at_least =
      GrammarMatcher::from_gbnf("root ::= " + integer_range_gbnf(37, std::nullopt, "#"));
  GrammarMatcher at_most =
      GrammarMatcher::from_gbnf("root ::= " + integer_range_gbnf(std::nullopt, -37, "#"));
  for (int64_t v = -2000; v <= 2000; ++v) {
    ASSERT_EQ(matches(at_least, std::to_string(v)), v >= 37) << v;
    ASSERT_EQ(matches(at_most, std::to_string(v)), v <= -37) << v;
  }
  EXPECT_TRUE(matches(at_least, "9999999999999999"));
  EXPECT_FALSE(matches(at_least, "10000000000000000"));  // 17 digits
}

TEST(JsonSchema, JsonObjectGrammar) {
  GrammarMatcher start = GrammarMatcher::from_gbnf(json_object_gbnf());
  for (const char* ok : {"{}", R"({"a": [1, 2, {"b": null}], "c": "d"})", "{ }"}) {
    EXPECT_TRUE(matches(start, ok)) << ok;
  }
  for (const char* bad : {"[]", "1", R"({"a"})", R"({a: 1})"})
    EXPECT_FALSE(matches(start, bad)) << bad;
}

TEST(JsonSchema, PropertyOrderFollowsDeclarationInText) {
  // The text overload keeps declaration order (nlohmann::json would sort the keys).
  GrammarMatcher m = GrammarMatcher::from_gbnf(json_schema_to_gbnf_text(
      R"({"properties": {"z": {"type": "integer"}, "a": {"type": "integer"}}, "required": ["z", "a"]})"));
  EXPECT_TRUE(matches(m, R"({"z":1,"a":2})"));
  EXPECT_FALSE(matches(m, R"({"a":2,"z":1})"));
}

TEST(JsonSchema, UnsupportedConstructsAreErrors) {
  struct Case {
    const char* schema;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"not": {"type": "string"}})", "json schema: #: unsupported keyword 'not'"},
      {R"({"if": {}, "then": {}})", "unsupported keyword 'if'"},
      {R"({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]})",
       "#: unsupported keyword 'oneOf' with branches 0 and 1"},
      {R"({"oneOf": [{"type": "number"}, {"type": "integer"}]})",
       "unsupported keyword 'oneOf' with branches 0 and 1"},
      {R"({"type": "object", "patternProperties": {"^x": {}}})",
       "#: unsupported keyword 'patternProperties'"},
      {R"({"type": "array", "items": {"type": "string"}, "uniqueItems": true})",
       "unsupported keyword 'uniqueItems'"},
      {R"({"properties": {"a": {"type": "array", "contains": {}}}})",
       "#/properties/a: unsupported keyword 'contains'"},
      {R"({"type": "number", "minimum": 0})",
       "#/minimum: unsupported keyword 'minimum' on type number"},
      {R"({"type": "number", "exclusiveMaximum": 5})",
       "unsupported keyword 'exclusiveMaximum' on type number"},
      {R"({"type": "string", "format": "email"})", "#/format: unsupported format 'email'"},
      {R"({"type": "string", "pattern": "^(a)\\1$"})",
       "#/pattern: pattern \"^(a)\\1$\": unsupported regular expression construct: backreference"},
      {R"j({"type": "string", "pattern": "a(?=b)"})j", "lookaround"},
      {R"({"type": "string", "pattern": "a\\bc"})", "word boundary"},
      {R"({"type": "string", "pattern": "a^b"})", "anchor '^' that is not at the start"},
      {R"({"type": "string", "pattern": "a$b"})", "anchor '$' that is not at the end"},
      {R"({"type": "string", "pattern": "^a|b$"})",
       "'|' at the top level together with the anchors"},
      {R"({"type": "string", "pattern": "a+?"})", "lazy quantifier"},
      {R"({"type": "string", "pattern": "\\p{L}"})", "Unicode property escape"},
      {R"({"type": "string", "pattern": "[[:alpha:]]"})", "POSIX class"},
      {R"({"type": "integer", "minimum": 1e20})", "#/minimum: expected at most 16 digits"},
      {R"({"type": "integer", "minimum": 5, "maximum": 1})", "expected minimum <= maximum"},
      {R"({"$ref": "https://example.com/s.json"})", "#/$ref: unsupported $ref"},
      {R"({"$ref": "#/$defs/Missing"})", "does not resolve"},
      {R"({"allOf": [{"type": "string"}, {"maxLength": 3}]})",
       "allOf: expected exactly one member"},
      {R"({"anyOf": [{"type": "string"}], "properties": {}})",
       "unsupported keyword 'properties' next to 'anyOf'"},
      {R"({"type": "array", "items": [{"type": "string"}]})", "#/items: unsupported tuple form"},
      {R"({"type": "array", "prefixItems": [{}]})", "unsupported keyword 'prefixItems'"},
      {R"({"type": "object", "minProperties": 1})", "unsupported keyword 'minProperties'"},
      {R"({"type": "integer", "multipleOf": 2})", "unsupported keyword 'multipleOf'"},
      {R"({"type": "object", "properties": {"x": {"type": "date"}}})",
       "#/properties/x/type: unsupported type 'date'"},
      {R"(false)", "schema 'false' matches nothing"},
      {R"({"type": "integer", "exclusiveMinimum": true})", "boolean draft-4 form is not supported"},
      {R"({"dependentSchemas": {}})", "unsupported keyword 'dependentSchemas'"},
      {R"({"enum": ["a"], "maxLength": 3})", "unsupported keyword 'maxLength' next to 'enum'"},
      {R"({"type": "object", "properties": {"a\"b": {}}, "additionalProperties": true})",
       "needs JSON escapes"},
      {R"({"type": "object", "required": ["x"], "additionalProperties": false})",
       "required property 'x'"},
      {R"({"type": "string", "pattern": "a", "maxLength": 3})", "'pattern' together with"},
      {R"({"properties": {"a/b~": {"not": {}}}})",
       "#/properties/a~1b~0: unsupported keyword 'not'"},
      {"{not json", "expected valid JSON"},
  };
  for (const Case& c : cases) {
    try {
      std::string gbnf = json_schema_to_gbnf_text(c.schema);
      ADD_FAILURE() << "no error for " << c.schema << "\n" << gbnf;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos)
          << "schema: " << c.schema << "\nmessage: " << e.what();
    }
  }
}

TEST(JsonSchema, NlohmannJsonOverload) {
  nlohmann::json schema = {{"type", "integer"}, {"minimum", 3}};
  GrammarMatcher m = GrammarMatcher::from_gbnf(json_schema_to_gbnf(schema));
  EXPECT_TRUE(matches(m, "3"));
  EXPECT_FALSE(matches(m, "2"));
}

}  // namespace
}  // namespace latent::grammar
