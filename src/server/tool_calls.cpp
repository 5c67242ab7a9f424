// ToolCallStreamer and parse_tool_calls (tool_calls.h).
#include "server/tool_calls.h"

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

namespace latent::server {
namespace {

using nlohmann::json;

enum class Step { kCall, kNeedMore, kInvalid };

struct CallParse {
  Step step = Step::kInvalid;
  ToolCall call;
  size_t end = 0;
};

bool is_ws(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

size_t skip_ws(std::string_view s, size_t pos) {
  while (pos < s.size() && is_ws(s[pos])) ++pos;
  return pos;
}

// Whether s[pos..] starts with `lit`: kCall yes (pos advanced), kNeedMore when s ends inside a
// prefix of it (and more text may come), kInvalid otherwise.
Step expect(std::string_view s, size_t& pos, std::string_view lit, bool at_end) {
  const std::string_view rest = s.substr(pos);
  if (rest.starts_with(lit)) {
    pos += lit.size();
    return Step::kCall;
  }
  if (!at_end && lit.starts_with(rest)) return Step::kNeedMore;
  return Step::kInvalid;
}

// One past the end of the JSON object or array starting at s[pos] (brackets balanced outside
// strings), or npos when the text ends first. Validity is json::parse's business.
size_t json_value_end(std::string_view s, size_t pos) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = pos; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// The JSON object at s[pos] (kNeedMore while unfinished).
Step read_object(std::string_view s, size_t& pos, bool at_end, json* out) {
  if (pos >= s.size()) return at_end ? Step::kInvalid : Step::kNeedMore;
  if (s[pos] != '{') return Step::kInvalid;
  const size_t end = json_value_end(s, pos);
  if (end == std::string_view::npos) return at_end ? Step::kInvalid : Step::kNeedMore;
  try {
    *out = json::parse(s.substr(pos, end - pos));
  } catch (const json::exception&) {
    return Step::kInvalid;
  }
  pos = end;
  return Step::kCall;
}

// The arguments as compact JSON text: an object, or a string holding one (some models quote it).
std::optional<std::string> arguments_text(const json& args) {
  if (args.is_object()) return args.dump(-1, ' ', false, json::error_handler_t::replace);
  if (args.is_string()) {
    try {
      json inner = json::parse(args.get<std::string>());
      if (inner.is_object()) return inner.dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const json::exception&) {
    }
  }
  return std::nullopt;
}

// {"name": "...", <args_key>: {...}} (either "parameters" or "arguments" is accepted for both
// JSON formats: models mix them up).
bool call_from_json(const json& j, ToolCall& call) {
  if (!j.is_object()) return false;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) return false;
  auto args = j.find("parameters");
  if (args == j.end()) args = j.find("arguments");
  std::optional<std::string> text =
      args == j.end() ? std::optional<std::string>("{}") : arguments_text(*args);
  if (!text) return false;
  call.name = name->get<std::string>();
  call.arguments = *text;
  return true;
}

#define LATENT_STEP(expr)                                     \
  do {                                                        \
    const Step step_ = (expr);                                \
    if (step_ != Step::kCall) return CallParse{step_, {}, 0}; \
  } while (0)

CallParse parse_llama(std::string_view s, size_t pos, bool at_end) {
  if (s.substr(pos).starts_with(kPythonTag)) pos += kPythonTag.size();
  pos = skip_ws(s, pos);
  json j;
  LATENT_STEP(read_object(s, pos, at_end, &j));
  CallParse r{Step::kCall, {}, pos};
  if (!call_from_json(j, r.call)) return CallParse{Step::kInvalid, {}, 0};
  return r;
}

CallParse parse_hermes(std::string_view s, size_t pos, bool at_end) {
  LATENT_STEP(expect(s, pos, kHermesOpen, at_end));
  pos = skip_ws(s, pos);
  json j;
  LATENT_STEP(read_object(s, pos, at_end, &j));
  CallParse r{Step::kCall, {}, 0};
  if (!call_from_json(j, r.call)) return CallParse{Step::kInvalid, {}, 0};
  pos = skip_ws(s, pos);
  // A reply cut right after the JSON (end of generation before the closing tag) still counts.
  if (!(at_end && pos == s.size())) LATENT_STEP(expect(s, pos, kHermesClose, at_end));
  r.end = pos;
  return r;
}

// Text up to `delim` (not included) on one line, at most `max` bytes; pos moves past delim.
Step read_until(std::string_view s, size_t& pos, std::string_view delim, bool at_end, size_t max,
                std::string* out) {
  const size_t found = s.find(delim, pos);
  if (found == std::string_view::npos) {
    // The delimiter may still be arriving (its first bytes are at the end).
    if (at_end || s.size() - pos > max + delim.size()) return Step::kInvalid;
    return Step::kNeedMore;
  }
  const std::string_view text = s.substr(pos, found - pos);
  if (text.size() > max || text.find('\n') != std::string_view::npos ||
      text.find('<') != std::string_view::npos)
    return Step::kInvalid;
  *out = std::string(text);
  pos = found + delim.size();
  return Step::kCall;
}

CallParse parse_deepseek(std::string_view s, size_t pos, bool at_end) {
  if (s.substr(pos).starts_with(kDsCallsBegin)) pos = skip_ws(s, pos + kDsCallsBegin.size());
  LATENT_STEP(expect(s, pos, kDsCallBegin, at_end));
  std::string type, name;
  LATENT_STEP(read_until(s, pos, kDsSep, at_end, 32, &type));
  LATENT_STEP(read_until(s, pos, "\n", at_end, 256, &name));
  while (!name.empty() && is_ws(name.back())) name.pop_back();
  if (name.empty()) return CallParse{Step::kInvalid, {}, 0};
  pos = skip_ws(s, pos);
  // The ```json fence is what the template writes; tolerate a reply without it.
  if (s.substr(pos).starts_with("```")) {
    LATENT_STEP(expect(s, pos, "```json", at_end));
    pos = skip_ws(s, pos);
  } else if (!at_end && std::string_view("```").starts_with(s.substr(pos))) {
    return CallParse{Step::kNeedMore, {}, 0};
  }
  json args;
  LATENT_STEP(read_object(s, pos, at_end, &args));
  pos = skip_ws(s, pos);
  if (s.substr(pos).starts_with("```"))
    pos = skip_ws(s, pos + 3);
  else if (!at_end && std::string_view("```").starts_with(s.substr(pos)))
    return CallParse{Step::kNeedMore, {}, 0};
  if (!(at_end && pos == s.size())) LATENT_STEP(expect(s, pos, kDsCallEnd, at_end));
  CallParse r{Step::kCall, {}, pos};
  r.call.name = name;
  r.call.arguments = args.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

#undef LATENT_STEP

// The exact opening the forcing grammar (structured_output.cpp) writes before a call's arguments:
// the function's name and where its arguments object starts, once all of it is in s.
std::optional<std::pair<std::string, size_t>> forced_prefix(ToolFormat f, std::string_view s,
                                                            size_t pos) {
  std::string_view head, tail;
  char name_end = '"';
  switch (f) {
    case ToolFormat::kLlama3Json:
      head = "{\"name\": \"";
      tail = "\", \"parameters\": ";
      break;
    case ToolFormat::kHermes:
      head = "<tool_call>\n{\"name\": \"";
      tail = "\", \"arguments\": ";
      break;
    case ToolFormat::kDeepSeek:
      if (s.substr(pos).starts_with(kDsCallsBegin)) pos += kDsCallsBegin.size();
      head = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>";
      tail = "\n```json\n";
      name_end = '\n';
      break;
  }
  if (!s.substr(pos).starts_with(head)) return std::nullopt;
  pos += head.size();
  const size_t e = s.find(name_end, pos);
  if (e == std::string_view::npos || e == pos || !s.substr(e).starts_with(tail))
    return std::nullopt;
  return std::make_pair(std::string(s.substr(pos, e - pos)), e + tail.size());
}

// Markers that start a call in running text.
std::vector<std::string_view> start_markers(ToolFormat f) {
  switch (f) {
    case ToolFormat::kLlama3Json:
      return {kPythonTag};
    case ToolFormat::kHermes:
      return {kHermesOpen};
    case ToolFormat::kDeepSeek:
      return {kDsCallsBegin, kDsCallBegin};
  }
  return {};
}

}  // namespace

std::string_view tool_format_name(ToolFormat format) {
  switch (format) {
    case ToolFormat::kLlama3Json:
      return "llama3-json";
    case ToolFormat::kHermes:
      return "hermes";
    case ToolFormat::kDeepSeek:
      return "deepseek";
  }
  return "?";
}

std::string new_tool_call_id() {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kChars[rng() % (sizeof kChars - 1)];
  return id;
}

ToolCallStreamer::ToolCallStreamer(ToolFormat format, bool incremental_arguments)
    : format_(format), incremental_(incremental_arguments) {}

void ToolCallStreamer::stream_partial(size_t pos, Delta& out) {
  if (!open_) {
    auto prefix = forced_prefix(format_, pending_, pos);
    if (!prefix) return;
    open_ = Open{new_tool_call_id(), prefix->first, prefix->second, 0};
    out.chunks.push_back({n_calls_, true, open_->id, open_->name, ""});
  }
  if (open_->args_begin >= pending_.size() || pending_[open_->args_begin] != '{') return;
  size_t end = json_value_end(pending_, open_->args_begin);
  if (end == std::string::npos) end = pending_.size();
  const size_t have = end - open_->args_begin;
  if (have > open_->sent) {
    out.chunks.push_back({n_calls_, false, "", "",
                          pending_.substr(open_->args_begin + open_->sent, have - open_->sent)});
    open_->sent = have;
  }
}

void ToolCallStreamer::complete(ToolCall call, Delta& out) {
  if (open_) {
    // The arguments are the text streamed (the object as the model wrote it), so a client that
    // concatenates the fragments gets exactly `arguments`.
    size_t end = json_value_end(pending_, open_->args_begin);
    if (end == std::string::npos) end = pending_.size();
    const std::string raw = pending_.substr(open_->args_begin, end - open_->args_begin);
    if (raw.size() > open_->sent)
      out.chunks.push_back({n_calls_, false, "", "", raw.substr(open_->sent)});
    call.id = open_->id;
    call.name = open_->name;
    call.arguments = raw;
    open_.reset();
  } else {
    call.id = new_tool_call_id();
    out.chunks.push_back({n_calls_, true, call.id, call.name, ""});
    out.chunks.push_back({n_calls_, false, "", "", call.arguments});
  }
  out.calls.push_back(std::move(call));
  ++n_calls_;
}

ToolCallStreamer::Delta ToolCallStreamer::push(std::string_view text) {
  Delta out;
  pending_.append(text);
  process(false, out);
  return out;
}

ToolCallStreamer::Delta ToolCallStreamer::finish() {
  Delta out;
  process(true, out);
  out.content += pending_;  // an unfinished call or a held-back marker prefix
  pending_.clear();
  return out;
}

void ToolCallStreamer::process(bool at_end, Delta& out) {
  for (;;) {
    if (mode_ == Mode::kPlain) {
      out.content += pending_;
      pending_.clear();
      return;
    }
    if (mode_ == Mode::kContent) {
      process_content(at_end, out);
      if (mode_ == Mode::kContent) return;
      continue;
    }
    if (!process_calls(at_end, out)) return;
  }
}

void ToolCallStreamer::process_content(bool at_end, Delta& out) {
  if (format_ == ToolFormat::kLlama3Json && !seen_text_) {
    // Llama replies with a bare JSON object: a '{' opening the reply starts a call.
    const size_t p = skip_ws(pending_, 0);
    if (p == pending_.size()) {
      if (at_end) {
        out.content += pending_;
        pending_.clear();
      }
      return;  // only whitespace so far: undecided
    }
    if (!at_end && kPythonTag.starts_with(std::string_view(pending_).substr(p)))
      return;  // maybe the tag is arriving
    seen_text_ = true;
    if (pending_[p] == '{' || std::string_view(pending_).substr(p).starts_with(kPythonTag)) {
      pending_.erase(0, p);
      mode_ = Mode::kCalls;
      return;
    }
  }
  size_t first = std::string::npos;
  for (std::string_view m : start_markers(format_)) first = std::min(first, pending_.find(m));
  if (first != std::string::npos) {
    out.content += pending_.substr(0, first);
    pending_.erase(0, first);
    mode_ = Mode::kCalls;
    return;
  }
  // Hold back a suffix that may grow into a marker.
  size_t hold = 0;
  if (!at_end) {
    for (std::string_view m : start_markers(format_)) {
      for (size_t n = std::min(pending_.size(), m.size() - 1); n > hold; --n) {
        if (std::string_view(pending_).substr(pending_.size() - n) == m.substr(0, n)) {
          hold = n;
          break;
        }
      }
    }
  }
  out.content += pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
}

bool ToolCallStreamer::process_calls(bool at_end, Delta& out) {
  // Separators between calls: whitespace, Llama's ';', DeepSeek's closing marker.
  size_t pos = 0;
  for (;;) {
    pos = skip_ws(pending_, pos);
    if (format_ == ToolFormat::kLlama3Json && pos < pending_.size() && pending_[pos] == ';') {
      ++pos;
      continue;
    }
    if (format_ == ToolFormat::kDeepSeek) {
      const std::string_view rest = std::string_view(pending_).substr(pos);
      if (rest.starts_with(kDsCallsEnd)) {
        pos += kDsCallsEnd.size();
        continue;
      }
      if (!at_end && !rest.empty() && kDsCallsEnd.starts_with(rest)) return false;
    }
    break;
  }
  if (pos == pending_.size()) {
    if (at_end) pending_.clear();  // trailing separators are not content
    return false;
  }
  CallParse r;
  switch (format_) {
    case ToolFormat::kLlama3Json:
      r = parse_llama(pending_, pos, at_end);
      break;
    case ToolFormat::kHermes:
      r = parse_hermes(pending_, pos, at_end);
      break;
    case ToolFormat::kDeepSeek:
      r = parse_deepseek(pending_, pos, at_end);
      break;
  }
  if (r.step == Step::kNeedMore) {
    if (incremental_) stream_partial(pos, out);
    return false;
  }
  if (r.step == Step::kInvalid && open_) {
    // Announced already (a forced call cut short by the token limit): it stays a call with the
    // arguments written so far, so streamed and whole replies agree.
    stream_partial(pos, out);
    size_t end = json_value_end(pending_, open_->args_begin);
    if (end == std::string::npos) end = pending_.size();
    ToolCall call;
    complete(std::move(call), out);
    pending_.erase(0, end);
    mode_ = Mode::kPlain;
    return true;
  }
  if (r.step == Step::kInvalid) {
    // Not a call after all (or text after the calls): the rest of the reply is content.
    pending_.erase(0, pos);
    mode_ = Mode::kPlain;
    return true;
  }
  if (incremental_) stream_partial(pos, out);
  complete(std::move(r.call), out);
  pending_.erase(0, r.end);
  return true;
}

ParsedToolCalls parse_tool_calls(ToolFormat format, std::string_view text) {
  ToolCallStreamer s(format);
  ToolCallStreamer::Delta a = s.push(text);
  ToolCallStreamer::Delta b = s.finish();
  ParsedToolCalls r;
  r.content = a.content + b.content;
  r.calls = std::move(a.calls);
  for (ToolCall& c : b.calls) r.calls.push_back(std::move(c));
  return r;
}

}  // namespace latent::server
