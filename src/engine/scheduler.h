// Scheduler: continuous batching. Each step it builds one batch from all running sequences —
// one decode token per running sequence first, then chunks of pending prefills — under a token
// budget, admits waiting sequences (FCFS) while the budget, --parallel and the block pool allow,
// and preempts the most recently admitted running sequence when blocks run out (its blocks are
// freed and it is recomputed later from its tokens; never dropped). Its decision is the plain
// ScheduleStep below, which the engine core executes and tests inspect.
//
// Progress: the oldest running sequence is never a victim, so it always advances; this needs every
// sequence to fit the pool on its own, which is why the engine rejects a request whose prompt +
// max_tokens needs more blocks than the pool has. A sequence that does not fit alone is a
// LATENT_CHECK failure here (it would otherwise preempt itself forever).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/kv_cache_manager.h"
#include "engine/sequence.h"

namespace latent {

struct SchedulerConfig {
  int32_t max_batch_tokens = 512;  // tokens per step (decode + prefill chunks)
  int32_t max_running = 16;        // sequences running at once (--parallel)
};

struct ScheduledSeq {
  SeqId seq = -1;
  int32_t start = 0;     // first token index (= position) run this step
  int32_t n_tokens = 0;  // tokens[start, start + n_tokens) are run
  // The step leaves the sequence fully computed: its last row's logits are sampled.
  bool sample = false;
  bool operator==(const ScheduledSeq&) const = default;
};

struct ScheduleStep {
  std::vector<ScheduledSeq> seqs;  // decodes (in running order), then prefill chunks
  std::vector<SeqId> admitted;     // moved from waiting to running this step
  std::vector<SeqId> preempted;    // moved from running back to waiting, blocks freed
  std::vector<BlockCopy> copies;   // run on the KV memory, in order, before the forward
  int32_t n_tokens = 0;            // Σ seqs[i].n_tokens
  bool empty() const { return seqs.empty(); }
};

class Scheduler {
 public:
  // The caller owns the Sequences and keeps them alive until finish().
  Scheduler(const SchedulerConfig& config, KvCacheManager& kv);

  // Queues a new sequence (status kWaiting, empty table) behind the waiting ones.
  void add(Sequence* seq);
  // Adds an n > 1 sibling that kv.fork() made from a running parent: it runs from the next step.
  void add_running(Sequence* seq);
  // Removes a finished or cancelled sequence from whichever queue holds it and frees its blocks.
  void finish(SeqId id);

  ScheduleStep schedule();
  // After the forward pass of `step`: n_computed += n_tokens for every scheduled sequence and
  // their newly full blocks are indexed in the prefix cache.
  void on_step_done(const ScheduleStep& step);

  int32_t n_running() const { return static_cast<int32_t>(running_.size()); }
  int32_t n_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  const std::vector<Sequence*>& running() const { return running_; }

 private:
  // Preempts running_.back(): frees its blocks, drops what `step` planned for it (returning its
  // tokens to budget) and puts it at the front of waiting.
  void preempt_last(ScheduleStep& step, int32_t& budget);
  // Allocates n slots for a running sequence, preempting from the back of running_ until it
  // fits; false when the sequence had to preempt itself.
  bool schedule_running(Sequence& seq, int32_t n, ScheduleStep& step, int32_t& budget);

  SchedulerConfig config_;
  KvCacheManager& kv_;
  std::vector<Sequence*> running_;  // admission order
  std::deque<Sequence*> waiting_;
};

}  // namespace latent
