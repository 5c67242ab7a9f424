// Reasoning split: ReasoningSplitter gives the same reasoning/content for every fragmentation of a
// reply (tags split across fragments included), and the real DeepSeek-R1 templates under
// testdata/chat-templates open <think> in the prompt and, with strip_reasoning_from_history, never
// show earlier reasoning to the model.
#include <gtest/gtest.h>

#include <random>

#include "common/testdata.h"
#include "server/reasoning.h"
#include "tokenizer/chat_template.h"

namespace latent::server {
namespace {

struct Split {
  std::string reasoning, content;
  bool operator==(const Split&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Split& s) {
  return os << "{reasoning: \"" << s.reasoning << "\", content: \"" << s.content << "\"}";
}

Split run(bool starts, const std::vector<std::string>& fragments) {
  ReasoningSplitter sp(starts);
  Split out;
  for (const std::string& f : fragments) {
    auto d = sp.push(f);
    out.reasoning += d.reasoning;
    out.content += d.content;
  }
  auto d = sp.finish();
  out.reasoning += d.reasoning;
  out.content += d.content;
  return out;
}

struct Sample {
  bool starts_in_reasoning;
  std::string text;
  Split want;
};

const std::vector<Sample> kSamples = {
    {true, "Let me think.\n</think>\n\nThe answer is 4.", {"Let me think.\n", "The answer is 4."}},
    {false, "<think>\nhmm</think>Answer", {"\nhmm", "Answer"}},
    {false, "  \n<think>x</think>  y z", {"x", "y z"}},
    {false, "Plain answer <think> not a tag", {"", "Plain answer <think> not a tag"}},
    {false, "<thin", {"", "<thin"}},
    {false, " <think", {"", " <think"}},
    {true, "no close tag </thi", {"no close tag </thi", ""}},
    {true, "a</think>b</think>c", {"a", "b</think>c"}},
    {true, "</think>", {"", ""}},
    {true, "<</think><", {"<", "<"}},
    {false, "", {"", ""}},
    {true, "思考 </thinking> </think>\n答案", {"思考 </thinking> ", "答案"}},
};

TEST(ReasoningSplitter, WholeText) {
  for (const Sample& s : kSamples)
    EXPECT_EQ(run(s.starts_in_reasoning, {s.text}), s.want) << s.text;
}

TEST(ReasoningSplitter, EveryTwoAndThreeWayFragmentation) {
  for (const Sample& s : kSamples) {
    const std::string& t = s.text;
    for (size_t i = 0; i <= t.size(); ++i)
      for (size_t j = i; j <= t.size(); ++j)
        ASSERT_EQ(run(s.starts_in_reasoning, {t.substr(0, i), t.substr(i, j - i), t.substr(j)}),
                  s.want)
            << "\"" << t << "\" split at " << i << ", " << j;
  }
}

TEST(ReasoningSplitter, ByteByByteAndRandomFragmentations) {
  std::mt19937 rng(7);
  for (const Sample& s : kSamples) {
    std::vector<std::string> bytes;
    for (char c : s.text) bytes.emplace_back(1, c);
    EXPECT_EQ(run(s.starts_in_reasoning, bytes), s.want) << s.text;
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<std::string> frags;
      for (size_t pos = 0; pos < s.text.size();) {
        const size_t n = std::uniform_int_distribution<size_t>(0, 4)(rng);
        frags.push_back(s.text.substr(pos, n));
        pos += n;
      }
      ASSERT_EQ(run(s.starts_in_reasoning, frags), s.want) << s.text;
    }
  }
}

TEST(ReasoningSplitter, ReasoningStreamsBeforeTheCloseTag) {
  ReasoningSplitter sp(true);
  EXPECT_EQ(sp.push("step one, ").reasoning, "step one, ");
  auto d = sp.push("two</th");  // "</th" may start the tag: held back
  EXPECT_EQ(d.reasoning, "two");
  d = sp.push("ink>Done");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Done");
}

TEST(Reasoning, StripHistory) {
  nlohmann::ordered_json m = nlohmann::ordered_json::array();
  m.push_back({{"role", "user"}, {"content", "<think>user text stays</think>"}});
  m.push_back({{"role", "assistant"}, {"content", "<think>\nplan</think>\n\nFour."}});
  m.push_back({{"role", "assistant"}, {"content", "No reasoning."}, {"reasoning_content", "x"}});
  m.push_back({{"role", "assistant"}, {"content", nullptr}});
  strip_reasoning_from_history(m);
  EXPECT_EQ(m[0]["content"], "<think>user text stays</think>");
  EXPECT_EQ(m[1]["content"], "Four.");
  EXPECT_EQ(m[2]["content"], "No reasoning.");
  EXPECT_FALSE(m[2].contains("reasoning_content"));
  EXPECT_TRUE(m[3]["content"].is_null());
}

TEST(Reasoning, PromptOpensThink) {
  EXPECT_TRUE(prompt_opens_think("<｜Assistant｜><think>\n"));
  EXPECT_TRUE(prompt_opens_think("x<think>"));
  EXPECT_FALSE(prompt_opens_think("<｜Assistant｜><think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n"));
}

std::string read_template(const std::string& name) {
  return test::read_file(test::testdata_path("chat-templates/" + name));
}

TEST(Reasoning, RealTemplatesThatOpenThink) {
  for (const char* name :
       {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "llama-cpp-deepseek-r1.jinja"}) {
    SCOPED_TRACE(name);
    const std::string src = read_template(name);
    EXPECT_TRUE(template_uses_think(src));
    ChatRenderInput in;
    in.bos_token = "<｜begin▁of▁sentence｜>";
    in.eos_token = "<｜end▁of▁sentence｜>";
    in.add("user", "What is 2+2?");
    in.add("assistant", "<think>\nSECRET-PLAN adding</think>\n\n4");
    in.messages.back()["reasoning_content"] = "SECRET-PLAN adding";
    in.add("user", "And 3+3?");
    strip_reasoning_from_history(in.messages);
    const std::string prompt = ChatTemplate(src).render(in);
    EXPECT_EQ(prompt.find("SECRET-PLAN"), std::string::npos) << prompt;
    EXPECT_NE(prompt.find("<｜Assistant｜>4<｜end▁of▁sentence｜>"), std::string::npos) << prompt;
    EXPECT_TRUE(prompt_opens_think(prompt)) << prompt;
    // A reply to that prompt starts inside the reasoning.
    EXPECT_EQ(run(true, {"Three plus three.\n</think>\n\n6"}), (Split{"Three plus three.\n", "6"}));
  }
}

TEST(Reasoning, RealTemplatesWithoutThink) {
  for (const char* name :
       {"Qwen-Qwen2.5-7B-Instruct.jinja", "meta-llama-Llama-3.1-8B-Instruct.jinja",
        "meta-llama-Llama-3.2-3B-Instruct.jinja"}) {
    SCOPED_TRACE(name);
    const std::string src = read_template(name);
    EXPECT_FALSE(template_uses_think(src));
    ChatRenderInput in;
    in.bos_token = "<s>";
    in.add("user", "Hi");
    in.now = 0;
    EXPECT_FALSE(prompt_opens_think(ChatTemplate(src).render(in)));
  }
}

}  // namespace
}  // namespace latent::server
