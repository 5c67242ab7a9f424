// Reasoning models (DeepSeek-R1 and its distills): their replies open with a `<think>` block. The
// server returns that block as `reasoning_content` and the rest as `content`, also while streaming
// (ReasoningSplitter takes text in arbitrary fragments, tags split across them included), and
// strips earlier reasoning from assistant turns sent back as history before the template renders
// them. Applies to any chat template that mentions `<think>`; other templates pass text through.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/answer_vote.h"  // kThinkOpen, kThinkClose

namespace latent::server {

// The chat template opens <think> blocks (so the model's replies may carry reasoning).
bool template_uses_think(std::string_view template_source);
// The rendered prompt ends inside an open <think> (R1's template appends
// "<｜Assistant｜><think>\n"): the model's output then starts as reasoning.
bool prompt_opens_think(std::string_view rendered_prompt);
// For every assistant message: content becomes the text after its last </think> (leading
// whitespace dropped) and any reasoning_content field is removed — what R1's own template does,
// for every template that uses <think>.
void strip_reasoning_from_history(nlohmann::ordered_json& messages);

class ReasoningSplitter {
 public:
  struct Delta {
    std::string reasoning, content;
    bool empty() const { return reasoning.empty() && content.empty(); }
  };
  // starts_in_reasoning: the prompt already opened <think> (prompt_opens_think). Otherwise the
  // output is reasoning only if it begins (after whitespace) with <think> itself.
  explicit ReasoningSplitter(bool starts_in_reasoning);
  // The next fragment of generated text; returns what is decided so far. A possible partial tag at
  // the end is held back until the next push() or finish().
  Delta push(std::string_view text);
  // End of generation: releases anything held back. Reasoning that never closed stays reasoning.
  Delta finish();

 private:
  enum class State { kStart, kReasoning, kContent };
  void content(std::string_view text, Delta& out);
  void reasoning(Delta& out);
  State state_;
  std::string held_;
  bool content_started_ = true;  // false right after </think>: leading whitespace is dropped
};

}  // namespace latent::server
