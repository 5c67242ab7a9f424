// POST /v1/chat/completions and /v1/completions: parse → build the prompt (chat template, then
// tokenizer with special tokens parsed) → checks that name the field (context, queue) → submit to
// the engine → collect outputs (ChoiceCollector) into one response, or stream them as SSE chunks.
// A client that goes away cancels its request so its blocks return to the pool: a streaming one
// when the next write fails, and either kind while waiting, through a ConnectionWatch on its
// socket.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "base/error.h"
#include "server/connection_watch.h"
#include "server/reasoning.h"
#include "server/server_context.h"
#include "server/sse.h"
#include "server/structured_output.h"

namespace latent::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll{100};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Prepared {
  OpenAIRequest req;
  std::vector<TokenId> prompt;
  bool split_reasoning = false;           // chat with a <think> template
  bool starts_in_reasoning = false;       // the prompt ends inside <think>
  std::optional<ToolFormat> tool_format;  // tools offered: parse calls out of the reply
  std::shared_ptr<TokenConstraint> constraint;
};

// As `latent chat`: special-token texts written by the template become those tokens; BOS is added
// only when the model wants one and the template did not write it.
std::vector<TokenId> tokenize_conversation(const Tokenizer& tok, const std::string& text) {
  std::vector<TokenId> ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
  if (tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids.front() != tok.bos()))
    ids.insert(ids.begin(), tok.bos());
  return ids;
}

// Tokens of free reasoning before a reasoning model is made to close </think> and write the
// structured part: half the completion budget, so the payload keeps the other half.
int32_t reasoning_budget(const OpenAIRequest& r) {
  return r.max_tokens > 0 ? std::max(1, r.max_tokens / 2) : 2048;
}

// The grammar the reply must follow: a forced tool call (tool_choice required or named) or the
// structured-output format; nullptr when neither.
std::shared_ptr<TokenConstraint> build_constraint(ServerContext& ctx, const Prepared& p) {
  const OpenAIRequest& r = p.req;
  std::string gbnf, field;
  const bool forced = p.tool_format && (r.tool_choice == OpenAIRequest::ToolChoice::kRequired ||
                                        r.tool_choice == OpenAIRequest::ToolChoice::kNamed);
  if (forced) {
    std::vector<ToolFunction> fns;
    for (size_t i = 0; i < r.tools.size(); ++i) {
      const nlohmann::ordered_json& fn = r.tools[i]["function"];
      const std::string name = fn["name"].get<std::string>();
      if (r.tool_choice == OpenAIRequest::ToolChoice::kNamed && name != r.tool_choice_name)
        continue;
      nlohmann::ordered_json params = fn.contains("parameters") && fn["parameters"].is_object()
                                          ? fn["parameters"]
                                          : nlohmann::ordered_json{{"type", "object"}};
      fns.push_back(
          {name, std::move(params), "tools[" + std::to_string(i) + "].function.parameters"});
    }
    gbnf = tool_call_gbnf(
        *p.tool_format, fns,
        r.parallel_tool_calls && r.tool_choice == OpenAIRequest::ToolChoice::kRequired);
    field = "tools";
  } else if (!r.grammar.empty()) {
    gbnf = r.grammar;
    field = r.grammar_field;
  }
  if (gbnf.empty()) return nullptr;
  try {
    if (p.starts_in_reasoning)
      return std::make_shared<GrammarTokenConstraint>(ctx.grammars.get(after_think_gbnf(gbnf)),
                                                      reasoning_budget(r));
    return std::make_shared<GrammarTokenConstraint>(ctx.grammars.get(gbnf));
  } catch (const Error& e) {  // left recursion, a repetition too large to expand, ...
    throw ApiError(400, field + ": " + e.what(), field);
  }
}

Prepared prepare(ServerContext& ctx, ApiKind kind, const std::string& body) {
  json j;
  nlohmann::ordered_json in_order;
  try {
    j = json::parse(body);
    in_order = nlohmann::ordered_json::parse(body);
  } catch (const json::parse_error& e) {
    throw ApiError(
        400, std::string("request body: expected JSON, found malformed JSON (") + e.what() + ")");
  }
  ParseContext parse = ctx.parse;
  parse.ordered_body = &in_order;
  Prepared p;
  p.req =
      kind == ApiKind::kChat ? parse_chat_request(j, parse) : parse_completion_request(j, parse);
  const char* prompt_field = kind == ApiKind::kChat ? "messages" : "prompt";
  if (kind == ApiKind::kChat) {
    if (!ctx.chat_template)
      throw ApiError(400,
                     "messages: expected a model with a chat template (tokenizer.chat_template), "
                     "found none; use /v1/completions with a plain prompt",
                     "messages");
    ChatRenderInput in;
    in.messages = p.req.messages;
    if (ctx.think_template) strip_reasoning_from_history(in.messages);
    // tool_choice "none": OpenAI's model may not call tools, so none are offered.
    const bool offer_tools =
        !p.req.tools.is_null() && p.req.tool_choice != OpenAIRequest::ToolChoice::kNone;
    in.tools = prepare_tool_prompt(
        ctx.tool_template, offer_tools ? p.req.tools : nlohmann::ordered_json(), in.messages);
    if (offer_tools) p.tool_format = ctx.tool_template.format;
    in.bos_token = ctx.bos_text;
    in.eos_token = ctx.eos_text;
    in.add_generation_prompt = true;
    std::string text;
    try {
      text = ctx.chat_template->render(in);
    } catch (const Error& e) {  // e.g. raise_exception("Conversation roles must alternate ...")
      throw ApiError(400, std::string("messages: the chat template refused them: ") + e.what(),
                     "messages");
    }
    p.split_reasoning = ctx.think_template;
    p.starts_in_reasoning = ctx.think_template && prompt_opens_think(text);
    p.prompt = tokenize_conversation(ctx.tokenizer, text);
  } else if (p.req.prompt_is_tokens) {
    p.prompt = p.req.prompt_tokens;
  } else {
    p.prompt = ctx.tokenizer.encode(p.req.prompt_text, /*add_special=*/true,
                                    /*parse_special=*/true);
  }
  const int64_t n_ctx = ctx.engine.config().n_ctx;
  const int64_t n_prompt = static_cast<int64_t>(p.prompt.size());
  if (n_prompt == 0) throw ApiError::field(prompt_field, "a non-empty prompt", "0 tokens");
  if (n_prompt >= n_ctx)
    throw ApiError::field(prompt_field,
                          "a prompt of at most " + std::to_string(n_ctx - 1) +
                              " tokens (the context is " + std::to_string(n_ctx) + ")",
                          std::to_string(n_prompt) + " tokens");
  if (p.req.max_tokens > 0 && n_prompt + p.req.max_tokens > n_ctx) {
    const char* field =
        j.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    throw ApiError::field(field,
                          "at most " + std::to_string(n_ctx - n_prompt) + " (context " +
                              std::to_string(n_ctx) + " − prompt " + std::to_string(n_prompt) +
                              " tokens)",
                          std::to_string(p.req.max_tokens));
  }
  p.constraint = build_constraint(ctx, p);
  return p;
}

// The request field an engine validation message is about ("sampler: top_p: expected ...").
std::string param_from_engine_message(const std::string& msg, const char* prompt_field) {
  static const char* kFields[] = {
      "max_tokens",       "temperature",       "top_p",      "top_k", "min_p",
      "presence_penalty", "frequency_penalty", "logit_bias", "stop",  "top_logprobs"};
  for (const char* f : kFields)
    if (msg.find(f) != std::string::npos) return f;
  if (msg.find("repeat_penalty") != std::string::npos) return "repetition_penalty";
  if (msg.find("prompt") != std::string::npos) return prompt_field;
  if (msg.find("n:") != std::string::npos) return "n";
  return {};
}

struct ChoiceState {
  ChoiceResult result;
  std::optional<ReasoningSplitter> splitter;
  std::optional<ToolCallStreamer> tools;
  int64_t text_bytes = 0;  // completions' text_offset
  bool finished = false;
};

// Accumulates a request's outputs per choice; in streaming mode also renders the SSE events.
class ChoiceCollector {
 public:
  ChoiceCollector(ServerContext& ctx, const Prepared& p, ResponseMeta meta, Clock::time_point t0)
      : ctx_(ctx),
        kind_(p.req.kind),
        meta_(std::move(meta)),
        t0_(t0),
        logprobs_(p.req.top_logprobs >= 0),
        include_usage_(p.req.include_usage),
        vote_(p.req.vote_majority) {
    choices_.resize(p.req.n);
    for (int32_t i = 0; i < p.req.n; ++i) {
      choices_[i].result.index = i;
      if (p.split_reasoning) {
        choices_[i].splitter.emplace(p.starts_in_reasoning);
        choices_[i].result.reasoning = "";
      }
      // A forced call cannot turn out invalid, so its arguments stream as they are written.
      if (p.tool_format) choices_[i].tools.emplace(*p.tool_format, p.constraint != nullptr);
    }
  }

  // Chat streams open with one role chunk per choice.
  std::string opening_events() const {
    std::string ev;
    if (kind_ != ApiKind::kChat) return ev;
    for (const ChoiceState& c : choices_)
      ev +=
          sse_event(chat_chunk_json(meta_, c.result.index, {{"role", "assistant"}, {"content", ""}},
                                    std::nullopt, nullptr, include_usage_));
    return ev;
  }

  // One engine chunk; appends its SSE events to *events when streaming.
  void add(RequestStream::Chunk& chunk, std::string* events) {
    bool any_tokens = false;
    for (SampleOutput& o : chunk.outputs) {
      if (o.index < 0 || o.index >= static_cast<int32_t>(choices_.size())) continue;
      any_tokens |= !o.tokens.empty();
      add_output(o, events);
    }
    const Clock::time_point now = Clock::now();
    if (any_tokens) {
      if (!first_token_) {
        first_token_ = now;
        ctx_.metrics.ttft.observe(seconds_between(t0_, now));
      } else {
        ctx_.metrics.itl.observe(seconds_between(last_token_, now));
      }
      last_token_ = now;
    }
    if (chunk.done) {
      usage_ = chunk.usage;
      done_ = true;
      for (ChoiceState& c : choices_)
        if (!c.finished) finish_choice(c, "abort", events);
      if (events) {
        if (include_usage_) *events += sse_event(usage_chunk_json(meta_, kind_, usage_));
        *events += sse_done();
      }
    }
  }

  json response() const {
    std::vector<ChoiceResult> results;
    for (const ChoiceState& c : choices_) results.push_back(c.result);
    const PieceFn piece = [this](TokenId id) { return ctx_.tokenizer.token_to_piece(id); };
    json j = kind_ == ApiKind::kChat
                 ? chat_completion_json(meta_, results, usage_, logprobs_, piece)
                 : text_completion_json(meta_, results, usage_, logprobs_, piece);
    if (vote_) j["vote"] = majority_vote_json(results);
    return j;
  }

  bool done() const { return done_; }
  const RequestUsage& usage() const { return usage_; }
  double ttft() const { return first_token_ ? seconds_between(t0_, *first_token_) : 0.0; }
  // The request's finish reason for metrics and the log: the last choice's.
  std::string finish_reason() const {
    return choices_.empty() ? "stop" : choices_.back().result.finish_reason;
  }

 private:
  void add_output(SampleOutput& o, std::string* events) {
    ChoiceState& c = choices_[o.index];
    ChoiceResult& r = c.result;
    ReasoningSplitter::Delta d;
    if (c.splitter) {
      d = c.splitter->push(o.text);
      if (o.finish) {
        ReasoningSplitter::Delta tail = c.splitter->finish();
        d.reasoning += tail.reasoning;
        d.content += tail.content;
      }
      *r.reasoning += d.reasoning;
    } else {
      d.content = o.text;
    }
    // Tool calls are parsed out of the content only (after the reasoning split), so reasoning
    // that mentions a call's syntax never becomes a call.
    std::vector<ToolCall> new_calls;
    std::vector<ToolCallStreamer::Chunk> call_chunks;
    if (c.tools) {
      ToolCallStreamer::Delta td = c.tools->push(d.content);
      if (o.finish) {
        ToolCallStreamer::Delta tail = c.tools->finish();
        td.content += tail.content;
        for (ToolCall& call : tail.calls) td.calls.push_back(std::move(call));
        for (auto& chunk : tail.chunks) td.chunks.push_back(std::move(chunk));
      }
      d.content = std::move(td.content);
      new_calls = std::move(td.calls);
      call_chunks = std::move(td.chunks);
    }
    r.text += d.content;
    const bool lp = logprobs_ && !o.tokens.empty();
    if (events) {
      const PieceFn piece = [this](TokenId id) { return ctx_.tokenizer.token_to_piece(id); };
      if (kind_ == ApiKind::kChat) {
        json delta = json::object();
        if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
        if (!d.content.empty() || (lp && d.reasoning.empty())) delta["content"] = d.content;
        if (!delta.empty())
          *events += sse_event(chat_chunk_json(
              meta_, r.index, std::move(delta), std::nullopt,
              lp ? chat_logprobs_json(o.tokens, o.chosen, o.top, piece) : json(nullptr),
              include_usage_));
        for (const ToolCallStreamer::Chunk& k : call_chunks) {
          if (!k.header && k.arguments.empty()) continue;
          json delta = k.header ? tool_call_header_delta(k.index, ToolCall{k.id, k.name, ""})
                                : tool_call_arguments_delta(k.index, k.arguments);
          *events += sse_event(chat_chunk_json(meta_, r.index, std::move(delta), std::nullopt,
                                               nullptr, include_usage_));
        }
      } else if (!o.text.empty() || lp) {
        *events += sse_event(completion_chunk_json(
            meta_, r.index, o.text, std::nullopt,
            lp ? completion_logprobs_json(o.tokens, o.chosen, o.top, piece, c.text_bytes)
               : json(nullptr),
            include_usage_));
      }
    }
    for (ToolCall& call : new_calls) r.tool_calls.push_back(std::move(call));
    c.text_bytes += static_cast<int64_t>(o.text.size());
    r.tokens.insert(r.tokens.end(), o.tokens.begin(), o.tokens.end());
    if (logprobs_) {
      r.chosen.insert(r.chosen.end(), o.chosen.begin(), o.chosen.end());
      r.top.insert(r.top.end(), o.top.begin(), o.top.end());
    }
    if (o.finish) finish_choice(c, finish_reason_string(*o.finish), events);
  }

  void finish_choice(ChoiceState& c, const std::string& reason, std::string* events) {
    c.finished = true;
    // OpenAI: a reply that ended by calling tools finishes with "tool_calls".
    c.result.finish_reason =
        reason == "stop" && !c.result.tool_calls.empty() ? "tool_calls" : reason;
    if (!events) return;
    if (kind_ == ApiKind::kChat)
      *events += sse_event(chat_chunk_json(meta_, c.result.index, json::object(),
                                           c.result.finish_reason, nullptr, include_usage_));
    else
      *events += sse_event(
          completion_chunk_json(meta_, c.result.index, "", reason, nullptr, include_usage_));
  }

  ServerContext& ctx_;
  ApiKind kind_;
  ResponseMeta meta_;
  Clock::time_point t0_;
  bool logprobs_, include_usage_, vote_;
  std::vector<ChoiceState> choices_;
  std::optional<Clock::time_point> first_token_;
  Clock::time_point last_token_;
  RequestUsage usage_;
  bool done_ = false;
};

// Decrements the active-completion count when the request's last owner goes away (the handler, or
// for a stream the content provider httplib keeps until the response is written).
struct ActiveGuard {
  explicit ActiveGuard(ServerContext& c) : ctx(c) { ctx.active_completions.fetch_add(1); }
  ~ActiveGuard() { ctx.active_completions.fetch_sub(1); }
  ServerContext& ctx;
};

struct StreamState {
  ServerContext& ctx;
  std::shared_ptr<ActiveGuard> guard;
  std::shared_ptr<RequestStream> stream;
  ChoiceCollector collector;
  ConnectionWatch watch;
  std::string id;
  Clock::time_point t0;
  bool opened = false, logged = false;
  Clock::time_point abort_deadline{};

  // The client is gone (or the server gave up): cancel, count it as aborted, log once.
  void abandon(int status, const std::string& note) {
    stream->cancel();
    if (!logged) ctx.metrics.record_finish("abort");
    log(status, note);
  }

  void log(int status, const std::string& note) {
    if (logged) return;
    logged = true;
    ctx.log_request(id, status, collector.usage(), collector.ttft(),
                    seconds_between(t0, Clock::now()), note);
  }
};

std::string new_id(ServerContext& ctx, ApiKind kind) {
  static const uint64_t base = std::random_device{}() * 0x9E3779B97F4A7C15ull;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s-%016llx", kind == ApiKind::kChat ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(base + ctx.next_id.fetch_add(1)));
  return buf;
}

enum class Wait { kChunk, kClientGone, kAborted };

// Waits for the next chunk, watching the client and the server's abort flag between polls. On
// kAborted (the drain timed out and the engine did not finish the request within a grace period)
// the request has been cancelled.
Wait wait_chunk(ServerContext& ctx, RequestStream& stream, const ConnectionWatch& watch,
                RequestStream::Chunk& chunk, Clock::time_point& abort_deadline,
                Clock::time_point& next_watch) {
  for (;;) {
    // On a timer, not only when the engine is quiet: a fast request yields a chunk every step and
    // would otherwise never look at its client.
    const Clock::time_point now = Clock::now();
    if (now >= next_watch) {
      if (watch.closed()) return Wait::kClientGone;
      next_watch = now + kPoll;
    }
    if (stream.next(chunk, kPoll)) return Wait::kChunk;
    if (ctx.aborting.load()) {
      if (abort_deadline == Clock::time_point{}) {
        stream.cancel();
        abort_deadline = Clock::now() + std::chrono::seconds(2);
      } else if (Clock::now() > abort_deadline) {
        return Wait::kAborted;
      }
    }
  }
}

}  // namespace

void handle_completion(ServerContext& ctx, ApiKind kind, const httplib::Request& req,
                       httplib::Response& res) {
  const Clock::time_point t0 = Clock::now();
  const std::string id = new_id(ctx, kind);
  auto guard = std::make_shared<ActiveGuard>(ctx);
  std::shared_ptr<RequestStream> stream;
  try {
    if (ctx.draining.load())
      throw ApiError(503, "The server is shutting down.", "", "server_error", "unavailable");
    Prepared p = prepare(ctx, kind, req.body);
    const int32_t limit = ctx.config.max_queue + ctx.engine.config().max_running;
    if (ctx.engine.n_in_flight() >= limit) {
      res.set_header("Retry-After", "1");
      throw ApiError(
          429, "Too many requests in flight (" + std::to_string(limit) + "); retry after a second.",
          "", "rate_limit_exceeded", "rate_limit_exceeded");
    }
    CompletionRequest cr;
    cr.prompt = p.prompt;
    cr.sampling = p.req.sampling;
    if (!p.req.has_seed) cr.sampling.seed = std::random_device{}();
    cr.max_tokens = p.req.max_tokens;
    cr.ignore_eos = p.req.ignore_eos;
    cr.n = p.req.n;
    cr.stop = p.req.stop;
    cr.top_logprobs = p.req.top_logprobs;
    cr.constraint = p.constraint;
    try {
      stream = ctx.engine.submit(std::move(cr));
    } catch (const Error& e) {
      throw ApiError(
          400, e.what(),
          param_from_engine_message(e.what(), kind == ApiKind::kChat ? "messages" : "prompt"));
    }
    const ResponseMeta meta{id,
                            std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count(),
                            ctx.config.model_name};
    if (!p.req.stream) {
      ChoiceCollector col(ctx, p, meta, t0);
      RequestStream::Chunk chunk;
      Clock::time_point abort_deadline{}, next_watch{};
      const ConnectionWatch watch(req.remote_addr, req.remote_port);
      while (!col.done()) {
        const Wait w = wait_chunk(ctx, *stream, watch, chunk, abort_deadline, next_watch);
        if (w == Wait::kAborted)
          throw ApiError(503, "The server stopped before the request finished.", "", "server_error",
                         "unavailable");
        if (w == Wait::kClientGone) {
          stream->cancel();
          ctx.metrics.record_finish("abort");
          ctx.log_request(id, 499, col.usage(), col.ttft(), seconds_between(t0, Clock::now()),
                          "client closed the connection");
          return;
        }
        col.add(chunk, nullptr);
      }
      ctx.metrics.record_finish(col.finish_reason());
      res.set_content(dump_json(col.response()), "application/json");
      ctx.log_request(id, 200, col.usage(), col.ttft(), seconds_between(t0, Clock::now()),
                      col.finish_reason());
      return;
    }
    auto st = std::make_shared<StreamState>(
        StreamState{ctx, guard, stream, ChoiceCollector(ctx, p, meta, t0),
                    ConnectionWatch(req.remote_addr, req.remote_port), id, t0});
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [st](size_t, httplib::DataSink& sink) {
          try {
            std::string events;
            if (!st->opened) {
              st->opened = true;
              events = st->collector.opening_events();
            } else {
              RequestStream::Chunk chunk;
              if (!st->stream->next(chunk, kPoll)) {
                if (st->ctx.aborting.load()) {
                  if (st->abort_deadline == Clock::time_point{}) {
                    st->stream->cancel();
                    st->abort_deadline = Clock::now() + std::chrono::seconds(2);
                  } else if (Clock::now() > st->abort_deadline) {
                    st->abandon(503, "engine stopped");
                    return false;
                  }
                }
                // Nothing new: a closed connection shows up as a write error at the next
                // token, but a queued request writes nothing for a while, so ask the socket.
                if (st->watch.closed() || (sink.is_writable && !sink.is_writable())) {
                  st->abandon(499, "client closed the connection");
                  return false;
                }
                return true;
              }
              st->collector.add(chunk, &events);
            }
            if (!events.empty() && !sink.write(events.data(), events.size())) {
              st->abandon(499, "client closed the connection");
              return false;
            }
            if (st->collector.done()) {
              st->ctx.metrics.record_finish(st->collector.finish_reason());
              st->log(200, st->collector.finish_reason());
              sink.done();
            }
            return true;
          } catch (const std::exception& e) {
            // Headers are out: report in-band as OpenAI does, then end the stream.
            st->stream->cancel();
            const std::string ev = sse_event(ApiError(500, e.what(), "", "server_error").body()) +
                                   std::string(sse_done());
            sink.write(ev.data(), ev.size());
            st->log(500, e.what());
            sink.done();
            return true;
          }
        },
        [st](bool success) {
          if (!st->collector.done()) st->abandon(success ? 200 : 499, "stream ended early");
        });
  } catch (const ApiError& e) {
    if (stream) stream->cancel();
    set_error(res, e);
    ctx.log_request(id, e.status(), {}, 0.0, seconds_between(t0, Clock::now()), e.what());
  } catch (const Error& e) {
    if (stream) stream->cancel();
    set_error(res, ApiError(400, e.what()));
    ctx.log_request(id, 400, {}, 0.0, seconds_between(t0, Clock::now()), e.what());
  } catch (const std::exception& e) {
    if (stream) stream->cancel();
    set_error(res, ApiError(500, std::string("internal error: ") + e.what(), "", "server_error"));
    ctx.log_request(id, 500, {}, 0.0, seconds_between(t0, Clock::now()), e.what());
  }
}

}  // namespace latent::server
