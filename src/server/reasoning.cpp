// Splitting reasoning from content (see reasoning.h). The splitter is a three-state machine over
// the text: kStart (nothing decided: only whitespace or a prefix of "<think>" seen), kReasoning (up
// to "</think>") and kContent (everything after). Whatever could still become a tag is held back,
// so the split does not depend on how the text was fragmented.
#include "server/reasoning.h"

#include <algorithm>

namespace latent::server {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

std::string_view ltrim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

bool template_uses_think(std::string_view template_source) {
  return template_source.find(kThinkOpen) != std::string_view::npos;
}

bool prompt_opens_think(std::string_view rendered_prompt) {
  std::string_view s = rendered_prompt;
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  if (!s.ends_with(kThinkOpen)) return false;
  // "<think></think>" (a template that disables thinking) leaves nothing open.
  return true;
}

void strip_reasoning_from_history(nlohmann::ordered_json& messages) {
  for (auto& m : messages) {
    if (!m.is_object() || m.value("role", "") != "assistant") continue;
    m.erase("reasoning_content");
    auto it = m.find("content");
    if (it == m.end() || !it->is_string()) continue;
    const std::string& c = it->get_ref<const std::string&>();
    const size_t pos = c.rfind(kThinkClose);
    if (pos == std::string::npos) continue;
    *it = std::string(ltrim(std::string_view(c).substr(pos + kThinkClose.size())));
  }
}

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : state_(starts_in_reasoning ? State::kReasoning : State::kStart) {}

void ReasoningSplitter::content(std::string_view text, Delta& out) {
  if (!content_started_) {
    text = ltrim(text);
    if (text.empty()) return;
    content_started_ = true;
  }
  out.content.append(text);
}

// Moves the decided part of held_ (in kReasoning) to out.reasoning, switching to kContent at the
// closing tag.
void ReasoningSplitter::reasoning(Delta& out) {
  const size_t close = held_.find(kThinkClose);
  if (close != std::string::npos) {
    out.reasoning.append(held_, 0, close);
    const std::string rest = held_.substr(close + kThinkClose.size());
    held_.clear();
    state_ = State::kContent;
    content_started_ = false;
    content(rest, out);
    return;
  }
  const size_t keep = partial_tag_suffix(held_, kThinkClose);
  out.reasoning.append(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
}

ReasoningSplitter::Delta ReasoningSplitter::push(std::string_view text) {
  Delta out;
  switch (state_) {
    case State::kContent:
      content(text, out);
      break;
    case State::kReasoning:
      held_.append(text);
      reasoning(out);
      break;
    case State::kStart: {
      held_.append(text);
      const std::string_view t = ltrim(held_);
      if (t.size() < kThinkOpen.size() && kThinkOpen.starts_with(t)) break;  // still undecided
      if (t.starts_with(kThinkOpen)) {
        held_ = std::string(t.substr(kThinkOpen.size()));
        state_ = State::kReasoning;
        reasoning(out);
      } else {
        state_ = State::kContent;
        const std::string all = std::move(held_);
        held_.clear();
        content(all, out);
      }
      break;
    }
  }
  return out;
}

ReasoningSplitter::Delta ReasoningSplitter::finish() {
  Delta out;
  if (state_ == State::kReasoning) {
    out.reasoning = std::move(held_);
  } else if (state_ == State::kStart) {
    content(held_, out);
  }
  held_.clear();
  state_ = State::kContent;
  return out;
}

}  // namespace latent::server
