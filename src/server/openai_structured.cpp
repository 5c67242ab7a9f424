// Request fields for structured output and tools (declared in openai_protocol.h):
//   response_format  {"type": "text"} | {"type": "json_object"} |
//                    {"type": "json_schema", "json_schema": {"name", "schema", "strict"?}}
//   grammar          raw GBNF (llama.cpp's format; an extension, as in llama-server and vLLM)
//   tools            [{"type": "function", "function": {"name", "description"?, "parameters"?}}]
//   tool_choice      "auto" | "none" | "required" | {"type": "function", "function": {"name"}}
//   parallel_tool_calls
// Schemas are converted here, so a construct the grammar cannot express is a 400 at parse time
// naming the field; GBNF syntax is checked here too (compilation errors come from the handler).
#include <regex>

#include "base/error.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "server/openai_protocol.h"
#include "server/structured_output.h"

namespace latent::server {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

ojson ordered(const json& j) {
  return ojson::parse(j.dump());
}

// The value at `pointer` with its keys in the order the client wrote them (JSON-schema properties
// are generated in declared order, as users expect), when the request body was also parsed
// order-preserving; else j with sorted keys.
ojson ordered_at(const ParseContext& ctx, const char* pointer, const json& j) {
  if (ctx.ordered_body) {
    const ojson::json_pointer ptr(pointer);
    if (ctx.ordered_body->contains(ptr)) return ctx.ordered_body->at(ptr);
  }
  return ordered(j);
}

// OpenAI's rule for function names.
bool valid_function_name(const std::string& name) {
  static const std::regex re("^[a-zA-Z0-9_-]{1,64}$");
  return std::regex_match(name, re);
}

}  // namespace

void parse_structured_fields(const json& body, const ParseContext& ctx, OpenAIRequest& r) {
  const json* rf = opt(body, "response_format");
  const json* g = opt(body, "grammar");
  if (rf && g)
    throw ApiError::field("grammar", "either grammar or response_format",
                          "both (response_format is " + found(*rf) + ")");
  if (g) {
    if (!g->is_string() || g->get<std::string>().empty())
      throw ApiError::field("grammar", "a non-empty GBNF string", found(*g));
    r.grammar = g->get<std::string>();
    r.grammar_field = "grammar";
    try {
      grammar::parse_gbnf(r.grammar);
    } catch (const Error& e) {
      throw ApiError(400, std::string("grammar: ") + e.what(), "grammar");
    }
    return;
  }
  if (!rf) return;
  if (!rf->is_object())
    throw ApiError::field("response_format", "an object {\"type\": ...}", found(*rf));
  const json* type = opt(*rf, "type");
  const std::string kTypes = "\"text\", \"json_object\" or \"json_schema\"";
  if (!type || !type->is_string())
    throw ApiError::field("response_format.type", kTypes, type ? found(*type) : "none");
  const std::string t = type->get<std::string>();
  if (t == "text") return;
  if (t == "json_object") {
    r.grammar = grammar::json_object_gbnf();
    r.grammar_field = "response_format";
    return;
  }
  if (t != "json_schema") throw ApiError::field("response_format.type", kTypes, found(*type));
  const json* js = opt(*rf, "json_schema");
  if (!js || !js->is_object())
    throw ApiError::field("response_format.json_schema", "an object {\"name\", \"schema\"}",
                          js ? found(*js) : "none");
  if (const json* name = opt(*js, "name"); name && !name->is_string())
    throw ApiError::field("response_format.json_schema.name", "a string", found(*name));
  if (const json* strict = opt(*js, "strict"); strict && !strict->is_boolean())
    throw ApiError::field("response_format.json_schema.strict", "a boolean", found(*strict));
  const json* schema = opt(*js, "schema");
  if (!schema || !schema->is_object())
    throw ApiError::field("response_format.json_schema.schema", "a JSON schema object",
                          schema ? found(*schema) : "none");
  // Enforced whether or not "strict" is set: latent never returns output that breaks the schema.
  r.grammar = schema_gbnf(ordered_at(ctx, "/response_format/json_schema/schema", *schema),
                          "response_format.json_schema.schema");
  r.grammar_field = "response_format.json_schema.schema";
}

void parse_tool_fields(const json& body, const ParseContext& ctx, OpenAIRequest& r) {
  if (const json* tools = opt(body, "tools")) {
    if (!tools->is_array())
      throw ApiError::field("tools", "an array of {\"type\": \"function\", ...}", found(*tools));
    for (size_t i = 0; i < tools->size(); ++i) {
      const json& t = (*tools)[i];
      const std::string f = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) throw ApiError::field(f, "a tool object", found(t));
      const json* type = opt(t, "type");
      if (!type || *type != "function")
        throw ApiError::field(f + ".type", "\"function\"", type ? found(*type) : "none");
      const json* fn = opt(t, "function");
      if (!fn || !fn->is_object())
        throw ApiError::field(f + ".function", "an object {\"name\", ...}",
                              fn ? found(*fn) : "none");
      const json* name = opt(*fn, "name");
      if (!name || !name->is_string() || !valid_function_name(name->get<std::string>()))
        throw ApiError::field(f + ".function.name", "a name of 1-64 characters [a-zA-Z0-9_-]",
                              name ? found(*name) : "none");
      if (const json* d = opt(*fn, "description"); d && !d->is_string())
        throw ApiError::field(f + ".function.description", "a string", found(*d));
      if (const json* p = opt(*fn, "parameters"); p && !p->is_object())
        throw ApiError::field(f + ".function.parameters", "a JSON schema object", found(*p));
    }
    if (!tools->empty()) r.tools = ordered_at(ctx, "/tools", *tools);
  }
  if (const json* ptc = opt(body, "parallel_tool_calls")) {
    if (!ptc->is_boolean()) throw ApiError::field("parallel_tool_calls", "a boolean", found(*ptc));
    r.parallel_tool_calls = ptc->get<bool>();
  }
  const json* tc = opt(body, "tool_choice");
  if (!tc) return;
  const std::string kChoices =
      "\"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\"}}";
  if (tc->is_string()) {
    const std::string s = tc->get<std::string>();
    if (s == "auto")
      r.tool_choice = OpenAIRequest::ToolChoice::kAuto;
    else if (s == "none")
      r.tool_choice = OpenAIRequest::ToolChoice::kNone;
    else if (s == "required")
      r.tool_choice = OpenAIRequest::ToolChoice::kRequired;
    else
      throw ApiError::field("tool_choice", kChoices, found(*tc));
  } else if (tc->is_object()) {
    const json* fn = opt(*tc, "function");
    const json* name = fn && fn->is_object() ? opt(*fn, "name") : nullptr;
    if (!name || !name->is_string())
      throw ApiError::field("tool_choice.function.name", "a function name",
                            name ? found(*name) : "none");
    r.tool_choice = OpenAIRequest::ToolChoice::kNamed;
    r.tool_choice_name = name->get<std::string>();
  } else {
    throw ApiError::field("tool_choice", kChoices, found(*tc));
  }
  const bool forced = r.tool_choice == OpenAIRequest::ToolChoice::kRequired ||
                      r.tool_choice == OpenAIRequest::ToolChoice::kNamed;
  if (forced && r.tools.is_null())
    throw ApiError::field("tool_choice", "\"auto\" or \"none\" when no tools are given",
                          found(*tc));
  if (r.tool_choice == OpenAIRequest::ToolChoice::kNamed) {
    bool known = false;
    std::string names;
    for (const ojson& t : r.tools) {
      const std::string n = t["function"]["name"].get<std::string>();
      known |= n == r.tool_choice_name;
      names += (names.empty() ? "" : ", ") + n;
    }
    if (!known)
      throw ApiError::field("tool_choice.function.name", "one of the tools (" + names + ")",
                            "\"" + r.tool_choice_name + "\"");
  }
  if (forced && !r.grammar.empty())
    throw ApiError::field(r.grammar_field,
                          "no structured-output format when tool_choice forces "
                          "a call",
                          "both");
}

}  // namespace latent::server
