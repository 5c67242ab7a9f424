// Chat templates: renders a model's own tokenizer.chat_template (Jinja, interpreted by
// jinja_lexer/parser/eval/filters) for a conversation, with the variables HF's
// apply_chat_template passes (messages, tools, add_generation_prompt, bos_token, eos_token) and its
// globals raise_exception() and strftime_now(). Does not tokenize the result.
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace latent {

namespace jinja {
struct Template;
}

struct ChatRenderInput {
  // [{"role": "...", "content": "..." or null, optional "tool_calls", "reasoning_content", ...}]
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null: none given (HF passes tools=None, which is "defined")
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // more variables
  std::optional<std::time_t> now;  // strftime_now() time (UTC); default: the local time now

  // Appends {"role": role, "content": content}.
  ChatRenderInput& add(std::string role, std::string content);
};

class ChatTemplate {
 public:
  // Parses the template once; throws latent::Error "chat template L:C: expected ..., found ...".
  explicit ChatTemplate(std::string source);
  const std::string& source() const;
  // Throws latent::Error with the template position for run-time errors; raise_exception("msg")
  // gives "chat template L:C: raise_exception: msg".
  std::string render(const ChatRenderInput& in) const;

 private:
  std::shared_ptr<const jinja::Template> t_;
};

// One-shot parse and render.
std::string render_chat_template(const std::string& tmpl, const ChatRenderInput& in);

}  // namespace latent
