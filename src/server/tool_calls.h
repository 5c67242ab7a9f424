// Tool calls in model output: the three formats chat templates teach their models, detected from
// the template source, and a parser that turns the model's text back into OpenAI tool calls —
// incrementally (ToolCallStreamer, for streaming deltas) and whole (parse_tool_calls, which is the
// streamer fed everything at once, so both give the same answer for every split of the text).
//   kLlama3Json  Llama 3.1/3.2/3.3: {"name": "f", "parameters": {...}} as the whole reply,
//                optionally after <|python_tag|>; several calls separated by ';'.
//   kHermes      Qwen2.5 (Hermes): <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
//   kDeepSeek    DeepSeek-V3/R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f
//                \n```json\n{...}\n```<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
// The parser is lenient: a call whose JSON does not parse (or lacks a name) ends the parse and
// everything from it on stays content — never an error. So by default a call is announced only
// once it is complete. When a grammar forces the format's exact syntax (tool_choice required or a
// named function), the call cannot turn out invalid, and the streamer announces it as soon as its
// name is known and passes its arguments on as they arrive (`incremental_arguments`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latent::server {

enum class ToolFormat { kLlama3Json, kHermes, kDeepSeek };

std::string_view tool_format_name(ToolFormat format);

inline constexpr std::string_view kPythonTag = "<|python_tag|>";
inline constexpr std::string_view kHermesOpen = "<tool_call>";
inline constexpr std::string_view kHermesClose = "</tool_call>";
inline constexpr std::string_view kDsCallsBegin = "<｜tool▁calls▁begin｜>";
inline constexpr std::string_view kDsCallsEnd = "<｜tool▁calls▁end｜>";
inline constexpr std::string_view kDsCallBegin = "<｜tool▁call▁begin｜>";
inline constexpr std::string_view kDsCallEnd = "<｜tool▁call▁end｜>";
inline constexpr std::string_view kDsSep = "<｜tool▁sep｜>";

struct ToolCall {
  std::string id;  // "call_" + 24 random alphanumerics
  std::string name;
  std::string arguments;  // JSON text of an object (compact)
  bool operator==(const ToolCall& o) const { return name == o.name && arguments == o.arguments; }
};

// A fresh "call_…" id.
std::string new_tool_call_id();

class ToolCallStreamer {
 public:
  // What a streaming client is sent for a call: OpenAI's first delta of a call carries its id
  // and name (header), later ones fragments of its arguments text.
  struct Chunk {
    int32_t index = 0;  // the call's position in the reply
    bool header = false;
    std::string id, name;  // header only
    std::string arguments;
  };
  struct Delta {
    std::string content;          // text that is certainly not part of a call
    std::vector<ToolCall> calls;  // calls completed by this fragment
    std::vector<Chunk> chunks;    // the same calls as streaming deltas (maybe ahead of `calls`)
    bool empty() const { return content.empty() && calls.empty() && chunks.empty(); }
  };
  explicit ToolCallStreamer(ToolFormat format, bool incremental_arguments = false);
  // The next fragment of the reply's content. A possible start of a call marker at the end is
  // held back until the next push() or finish().
  Delta push(std::string_view text);
  // End of the reply: an unfinished call becomes content.
  Delta finish();

 private:
  enum class Mode { kContent, kCalls, kPlain };
  void process(bool at_end, Delta& out);
  void process_content(bool at_end, Delta& out);
  bool process_calls(bool at_end, Delta& out);  // false: needs more text
  void stream_partial(size_t pos, Delta& out);  // incremental: announce / extend the open call
  void complete(ToolCall call, Delta& out);

  ToolFormat format_;
  Mode mode_ = Mode::kContent;
  std::string pending_;
  bool seen_text_ = false;  // Llama: a '{' starts a call only as the first thing in the reply
  bool incremental_ = false;
  int32_t n_calls_ = 0;
  // Incremental mode: the call whose header went out, and how much of its arguments (bytes from
  // the start of the arguments object in pending_) has been sent.
  struct Open {
    std::string id, name;
    size_t args_begin = 0, sent = 0;
  };
  std::optional<Open> open_;
};

struct ParsedToolCalls {
  std::string content;
  std::vector<ToolCall> calls;
};
ParsedToolCalls parse_tool_calls(ToolFormat format, std::string_view text);

}  // namespace latent::server
