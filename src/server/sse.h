// Server-sent events exactly as OpenAI frames a streaming completion: one `data: <json>\n\n` event
// per chunk, no event names or ids, and `data: [DONE]\n\n` last.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace latent::server {

// "data: " + compact JSON + "\n\n".
std::string sse_event(const nlohmann::json& chunk);
// "data: [DONE]\n\n".
std::string_view sse_done();

// Splits an SSE byte stream back into its events' data payloads (for tests and the load
// generator). Feed bytes in any fragmentation; complete events come out in order.
class SseParser {
 public:
  // Returns the data payloads of the events completed by these bytes ("[DONE]" included).
  std::vector<std::string> feed(std::string_view bytes);
  // Bytes of an event not yet terminated by a blank line.
  const std::string& pending() const { return buf_; }

 private:
  std::string buf_;
};

}  // namespace latent::server
