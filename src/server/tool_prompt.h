// Tools in the prompt: which tool-call format a chat template teaches (tool_calls.h), and the
// conversation prepared so the template renders tools and tool history the way its model was
// trained — arguments as objects for templates that `tojson` them (Llama 3.x, Qwen2.5) and as JSON
// text for DeepSeek's, which concatenates them. A template that does not render the tool list
// (the DeepSeek-R1 distills' own) gets it in the system prompt, in its format; a template that
// knows nothing of tools gets the Hermes format, with calls and results written into the turns.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "server/tool_calls.h"

namespace latent::server {

struct ToolTemplateInfo {
  ToolFormat format = ToolFormat::kHermes;
  bool renders_tools = false;    // the template writes the `tools` list itself
  bool renders_history = false;  // it renders assistant tool_calls and tool messages itself
};

ToolTemplateInfo detect_tool_template(std::string_view template_source);

// Rewrites `messages` (OpenAI shape, as parsed) for the template and returns the value for its
// `tools` variable (null when the template is not to render any). `tools` is null or the
// request's array; pass null when tools are not offered (tool_choice "none").
nlohmann::ordered_json prepare_tool_prompt(const ToolTemplateInfo& info,
                                           const nlohmann::ordered_json& tools,
                                           nlohmann::ordered_json& messages);

// A call as the format writes it (history for templates that do not render tool_calls).
std::string format_tool_call(ToolFormat format, const std::string& name,
                             const std::string& arguments_json);

}  // namespace latent::server
