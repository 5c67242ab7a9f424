// Differential test of every real chat template (testdata/chat-templates/*.jinja and the
// tokenizer_config.json templates) against Python jinja2 set up as HF's apply_chat_template
// (chat_template_reference.py): conversations with and without a system prompt, multi-turn,
// reasoning, unicode, tools with tool calls and tool results, builtin tools, an error case, each
// with add_generation_prompt true and false. Skipped when python3-jinja2 is not installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "common/testdata.h"
#include "tokenizer/chat_template.h"

namespace latent {
namespace {

using Json = nlohmann::ordered_json;

const char* kConversations = R"json({
  "sys_user": [{"role": "system", "content": "You are a helpful assistant."},
               {"role": "user", "content": "Hello!"}],
  "multi": [{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Hi there."}, {"role": "user", "content": "Tell me a story."}],
  "no_system": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"},
                {"role": "user", "content": "  And 3+3?  \n"}],
  "reasoning": [{"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n2+2 is 4."},
                {"role": "user", "content": "Thanks! 3+3?"},
                {"role": "assistant", "content": "<think>\nAgain.\n</think>\n\n6."}],
  "unicode": [{"role": "user", "content": "Grüße, 世界 🦙 \"quoted\" \\ back\ttab"}]
})json";

const char* kTools = R"json([{"type": "function", "function": {"name": "get_weather",
  "description": "Get the weather in a city", "parameters": {"type": "object",
  "properties": {"city": {"type": "string", "description": "City name"}, "days": {"type": "integer"}},
  "required": ["city"]}}}])json";

// Tool calls with JSON-object arguments (Llama 3.x, Qwen) and with string arguments (DeepSeek).
Json tool_conversation(bool string_args) {
  Json args = {{"city", "Paris"}, {"days", 2}};
  Json call = {{"type", "function"},
               {"function",
                {{"name", "get_weather"}, {"arguments", string_args ? Json(args.dump()) : args}}}};
  Json m = Json::array();
  m.push_back({{"role", "system"}, {"content", "You can call tools."}});
  m.push_back({{"role", "user"}, {"content", "Weather in Paris?"}});
  m.push_back({{"role", "assistant"},
               {"content", string_args ? Json(nullptr) : Json("")},
               {"tool_calls", Json::array({call})}});
  m.push_back({{"role", "tool"}, {"content", "{\"temp\": 21}"}});
  m.push_back({{"role", "assistant"}, {"content", "It is 21 degrees."}});
  m.push_back({{"role", "user"}, {"content", "Thanks"}});
  return m;
}

struct Template {
  std::string name, source, bos, eos;
  bool string_tool_args, json_tool_args;
};

std::vector<Template> all_templates() {
  std::vector<Template> out;
  auto text = [](const Json& t) {
    return t.is_string()   ? t.get<std::string>()
           : t.is_object() ? t.value("content", std::string())
                           : std::string();
  };
  for (const auto& e : std::filesystem::directory_iterator(test::testdata_path("chat-templates"))) {
    const std::string name = e.path().stem().string();
    const bool ds = name.find("deepseek") != std::string::npos;
    const bool llama = name.find("llama-Llama") != std::string::npos;
    out.push_back({name, test::read_file(e.path().string()),
                   ds      ? "<｜begin▁of▁sentence｜>"
                   : llama ? "<|begin_of_text|>"
                           : "",
                   ds      ? "<｜end▁of▁sentence｜>"
                   : llama ? "<|eot_id|>"
                           : "<|im_end|>",
                   ds, !ds});
  }
  for (const char* tok : {"llama3", "llama3_1", "deepseek_v3", "qwen3"}) {
    const Json cfg = Json::parse(test::read_file(
        test::testdata_path(std::string("tokenizers/") + tok + "/tokenizer_config.json")));
    const std::string t = tok;
    out.push_back({t, cfg["chat_template"].get<std::string>(), text(cfg.value("bos_token", Json())),
                   text(cfg.value("eos_token", Json())), t == "deepseek_v3", t == "qwen3"});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

Json cases_for(const Template& t) {
  const Json conv = Json::parse(kConversations);
  Json cases = Json::array();
  auto add = [&](const Json& messages, Json tools, Json extra) {
    for (bool gen : {true, false}) {
      cases.push_back({{"messages", messages},
                       {"tools", tools},
                       {"add_generation_prompt", gen},
                       {"bos_token", t.bos},
                       {"eos_token", t.eos},
                       {"extra", extra},
                       {"now", 1732320000}});
    }
  };
  for (auto it = conv.begin(); it != conv.end(); ++it) add(it.value(), nullptr, Json::object());
  if (t.json_tool_args || t.string_tool_args) {
    add(tool_conversation(t.string_tool_args), Json::parse(kTools), Json::object());
  }
  if (t.name.find("Llama-3.1") != std::string::npos) {
    Json m = tool_conversation(false);
    m[2]["tool_calls"][0]["function"]["name"] = "brave_search";
    add(m, Json::parse(kTools), {{"builtin_tools", {"brave_search", "code_interpreter"}}});
    add(tool_conversation(false), Json::parse(kTools), {{"tools_in_user_message", false}});
  }
  if (t.name == "qwen3")
    add(Json::parse(kConversations)["reasoning"], nullptr, {{"enable_thinking", false}});
  return cases;
}

TEST(ChatTemplateDifferential, AllTemplatesMatchJinja2) {
  const std::string script = test::source_dir() + "/tests/tokenizer/chat_template_reference.py";
  int compared = 0;
  for (const Template& t : all_templates()) {
    SCOPED_TRACE(t.name);
    const Json cases = cases_for(t);
    const std::string in = test::temp_path("chat_ref_in.json");
    test::write_file(in, Json({{"template", t.source}, {"cases", cases}}).dump());
    std::string out;
    // The tests' Python (Debian's) may lack jinja2 where the python3 on PATH has it.
    int rc = 3;
    for (const std::string& py : {test::python(), std::string("python3")}) {
      rc = test::run_command(py + " " + script + " < " + in + " 2>&1", &out);
      if (rc != 3) break;
    }
    if (rc == 3) GTEST_SKIP() << "Python jinja2 is not installed";
    ASSERT_EQ(rc, 0) << out;
    const Json ref = Json::parse(out);
    ASSERT_EQ(ref.size(), cases.size());
    const ChatTemplate tmpl(t.source);
    for (size_t i = 0; i < cases.size(); ++i) {
      const Json& c = cases[i];
      ChatRenderInput ri;
      ri.messages = c["messages"];
      ri.tools = c["tools"];
      ri.add_generation_prompt = c["add_generation_prompt"].get<bool>();
      ri.bos_token = t.bos;
      ri.eos_token = t.eos;
      ri.extra = c["extra"];
      ri.now = 1732320000;
      SCOPED_TRACE("case " + std::to_string(i) + ": " + c.dump());
      if (ref[i].contains("error")) {
        EXPECT_THROW(tmpl.render(ri), Error) << ref[i]["error"];
      } else {
        EXPECT_EQ(tmpl.render(ri), ref[i]["rendered"].get<std::string>());
      }
      ++compared;
    }
  }
  EXPECT_GE(compared, 100);
  std::printf("compared %d renderings with jinja2\n", compared);
}

}  // namespace
}  // namespace latent
