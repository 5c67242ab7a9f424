// StopStringMatcher: OpenAI `stop` semantics over streamed text. Generation ends before the first
// occurrence of any stop string, which is not part of the output. Text that could still turn out
// to be the start of a stop string is held back (never streamed and then retracted).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/detokenizer.h"

namespace latent {

class StopStringMatcher {
 public:
  StopStringMatcher() = default;
  // Empty strings are ignored.
  explicit StopStringMatcher(const std::vector<std::string>& stops);

  // Takes newly generated text; returns the part that is now safe to emit. After a match, returns
  // the text before the match and matched() is true; later calls return "".
  std::string push(std::string_view text);
  bool matched() const { return matched_; }
  // At the end of the sample: the held-back text (none after a match) plus what the detokenizer
  // still holds (an incomplete character becomes U+FFFD).
  std::string flush(bool matched, StreamingDetokenizer& detok);

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace latent
