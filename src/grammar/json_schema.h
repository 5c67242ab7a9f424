// JSON Schema -> GBNF. The grammar accepts JSON texts that the schema validates (never more): a
// keyword the converter cannot express exactly throws latent::Error naming the keyword and its
// JSON pointer ("json schema: #/properties/tags: unsupported keyword 'uniqueItems' ...").
//
// Supported: type (object, array, string, number, integer, boolean, null, and arrays of types);
// properties / required / additionalProperties (false, true or a schema); enum / const; items /
// minItems / maxItems; anyOf, oneOf (disjoint branches only) and allOf with one member; $ref to
// #/$defs/... and #/definitions/... (recursion allowed); string pattern (regex subset, see
// json_schema_parts.h), minLength / maxLength, format date, time, date-time, uuid; integer
// minimum / maximum / exclusiveMinimum / exclusiveMaximum (up to 16 digits); number without bounds.
// Annotations (title, description, default, examples, $schema, $id, $comment, deprecated,
// readOnly, writeOnly) are ignored.
//
// Choices that make the grammar stricter than the schema, as llama.cpp does:
// - properties come in a fixed order: required ones in declaration order, then any subset of the
//   optional ones in declaration order, then additional properties;
// - an object schema with `properties` but no `additionalProperties` allows no other keys;
// - numbers have at most 16 integer and 16 fraction digits, and strings are written with the
//   canonical JSON escapes in patterns;
// - whitespace between tokens is bounded: nothing, one space, or a newline plus up to 20 spaces or
//   tabs, so a model cannot emit whitespace forever.
// oneOf is accepted only when no value can match two branches (different JSON types, or distinct
// const/enum values); otherwise it is an error, never the looser anyOf.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace latent::grammar {

// Property order follows the object's iteration order: declaration order for ordered_json (and for
// the text overload); nlohmann::json sorts keys alphabetically.
std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema);
std::string json_schema_to_gbnf(const nlohmann::json& schema);
// Parses the schema text first (throws latent::Error for malformed JSON).
std::string json_schema_to_gbnf_text(std::string_view schema_json);

// response_format {"type": "json_object"}: any JSON object.
std::string json_object_gbnf();

}  // namespace latent::grammar
