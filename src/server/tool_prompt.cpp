// detect_tool_template and prepare_tool_prompt (tool_prompt.h).
#include "server/tool_prompt.h"

#include <string>

namespace latent::server {
namespace {

using ojson = nlohmann::ordered_json;

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// The instructions a template without a tool list would have given, in its format's words
// (Qwen2.5's for Hermes, llama.cpp's deepseek-r1 template's for DeepSeek).
std::string tools_instructions(ToolFormat format, const ojson& tools) {
  std::string s;
  if (format == ToolFormat::kDeepSeek) {
    ojson functions = ojson::array();
    for (const ojson& t : tools)
      if (t.contains("function")) functions.push_back(t["function"]);
    s = "You can call any of the following function tools to satisfy the user's requests: " +
        functions.dump(2) + "\n\nExample function tool call syntax:\n\n" +
        std::string(kDsCallsBegin) + std::string(kDsCallBegin) + "function" + std::string(kDsSep) +
        "example_function_name\n```json\n{\n  \"arg1\": \"some_value\"\n  ...\n}\n```\n" +
        std::string(kDsCallEnd) + std::string(kDsCallsEnd) + "\n\n";
    return s;
  }
  if (format == ToolFormat::kLlama3Json) {
    s = "You have access to the following functions. To call a function, please respond with JSON "
        "for a function call. Respond in the format {\"name\": function name, \"parameters\": "
        "dictionary of argument name and its value}. Do not use variables.\n\n";
    for (const ojson& t : tools) s += t.dump(4) + "\n\n";
    return s;
  }
  s = "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
      "provided with function signatures within <tools></tools> XML tags:\n<tools>";
  for (const ojson& t : tools) s += "\n" + dump(t);
  s += "\n</tools>\n\nFor each function call, return a json object with function name and "
       "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
       "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
  return s;
}

// function.arguments as the template wants it: JSON text (DeepSeek) or an object.
void convert_arguments(ToolFormat format, ojson& call) {
  if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) return;
  ojson& fn = call["function"];
  if (!fn.contains("arguments")) return;
  ojson& args = fn["arguments"];
  if (format == ToolFormat::kDeepSeek) {
    if (!args.is_string()) args = dump(args);
  } else if (args.is_string()) {
    try {
      args = ojson::parse(args.get<std::string>());
    } catch (const ojson::exception&) {  // not JSON: the template gets the text as sent
    }
  }
}

std::string arguments_text(const ojson& fn) {
  if (!fn.contains("arguments")) return "{}";
  const ojson& a = fn["arguments"];
  return a.is_string() ? a.get<std::string>() : dump(a);
}

}  // namespace

ToolTemplateInfo detect_tool_template(std::string_view src) {
  ToolTemplateInfo info;
  if (contains(src, "tool▁call▁begin")) {
    info.format = ToolFormat::kDeepSeek;
  } else if (contains(src, "<tool_call>")) {
    info.format = ToolFormat::kHermes;
  } else if (contains(src, "<|start_header_id|>") && contains(src, "\"parameters\"")) {
    info.format = ToolFormat::kLlama3Json;
  } else {
    return info;  // no tool support: Hermes, written into the turns by prepare_tool_prompt
  }
  info.renders_tools = contains(src, "tools");
  info.renders_history = contains(src, "tool_calls");
  return info;
}

std::string format_tool_call(ToolFormat format, const std::string& name,
                             const std::string& arguments_json) {
  const std::string quoted = dump(ojson(name));
  switch (format) {
    case ToolFormat::kLlama3Json:
      return "{\"name\": " + quoted + ", \"parameters\": " + arguments_json + "}";
    case ToolFormat::kHermes:
      return std::string(kHermesOpen) + "\n{\"name\": " + quoted +
             ", \"arguments\": " + arguments_json + "}\n" + std::string(kHermesClose);
    case ToolFormat::kDeepSeek:
      return std::string(kDsCallBegin) + "function" + std::string(kDsSep) + name + "\n```json\n" +
             arguments_json + "\n```" + std::string(kDsCallEnd);
  }
  return {};
}

ojson prepare_tool_prompt(const ToolTemplateInfo& info, const ojson& tools, ojson& messages) {
  const bool offer = tools.is_array() && !tools.empty();
  ojson out = ojson::array();
  for (ojson& m : messages) {
    const std::string role = m.value("role", "");
    const bool has_calls = m.contains("tool_calls") && m["tool_calls"].is_array();
    if (role == "assistant" && has_calls) {
      // Templates test `content is none` to tell a tool-call turn from a reply.
      if (m["content"].is_string() && m["content"].get<std::string>().empty())
        m["content"] = nullptr;
      if (info.renders_history) {
        for (ojson& call : m["tool_calls"]) convert_arguments(info.format, call);
      } else {
        std::string text = m["content"].is_string() ? m["content"].get<std::string>() : "";
        for (const ojson& call : m["tool_calls"]) {
          if (!call.contains("function")) continue;
          const ojson& fn = call["function"];
          if (!text.empty()) text += "\n";
          text += format_tool_call(info.format, fn.value("name", ""), arguments_text(fn));
        }
        m = ojson{{"role", "assistant"}, {"content", text}};
      }
    } else if (role == "tool" && !info.renders_history) {
      const std::string content = m["content"].is_string() ? m["content"].get<std::string>() : "";
      m = ojson{{"role", "user"},
                {"content", "<tool_response>\n" + content + "\n</tool_response>"}};
    }
    out.push_back(std::move(m));
  }
  messages = std::move(out);
  if (!offer) return nullptr;
  if (info.renders_tools) return tools;
  const std::string text = tools_instructions(info.format, tools);
  if (!messages.empty() && messages[0].value("role", "") == "system" &&
      messages[0]["content"].is_string()) {
    messages[0]["content"] = text + "\n\n" + messages[0]["content"].get<std::string>();
  } else {
    messages.insert(messages.begin(), ojson{{"role", "system"}, {"content", text}});
  }
  return nullptr;
}

}  // namespace latent::server
