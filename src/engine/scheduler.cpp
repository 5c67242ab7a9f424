#include "engine/scheduler.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "base/check.h"

namespace latent {

namespace {

// A running sequence with exactly the token sampled last step left to run: it costs one token of
// budget and is served before prefill chunks, so ongoing generations never stall behind prompts.
bool is_decode(const Sequence& seq) {
  return seq.n_pending() == 1 && seq.n_computed >= seq.n_prompt;
}

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheManager& kv) : config_(config), kv_(kv) {
  LATENT_CHECK_MSG(config.max_batch_tokens > 0, "max_batch_tokens must be positive");
  LATENT_CHECK_MSG(config.max_running > 0, "max_running must be positive");
}

void Scheduler::add(Sequence* seq) {
  LATENT_CHECK(seq != nullptr);
  LATENT_CHECK_MSG(!seq->tokens.empty(), "a sequence needs at least one token");
  LATENT_CHECK_MSG(seq->block_table.empty(), "a new sequence must not hold blocks");
  seq->status = SeqStatus::kWaiting;
  waiting_.push_back(seq);
}

void Scheduler::add_running(Sequence* seq) {
  LATENT_CHECK(seq != nullptr);
  // A fork may take the running count past max_running: the siblings of one request share their
  // prompt's blocks and are admitted together rather than queued behind other requests.
  seq->status = SeqStatus::kRunning;
  running_.push_back(seq);
}

void Scheduler::finish(SeqId id) {
  Sequence* seq = nullptr;
  if (auto it = std::ranges::find(running_, id, &Sequence::id); it != running_.end()) {
    seq = *it;
    running_.erase(it);
  } else if (auto wit = std::ranges::find(waiting_, id, &Sequence::id); wit != waiting_.end()) {
    seq = *wit;
    waiting_.erase(wit);
  }
  LATENT_CHECK_MSG(seq != nullptr, "finish of unknown sequence " + std::to_string(id));
  kv_.free(*seq);
  seq->status = SeqStatus::kFinished;
}

void Scheduler::preempt_last(ScheduleStep& step, int32_t& budget) {
  Sequence* victim = running_.back();
  running_.pop_back();
  // Undo whatever this step already planned for the victim: its tokens go back to the budget and
  // the copies into its private blocks are dropped (those blocks are freed below and may be handed
  // to another sequence in this same step).
  std::erase_if(step.seqs, [&](const ScheduledSeq& s) {
    if (s.seq != victim->id) return false;
    budget += s.n_tokens;
    return true;
  });
  std::erase_if(step.copies, [&](const BlockCopy& c) {
    return std::ranges::find(victim->block_table, c.dst) != victim->block_table.end();
  });
  kv_.free(*victim);  // recomputed from its tokens when readmitted (prefix hits may shorten that)
  victim->status = SeqStatus::kWaiting;
  ++victim->n_preemptions;
  // Front of the queue: it was admitted before everything still waiting. Several victims in one
  // step are pushed last-admitted first, so they end up in their admission order.
  waiting_.push_front(victim);
  step.preempted.push_back(victim->id);
}

bool Scheduler::schedule_running(Sequence& seq, int32_t n, ScheduleStep& step, int32_t& budget) {
  while (!kv_.allocate_slots(seq, n, step.copies)) {
    // Blocks ran out: the most recently admitted sequence gives its blocks back (it has the least
    // work invested and the oldest sequences keep making progress), then try again.
    const bool self = running_.back() == &seq;
    LATENT_CHECK_MSG(!self || running_.size() > 1,
                     "sequence " + std::to_string(seq.id) +
                         " alone does not fit the KV block pool (the engine must reject requests "
                         "needing more blocks than the pool has)");
    preempt_last(step, budget);
    if (self) return false;
  }
  step.seqs.push_back({seq.id, seq.n_computed, n, seq.n_computed + n == std::ssize(seq.tokens)});
  budget -= n;
  return true;
}

ScheduleStep Scheduler::schedule() {
  ScheduleStep step;
  int32_t budget = config_.max_batch_tokens;

  // (1) Running sequences, by index because preemption shrinks running_ from the back (the victim
  // is always at or after the current index, so the walk stays valid).
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& seq = *running_[i];
    if (is_decode(seq)) schedule_running(seq, 1, step, budget);
  }
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& seq = *running_[i];
    if (seq.n_pending() <= 0 || is_decode(seq)) continue;
    schedule_running(seq, std::min(seq.n_pending(), budget), step, budget);
  }

  // (2) Admission, FCFS. Not in a step that preempted: blocks are short, and readmitting the
  // victim at once would only thrash.
  while (step.preempted.empty() && !waiting_.empty() && n_running() < config_.max_running &&
         budget > 0) {
    Sequence& seq = *waiting_.front();
    const bool attach = seq.block_table.empty();
    if (attach) kv_.attach_cached_prefix(seq);
    LATENT_CHECK_MSG(seq.n_pending() > 0, "waiting sequence with nothing to compute");
    const int32_t n = std::min(seq.n_pending(), budget);
    if (!kv_.allocate_slots(seq, n, step.copies)) {
      // With nothing running every block is free, so this sequence can never fit.
      LATENT_CHECK_MSG(!running_.empty(),
                       "sequence " + std::to_string(seq.id) +
                           " alone does not fit the KV block pool (the engine must reject "
                           "requests needing more blocks than the pool has)");
      if (attach) kv_.free(seq);  // give the prefix hits back; they are looked up again next time
      break;                      // head of line: later arrivals do not overtake it
    }
    waiting_.pop_front();
    seq.status = SeqStatus::kRunning;
    running_.push_back(&seq);
    step.admitted.push_back(seq.id);
    step.seqs.push_back({seq.id, seq.n_computed, n, seq.n_computed + n == std::ssize(seq.tokens)});
    budget -= n;
  }

  for (const ScheduledSeq& s : step.seqs) step.n_tokens += s.n_tokens;
  return step;
}

void Scheduler::on_step_done(const ScheduleStep& step) {
  for (const ScheduledSeq& s : step.seqs) {
    const auto it = std::ranges::find(running_, s.seq, &Sequence::id);
    if (it == running_.end()) continue;  // finished (e.g. cancelled) since the step was planned
    Sequence& seq = **it;
    LATENT_CHECK_MSG(seq.n_computed == s.start, "step result does not continue the sequence");
    seq.n_computed += s.n_tokens;
    LATENT_CHECK(seq.n_computed <= std::ssize(seq.tokens));
    kv_.cache_full_blocks(seq);
  }
}

}  // namespace latent
