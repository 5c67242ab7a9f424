// SSE framing (see sse.h). The parser follows the WHATWG event-stream rules the server's clients
// use: lines end in \n (or \r\n), an empty line ends the event, "data:" lines are joined with \n
// and a single space after the colon is dropped; comments and other fields are ignored.
#include "server/sse.h"

#include "server/openai_protocol.h"

namespace latent::server {

std::string sse_event(const nlohmann::json& chunk) {
  return "data: " + dump_json(chunk) + "\n\n";
}

std::string_view sse_done() {
  return "data: [DONE]\n\n";
}

std::vector<std::string> SseParser::feed(std::string_view bytes) {
  buf_.append(bytes);
  std::vector<std::string> events;
  for (;;) {
    // An event ends at the first blank line.
    size_t end = std::string::npos, skip = 0;
    for (size_t i = 0; i + 1 < buf_.size(); ++i) {
      if (buf_[i] != '\n') continue;
      if (buf_[i + 1] == '\n') {
        end = i, skip = 2;
        break;
      }
      if (buf_[i + 1] == '\r' && i + 2 < buf_.size() && buf_[i + 2] == '\n') {
        end = i, skip = 3;
        break;
      }
    }
    if (end == std::string::npos) break;
    const std::string event = buf_.substr(0, end);
    buf_.erase(0, end + skip);
    std::string data;
    bool has_data = false;
    size_t pos = 0;
    while (pos <= event.size()) {
      size_t nl = event.find('\n', pos);
      if (nl == std::string::npos) nl = event.size();
      std::string line = event.substr(pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos = nl + 1;
      if (line.rfind("data:", 0) != 0) continue;
      std::string value = line.substr(5);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (has_data) data += '\n';
      data += value;
      has_data = true;
    }
    if (has_data) events.push_back(std::move(data));
  }
  return events;
}

}  // namespace latent::server
