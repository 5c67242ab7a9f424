// Stop strings with hold-back of a possible partial match.
#include "engine/stop_strings.h"

#include <algorithm>
#include <utility>

namespace latent {

StopStringMatcher::StopStringMatcher(const std::vector<std::string>& stops) {
  for (const auto& s : stops)
    if (!s.empty()) stops_.push_back(s);
}

std::string StopStringMatcher::push(std::string_view text) {
  if (matched_) return {};
  held_ += text;
  if (stops_.empty()) return std::exchange(held_, {});
  // The earliest match of any stop string wins.
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    matched_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of a stop string. It starts at the first
  // byte of a stop string, so the emitted part ends on a character boundary.
  size_t keep = 0;
  for (const auto& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > keep; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringMatcher::flush(bool matched, StreamingDetokenizer& detok) {
  std::string tail = detok.flush();
  if (matched || matched_) return {};
  return std::exchange(held_, {}) + tail;
}

}  // namespace latent
