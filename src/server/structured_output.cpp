// GBNF composition and tool-call grammars (structured_output.h).
#include "server/structured_output.h"

#include "base/error.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "server/api_error.h"

namespace latent::server {
namespace {

void rename_refs(grammar::Expr& e, const std::string& prefix) {
  if (e.kind == grammar::Expr::Kind::kRuleRef) e.rule_name = prefix + e.rule_name;
  for (grammar::Sequence& alt : e.alternatives)
    for (grammar::Expr& x : alt) rename_refs(x, prefix);
  for (grammar::Expr& x : e.child) rename_refs(x, prefix);
}

// A GBNF literal for UTF-8 text.
std::string lit(const std::string& utf8) {
  // Built by appending: GCC 12 warns (-Wrestrict, falsely) on "\"" + std::string&&.
  std::string s = "\"";
  s += grammar::escape_literal_utf8(utf8);
  s += '"';
  return s;
}

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump();
}

}  // namespace

std::string prefix_gbnf_rules(const std::string& gbnf, const std::string& prefix) {
  grammar::Grammar g = grammar::parse_gbnf(gbnf);
  for (grammar::Rule& r : g.rules) {
    r.name = prefix + r.name;
    for (grammar::Sequence& alt : r.alternatives)
      for (grammar::Expr& x : alt) rename_refs(x, prefix);
  }
  return grammar::print_gbnf(g);
}

std::string after_think_gbnf(const std::string& payload_gbnf) {
  // Bounded whitespace: an unbounded run would let a model idle forever before the payload.
  return "root ::= " + lit("</think>") + " [ \\n]{0,2} payload-root\n" +
         prefix_gbnf_rules(payload_gbnf, "payload-");
}

std::string schema_gbnf(const nlohmann::ordered_json& schema, const std::string& field) {
  try {
    return grammar::json_schema_to_gbnf(schema);
  } catch (const Error& e) {
    throw ApiError(400, field + ": " + e.what(), field);
  }
}

std::string tool_call_gbnf(ToolFormat format, const std::vector<ToolFunction>& functions,
                           bool parallel) {
  std::string rules, call_alts;
  for (size_t i = 0; i < functions.size(); ++i) {
    const ToolFunction& f = functions[i];
    const std::string prefix = "fn" + std::to_string(i) + "-";
    const std::string args = prefix + "root";
    std::string call;
    switch (format) {
      case ToolFormat::kLlama3Json:
        call = lit("{\"name\": " + json_string(f.name) + ", \"parameters\": ") + " " + args + " " +
               lit("}");
        break;
      case ToolFormat::kHermes:
        call = lit(std::string(kHermesOpen) + "\n{\"name\": " + json_string(f.name) +
                   ", \"arguments\": ") +
               " " + args + " " + lit("}\n" + std::string(kHermesClose));
        break;
      case ToolFormat::kDeepSeek:
        call = lit(std::string(kDsCallBegin) + "function" + std::string(kDsSep) + f.name +
                   "\n```json\n") +
               " " + args + " " + lit("\n```" + std::string(kDsCallEnd));
        break;
    }
    rules += "call-" + std::to_string(i) + " ::= " + call + "\n";
    rules += prefix_gbnf_rules(schema_gbnf(f.parameters, f.field), prefix);
    if (i > 0) call_alts += " | ";
    call_alts += "call-" + std::to_string(i);
  }
  // Llama 3.x templates render one call per turn, so the grammar never asks for more.
  const bool several = parallel && format != ToolFormat::kLlama3Json;
  std::string root = "root ::= ";
  const std::string calls = several ? "call (\"\\n\" call){0,3}" : "call";
  if (format == ToolFormat::kDeepSeek)
    root += lit(std::string(kDsCallsBegin)) + " " + calls + " " + lit(std::string(kDsCallsEnd));
  else
    root += calls;
  return root + "\ncall ::= " + call_alts + "\n" + rules;
}

}  // namespace latent::server
