// EngineCore: scheduler step → block copies → one batched forward → sampling and stop rules.
#include "engine/engine_core.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/check.h"
#include "base/error.h"
#include "engine/stop_strings.h"

namespace latent {

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
    case FinishReason::kContextFull:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

constexpr int32_t kMaxSamples = 16;
constexpr int32_t kMaxTopLogprobs = 20;

// log_softmax(logits)[token] and the k most likely tokens, from the model's raw logits (what
// OpenAI and vLLM report, independent of the sampling filters).
void fill_logprobs(std::span<const float> logits, TokenId chosen, int32_t k,
                   std::vector<TokenLogprob>& top, TokenLogprob& chosen_out) {
  float max_logit = -INFINITY;
  for (float v : logits) max_logit = std::max(max_logit, v);
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_logit);
  const float log_z = max_logit + static_cast<float>(std::log(sum));
  chosen_out = {chosen, logits[chosen] - log_z};
  top.clear();
  if (k <= 0) return;
  std::vector<TokenId> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<TokenId>(i);
  const size_t kk = std::min(static_cast<size_t>(k), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + kk, ids.end(), [&](TokenId a, TokenId b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  for (size_t i = 0; i < kk; ++i) top.push_back({ids[i], logits[ids[i]] - log_z});
}

}  // namespace

// One sample of a request: the scheduler's Sequence plus what only the engine knows about it.
struct SampleState {
  SampleState(const Tokenizer& tok, const SamplerParams& params, int32_t n_vocab)
      : sampler(params, n_vocab), detok(tok) {}
  Sequence seq;
  RequestId request = -1;
  int32_t index = 0;
  Sampler sampler;
  StreamingDetokenizer detok;
  StopStringMatcher stops;
  std::unique_ptr<TokenConstraint> constraint;
  int32_t n_generated = 0;
  bool finished = false;
};

struct RequestState {
  CompletionRequest request;
  OutputCallback on_output;
  std::vector<SeqId> samples;  // index i → sequence id (filled in when forked)
  int32_t n_finished = 0;
  bool forked = false;
  bool admitted_once = false;
  RequestUsage usage;
  std::vector<SampleOutput> pending;  // this step's outputs, flushed after sampling
};

struct EngineCore::Impl {
  Impl(Model& m, const Tokenizer& t, const EngineConfig& c)
      : model(m),
        tok(t),
        cache(m.config(), c.n_blocks, c.block_size),
        kv(c.n_blocks, c.block_size, c.prefix_caching),
        sched(SchedulerConfig{c.max_batch_tokens, c.max_running}, kv) {}

  Model& model;
  const Tokenizer& tok;
  PagedKvCache cache;
  KvCacheManager kv;
  Scheduler sched;
  std::map<SeqId, std::unique_ptr<SampleState>> samples;
  std::map<RequestId, RequestState> requests;
  RequestId next_request = 0;
  SeqId next_seq = 0;
  EngineCounters totals;
  std::vector<float> logits, row;
  std::vector<TokenId> batch_tokens;
  std::vector<Pos> batch_pos;
  std::vector<int32_t> batch_seq, logit_rows;
  std::vector<std::span<const int32_t>> tables;

  SampleState& new_sample(RequestId rid, RequestState& r, int32_t index) {
    SamplerParams sp = r.request.sampling;
    sp.seed += static_cast<uint64_t>(index);
    auto s = std::make_unique<SampleState>(tok, sp, model.config().n_vocab);
    s->seq.id = next_seq++;
    s->request = rid;
    s->index = index;
    s->stops = StopStringMatcher(r.request.stop);
    if (r.request.constraint) s->constraint = r.request.constraint->clone();
    SampleState& ref = *s;
    samples.emplace(ref.seq.id, std::move(s));
    return ref;
  }

  void finish_sample(SampleState& s, FinishReason reason, SampleOutput& out) {
    out.text += s.stops.flush(reason == FinishReason::kStop && s.stops.matched(), s.detok);
    out.finish = reason;
    s.finished = true;
    sched.finish(s.seq.id);
    RequestState& r = requests.at(s.request);
    ++r.n_finished;
  }

  SampleOutput& output_for(RequestState& r, int32_t index) {
    for (auto& o : r.pending)
      if (o.index == index) return o;
    r.pending.push_back(SampleOutput{});
    r.pending.back().index = index;
    return r.pending.back();
  }

  // Samples the next token of s from its logits row and applies the stop rules.
  void sample_one(SampleState& s, std::span<const float> model_logits) {
    RequestState& r = requests.at(s.request);
    SampleOutput& out = output_for(r, s.index);
    row.assign(model_logits.begin(), model_logits.end());
    if (s.constraint) s.constraint->apply(row);
    const TokenId t = s.sampler.sample(row, s.seq.tokens);
    const CompletionRequest& req = r.request;
    if (req.top_logprobs >= 0) {
      out.chosen.emplace_back();
      out.top.emplace_back();
      fill_logprobs(model_logits, t, req.top_logprobs, out.top.back(), out.chosen.back());
    }
    if (tok.is_eog(t) && !req.ignore_eos) {
      if (req.top_logprobs >= 0) {  // the end token is not part of the output
        out.chosen.pop_back();
        out.top.pop_back();
      }
      finish_sample(s, FinishReason::kStop, out);
      return;
    }
    s.seq.tokens.push_back(t);
    ++s.n_generated;
    ++r.usage.completion_tokens;
    ++totals.generation_tokens_total;
    out.tokens.push_back(t);
    if (s.constraint) s.constraint->accept(t);
    out.text += s.stops.push(s.detok.push(t));
    if (s.stops.matched()) return finish_sample(s, FinishReason::kStop, out);
    if (s.constraint && s.constraint->is_complete())
      return finish_sample(s, FinishReason::kStop, out);
    if (req.max_tokens >= 0 && s.n_generated >= req.max_tokens)
      return finish_sample(s, FinishReason::kLength, out);
    // The last sampled token never needs a forward, so a sequence may hold n_ctx + 1 tokens.
    if (static_cast<int32_t>(s.seq.tokens.size()) > n_ctx)
      return finish_sample(s, FinishReason::kContextFull, out);
  }

  // n > 1: once the prompt is computed, the other samples start from the same blocks and logits.
  void fork_siblings(SampleState& parent, RequestState& r) {
    r.forked = true;
    for (int32_t i = 1; i < r.request.n; ++i) {
      SampleState& child = new_sample(parent.request, r, i);
      kv.fork(parent.seq, child.seq);
      child.seq.status = SeqStatus::kRunning;
      child.seq.n_prefix_hit = parent.seq.n_prefix_hit;
      for (TokenId id : child.seq.tokens) child.detok.push(id);
      sched.add_running(&child.seq);
      r.samples.push_back(child.seq.id);
    }
  }

  void deliver() {
    for (auto it = requests.begin(); it != requests.end();) {
      RequestState& r = it->second;
      const bool done = r.n_finished == static_cast<int32_t>(r.samples.size()) && r.forked;
      if (!r.pending.empty() || done) {
        std::sort(r.pending.begin(), r.pending.end(),
                  [](const SampleOutput& a, const SampleOutput& b) { return a.index < b.index; });
        if (r.on_output) r.on_output(r.pending, done, r.usage);
        r.pending.clear();
      }
      if (done) {
        for (SeqId id : r.samples) samples.erase(id);
        it = requests.erase(it);
      } else {
        ++it;
      }
    }
  }

  int32_t n_ctx = 0;  // the resolved EngineConfig::n_ctx
};

namespace {

EngineConfig resolve(const ModelConfig& mc, EngineConfig c) {
  if (c.n_ctx <= 0) c.n_ctx = std::min(mc.n_ctx_train > 0 ? mc.n_ctx_train : 4096, 4096);
  if (c.block_size <= 0)
    throw Error("engine: block_size: expected a positive number of tokens, found " +
                std::to_string(c.block_size));
  if (c.max_running <= 0)
    throw Error("engine: max_running: expected at least 1, found " + std::to_string(c.max_running));
  if (c.max_batch_tokens <= 0)
    throw Error("engine: max_batch_tokens: expected at least 1, found " +
                std::to_string(c.max_batch_tokens));
  const int32_t per_seq = (c.n_ctx + c.block_size - 1) / c.block_size;
  if (c.n_blocks <= 0) c.n_blocks = per_seq * c.max_running;
  if (c.n_blocks < per_seq)
    throw Error("engine: kv blocks: expected at least " + std::to_string(per_seq) +
                " blocks (one sequence of n_ctx " + std::to_string(c.n_ctx) + " tokens), found " +
                std::to_string(c.n_blocks));
  return c;
}

}  // namespace

EngineCore::EngineCore(Model& model, const Tokenizer& tokenizer, const EngineConfig& config)
    : config_(resolve(model.config(), config)),
      impl_(std::make_unique<Impl>(model, tokenizer, config_)) {
  impl_->n_ctx = config_.n_ctx;
  impl_->totals.n_blocks = config_.n_blocks;
  impl_->totals.block_size = config_.block_size;
}

EngineCore::~EngineCore() = default;

void EngineCore::validate(const CompletionRequest& request) const {
  const int32_t n_vocab = impl_->model.config().n_vocab;
  const auto n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) throw Error("prompt: expected at least one token, found none");
  for (TokenId t : request.prompt)
    if (t < 0 || t >= n_vocab)
      throw Error("prompt: expected token ids in [0, " + std::to_string(n_vocab) + "), found " +
                  std::to_string(t));
  if (n_prompt >= config_.n_ctx)
    throw Error("prompt: expected fewer tokens than the context size " +
                std::to_string(config_.n_ctx) + ", found " + std::to_string(n_prompt) + " tokens");
  if (request.n < 1 || request.n > kMaxSamples)
    throw Error("n: expected 1.." + std::to_string(kMaxSamples) + ", found " +
                std::to_string(request.n));
  if (request.top_logprobs > kMaxTopLogprobs)
    throw Error("top_logprobs: expected at most " + std::to_string(kMaxTopLogprobs) + ", found " +
                std::to_string(request.top_logprobs));
  validate_sampler_params(request.sampling, n_vocab);
}

RequestId EngineCore::add(CompletionRequest request, OutputCallback on_output) {
  Impl& m = *impl_;
  validate(request);
  const auto n_prompt = static_cast<int64_t>(request.prompt.size());
  const RequestId rid = m.next_request++;
  RequestState& r = m.requests[rid];
  r.request = std::move(request);
  r.on_output = std::move(on_output);
  r.usage.prompt_tokens = static_cast<int32_t>(n_prompt);
  r.forked = r.request.n == 1;
  SampleState& s = m.new_sample(rid, r, 0);
  s.seq.tokens = r.request.prompt;
  s.seq.n_prompt = static_cast<int32_t>(n_prompt);
  for (TokenId id : s.seq.tokens) s.detok.push(id);
  r.samples.push_back(s.seq.id);
  m.sched.add(&s.seq);
  return rid;
}

void EngineCore::cancel(RequestId id) {
  Impl& m = *impl_;
  auto it = m.requests.find(id);
  if (it == m.requests.end()) return;
  RequestState& r = it->second;
  for (SeqId sid : r.samples) {
    SampleState& s = *m.samples.at(sid);
    if (s.finished) continue;
    SampleOutput& out = m.output_for(r, s.index);
    m.finish_sample(s, FinishReason::kCancelled, out);
  }
  // Samples of an n > 1 request that were never forked count as cancelled too.
  r.forked = true;
  r.n_finished = static_cast<int32_t>(r.samples.size());
  m.deliver();
}

bool EngineCore::has_work() const {
  return !impl_->requests.empty();
}

ScheduleStep EngineCore::step() {
  Impl& m = *impl_;
  ScheduleStep step = m.sched.schedule();
  for (SeqId id : step.admitted) {
    SampleState& s = *m.samples.at(id);
    RequestState& r = m.requests.at(s.request);
    if (!r.admitted_once) {
      r.admitted_once = true;
      r.usage.cached_prompt_tokens = s.seq.n_prefix_hit;
    }
  }
  m.totals.preemptions_total += static_cast<int64_t>(step.preempted.size());
  if (step.empty()) return step;
  for (const BlockCopy& c : step.copies) m.cache.copy_block(c.src, c.dst);

  // The batch: every scheduled sequence's tokens, one logits row per sampling sequence.
  m.batch_tokens.clear();
  m.batch_pos.clear();
  m.batch_seq.clear();
  m.logit_rows.clear();
  m.tables.clear();
  for (const ScheduledSeq& ss : step.seqs) {
    const Sequence& seq = m.samples.at(ss.seq)->seq;
    const auto idx = static_cast<int32_t>(m.tables.size());
    m.tables.emplace_back(seq.block_table);
    for (int32_t i = 0; i < ss.n_tokens; ++i) {
      m.batch_tokens.push_back(seq.tokens[ss.start + i]);
      m.batch_pos.push_back(ss.start + i);
      m.batch_seq.push_back(idx);
    }
    if (ss.sample) m.logit_rows.push_back(static_cast<int32_t>(m.batch_tokens.size()) - 1);
    if (seq.n_computed < seq.n_prompt) m.totals.prompt_tokens_total += ss.n_tokens;
  }
  const int64_t n_vocab = m.model.config().n_vocab;
  m.logits.resize(m.logit_rows.size() * static_cast<size_t>(n_vocab));
  const ForwardBatch batch{m.batch_tokens, m.batch_pos, m.batch_seq, m.tables, m.logit_rows};
  m.model.forward(batch, m.cache, m.logits.data());
  m.sched.on_step_done(step);

  size_t row = 0;
  for (const ScheduledSeq& ss : step.seqs) {
    if (!ss.sample) continue;
    const std::span<const float> logits(m.logits.data() + row * n_vocab,
                                        static_cast<size_t>(n_vocab));
    ++row;
    SampleState& s = *m.samples.at(ss.seq);
    if (s.finished) continue;
    RequestState& r = m.requests.at(s.request);
    if (!r.forked) {
      m.fork_siblings(s, r);
      for (size_t i = 1; i < r.samples.size(); ++i)
        m.sample_one(*m.samples.at(r.samples[i]), logits);
    }
    m.sample_one(s, logits);
  }
  m.deliver();
  return step;
}

EngineCounters EngineCore::counters() const {
  EngineCounters c = impl_->totals;
  c.n_running = impl_->sched.n_running();
  c.n_waiting = impl_->sched.n_waiting();
  c.n_blocks_used = impl_->kv.pool().n_used();
  return c;
}

const KvCacheManager& EngineCore::kv() const {
  return impl_->kv;
}

const PagedKvCache& EngineCore::kv_memory() const {
  return impl_->cache;
}

}  // namespace latent
