// Tools through the real chat templates (../shared/testdata/chat-templates): each template's
// tool-call format is detected, and a conversation with tools, an assistant turn that called one
// and the tool's result renders with the tool list, the call in the template's own syntax and the
// result — the prompt a model trained on that template expects.
#include <gtest/gtest.h>

#include "common/testdata.h"
#include "server/tool_prompt.h"
#include "tokenizer/chat_template.h"

namespace latent::server {
namespace {

using ojson = nlohmann::ordered_json;

struct TemplateCase {
  std::string file;
  ToolFormat format;
  bool renders_tools;
  std::string call_text;  // how the assistant's call appears in the prompt
};

std::vector<TemplateCase> template_cases() {
  const std::string llama = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}";
  const std::string ds =
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
      "{\"city\":\"Paris\"}\n```<｜tool▁call▁end｜>";
  return {
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", ToolFormat::kLlama3Json, true, llama},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", ToolFormat::kLlama3Json, true, llama},
      {"meta-llama-Llama-3.3-70B-Instruct.jinja", ToolFormat::kLlama3Json, true, llama},
      {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolFormat::kHermes, true,
       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
       "</tool_call>"},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", ToolFormat::kDeepSeek, false, ds},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", ToolFormat::kDeepSeek, false, ds},
      {"llama-cpp-deepseek-r1.jinja", ToolFormat::kDeepSeek, true, ds},
  };
}

ojson tools() {
  return ojson::parse(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Weather in a city", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
}

// As a client sends it back: arguments as JSON text, content null.
ojson conversation() {
  return ojson::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"}])");
}

TEST(ToolPrompt, RealTemplatesRenderToolsCallsAndResults) {
  for (const TemplateCase& c : template_cases()) {
    SCOPED_TRACE(c.file);
    const std::string src = test::read_file(test::testdata_path("chat-templates/" + c.file));
    const ToolTemplateInfo info = detect_tool_template(src);
    EXPECT_EQ(info.format, c.format);
    EXPECT_EQ(info.renders_tools, c.renders_tools);
    EXPECT_TRUE(info.renders_history);
    ChatRenderInput in;
    in.messages = conversation();
    in.tools = prepare_tool_prompt(info, tools(), in.messages);
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    std::string text;
    ASSERT_NO_THROW(text = ChatTemplate(src).render(in));
    EXPECT_NE(text.find("Weather in a city"), std::string::npos) << "tool list missing\n" << text;
    EXPECT_NE(text.find(c.call_text), std::string::npos) << "call missing\n" << text;
    EXPECT_NE(text.find("sunny, 21 C"), std::string::npos) << "tool result missing\n" << text;
    EXPECT_NE(text.find("You are helpful."), std::string::npos) << text;
  }
}

// A template that knows nothing of tools: Hermes instructions in the system turn, calls and
// results written into ordinary turns.
TEST(ToolPrompt, TemplateWithoutToolsGetsHermesInTheTurns) {
  const std::string src =
      "{% for m in messages %}[{{ m.role }}]{{ m.content }}\n{% endfor %}[assistant]";
  const ToolTemplateInfo info = detect_tool_template(src);
  EXPECT_EQ(info.format, ToolFormat::kHermes);
  EXPECT_FALSE(info.renders_tools);
  EXPECT_FALSE(info.renders_history);
  ChatRenderInput in;
  in.messages = conversation();
  in.tools = prepare_tool_prompt(info, tools(), in.messages);
  const std::string text = ChatTemplate(src).render(in);
  EXPECT_NE(text.find("[system]# Tools"), std::string::npos) << text;
  EXPECT_NE(text.find("You are helpful."), std::string::npos) << text;
  EXPECT_NE(text.find("[assistant]<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                      "{\"city\":\"Paris\"}}\n</tool_call>"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("[user]<tool_response>\nsunny, 21 C\n</tool_response>"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace latent::server
