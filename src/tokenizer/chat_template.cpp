// ChatTemplate: the variables and globals of HF's apply_chat_template around the Jinja
// interpreter (transformers' chat template utilities render with trim_blocks and lstrip_blocks,
// a tojson that does not escape non-ASCII, raise_exception and strftime_now).
#include "tokenizer/chat_template.h"

#include "base/error.h"
#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_parser.h"

namespace latent {

ChatRenderInput& ChatRenderInput::add(std::string role, std::string content) {
  messages.push_back({{"role", std::move(role)}, {"content", std::move(content)}});
  return *this;
}

ChatTemplate::ChatTemplate(std::string source) : t_(jinja::parse(std::move(source))) {}

const std::string& ChatTemplate::source() const {
  return t_->source;
}

std::string ChatTemplate::render(const ChatRenderInput& in) const {
  jinja::Json vars = jinja::Json::object();
  for (auto it = in.extra.begin(); it != in.extra.end(); ++it) vars[it.key()] = it.value();
  vars["messages"] = in.messages;
  vars["tools"] = in.tools;
  vars["add_generation_prompt"] = in.add_generation_prompt;
  vars["bos_token"] = in.bos_token;
  vars["eos_token"] = in.eos_token;
  std::map<std::string, jinja::Function> fns;
  fns["raise_exception"] = [](const jinja::CallArgs& a) -> jinja::Value {
    throw Error("raise_exception: " + (a.pos.empty() ? std::string() : jinja::to_str(a.pos[0])));
  };
  const std::optional<std::time_t> fixed = in.now;
  fns["strftime_now"] = [fixed](const jinja::CallArgs& a) -> jinja::Value {
    const jinja::Value* fmt = a.get(0, "format");
    if (!fmt || !fmt->is_string()) throw Error("strftime_now(): expected a format string");
    const std::time_t t = fixed ? *fixed : std::time(nullptr);
    std::tm tm{};
    if (fixed) {
      gmtime_r(&t, &tm);
    } else {
      localtime_r(&t, &tm);
    }
    char buf[256];
    const size_t n = std::strftime(buf, sizeof buf, fmt->data().get<std::string>().c_str(), &tm);
    return jinja::Json(std::string(buf, n));
  };
  return jinja::render(*t_, vars, fns);
}

std::string render_chat_template(const std::string& tmpl, const ChatRenderInput& in) {
  return ChatTemplate(tmpl).render(in);
}

}  // namespace latent
