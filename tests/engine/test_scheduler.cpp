// Scheduler: the exact ScheduleStep of chunked prefill, decode-first batching, admission limits
// (max_running, token budget, blocks), preemption and recomputation, copy-on-write of forked
// samples, and a long randomized run with a fake sampler in which every sequence must finish.
// Block size 4 throughout; every test checks the block accounting after every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <numeric>
#include <random>
#include <vector>

#include "base/check.h"
#include "engine/scheduler.h"

namespace latent {
namespace {

using Ids = std::vector<int32_t>;
using Toks = std::vector<TokenId>;
using Seqs = std::vector<ScheduledSeq>;
using SeqIds = std::vector<SeqId>;

Toks iota_tokens(int n, TokenId first = 1) {
  Toks t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Owns the sequences (stable addresses), the KV manager and the scheduler, and plays the engine.
struct Harness {
  Harness(int32_t n_blocks, int32_t max_batch_tokens, int32_t max_running, bool prefix = true)
      : kv(n_blocks, 4, prefix), sched({max_batch_tokens, max_running}, kv) {}

  Sequence& add(Toks prompt) {
    Sequence& s = seqs.emplace_back();
    s.id = static_cast<SeqId>(seqs.size()) - 1;
    s.n_prompt = static_cast<int32_t>(prompt.size());
    s.tokens = std::move(prompt);
    sched.add(&s);
    return s;
  }
  Sequence& fork(const Sequence& parent) {
    Sequence& c = seqs.emplace_back();
    c.id = static_cast<SeqId>(seqs.size()) - 1;
    kv.fork(parent, c);
    sched.add_running(&c);
    return c;
  }
  // The forward ran; every sampled sequence appends a token (100 + its id: siblings diverge).
  void done(const ScheduleStep& step) {
    sched.on_step_done(step);
    for (const ScheduledSeq& s : step.seqs) {
      if (s.sample) seqs[s.seq].tokens.push_back(100 + s.seq);
    }
  }
  void finish(SeqId id) { sched.finish(id); }

  // free + used = total; every block's reference count = the live table entries naming it (so
  // Σ refs = Σ table sizes); the free queue holds exactly the unreferenced blocks; waiting
  // sequences hold no blocks; running ones cover their computed tokens.
  ::testing::AssertionResult invariants() const {
    const KvBlockPool& pool = kv.pool();
    if (pool.n_free() + pool.n_used() != pool.n_total())
      return ::testing::AssertionFailure() << "free + used != total";
    std::vector<int32_t> uses(pool.n_total(), 0);
    int64_t n_entries = 0;
    for (const Sequence& s : seqs) {
      if (s.status == SeqStatus::kWaiting && !s.block_table.empty())
        return ::testing::AssertionFailure() << "waiting sequence " << s.id << " holds blocks";
      if (s.status == SeqStatus::kRunning && kv.blocks_for(s.n_computed) > ssize(s.block_table))
        return ::testing::AssertionFailure() << "sequence " << s.id << " table too short";
      for (int32_t b : s.block_table) {
        ++uses[b];
        ++n_entries;
      }
    }
    int64_t sum_refs = 0;
    int32_t n_unreferenced = 0;
    for (int32_t b = 0; b < pool.n_total(); ++b) {
      sum_refs += pool.ref_count(b);
      n_unreferenced += pool.ref_count(b) == 0;
      if (pool.ref_count(b) != uses[b])
        return ::testing::AssertionFailure() << "block " << b << " has ref " << pool.ref_count(b)
                                             << " but " << uses[b] << " uses";
    }
    if (sum_refs != n_entries)
      return ::testing::AssertionFailure() << "sum of refs " << sum_refs << " != " << n_entries;
    if (n_unreferenced != pool.n_free() || ssize(pool.free_queue()) != n_unreferenced)
      return ::testing::AssertionFailure() << "free queue does not hold the unreferenced blocks";
    return ::testing::AssertionSuccess();
  }

  KvCacheManager kv;
  Scheduler sched;
  std::deque<Sequence> seqs;
};

TEST(Scheduler, EmptyWhenNothingIsQueued) {
  Harness h(4, 8, 2);
  const ScheduleStep step = h.sched.schedule();
  EXPECT_TRUE(step.empty());
  EXPECT_EQ(step.n_tokens, 0);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, ChunksALongPromptOverTheBudget) {
  Harness h(8, 4, 4);
  Sequence& a = h.add(iota_tokens(10));
  EXPECT_EQ(a.status, SeqStatus::kWaiting);
  EXPECT_EQ(h.sched.n_waiting(), 1);

  ScheduleStep s1 = h.sched.schedule();
  EXPECT_EQ(s1.seqs, (Seqs{{0, 0, 4, false}}));
  EXPECT_EQ(s1.admitted, (SeqIds{0}));
  EXPECT_TRUE(s1.preempted.empty());
  EXPECT_TRUE(s1.copies.empty());
  EXPECT_EQ(s1.n_tokens, 4);
  EXPECT_EQ(a.status, SeqStatus::kRunning);
  EXPECT_EQ(a.block_table, (Ids{0}));
  EXPECT_EQ(h.sched.n_running(), 1);
  EXPECT_EQ(h.sched.n_waiting(), 0);
  EXPECT_TRUE(h.invariants());
  h.done(s1);
  EXPECT_EQ(a.n_computed, 4);
  EXPECT_EQ(h.kv.pool().n_cached(), 1);

  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{0, 4, 4, false}}));
  EXPECT_TRUE(s2.admitted.empty());
  EXPECT_EQ(a.block_table, (Ids{0, 1}));
  h.done(s2);

  ScheduleStep s3 = h.sched.schedule();
  EXPECT_EQ(s3.seqs, (Seqs{{0, 8, 2, true}}));
  EXPECT_EQ(s3.n_tokens, 2);
  EXPECT_EQ(a.block_table, (Ids{0, 1, 2}));
  h.done(s3);
  EXPECT_EQ(a.tokens.size(), 11u);
  EXPECT_EQ(a.n_computed, 10);

  ScheduleStep s4 = h.sched.schedule();
  EXPECT_EQ(s4.seqs, (Seqs{{0, 10, 1, true}}));
  EXPECT_TRUE(h.invariants());
  h.done(s4);
  h.finish(0);
  EXPECT_EQ(a.status, SeqStatus::kFinished);
  EXPECT_TRUE(a.block_table.empty());
  EXPECT_EQ(h.sched.n_running(), 0);
  EXPECT_EQ(h.kv.pool().free_queue(), (Ids{3, 4, 5, 6, 7, 2, 1, 0}));
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, DecodesShareTheBudgetWithAdmissions) {
  Harness h(16, 8, 4);
  h.add(iota_tokens(5));
  h.add(iota_tokens(5, 20));
  h.add(iota_tokens(5, 40));
  ScheduleStep s1 = h.sched.schedule();
  // 0 fits whole, 1 gets the 3 tokens left, 2 waits for budget.
  EXPECT_EQ(s1.seqs, (Seqs{{0, 0, 5, true}, {1, 0, 3, false}}));
  EXPECT_EQ(s1.admitted, (SeqIds{0, 1}));
  EXPECT_EQ(s1.n_tokens, 8);
  EXPECT_EQ(h.sched.n_waiting(), 1);
  EXPECT_TRUE(h.invariants());
  h.done(s1);

  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{0, 5, 1, true}, {1, 3, 2, true}, {2, 0, 5, true}}));
  EXPECT_EQ(s2.admitted, (SeqIds{2}));
  EXPECT_EQ(s2.n_tokens, 8);
  EXPECT_TRUE(h.invariants());
  h.done(s2);

  ScheduleStep s3 = h.sched.schedule();
  EXPECT_EQ(s3.seqs, (Seqs{{0, 6, 1, true}, {1, 5, 1, true}, {2, 5, 1, true}}));
  EXPECT_EQ(s3.n_tokens, 3);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, DecodesGoBeforeEarlierAdmittedPrefills) {
  Harness h(16, 6, 4);
  Sequence& a = h.add(iota_tokens(2));
  Sequence& b = h.add(iota_tokens(2, 20));
  h.done(h.sched.schedule());
  // Tokens the engine appends without sampling them (e.g. grammar-forced ones) make a running
  // sequence prefill again, ahead of b in admission order.
  a.tokens.insert(a.tokens.end(), {7, 8, 9, 10, 11, 12});
  EXPECT_EQ(a.n_pending(), 7);
  EXPECT_EQ(b.n_pending(), 1);

  ScheduleStep s = h.sched.schedule();
  EXPECT_EQ(s.seqs, (Seqs{{1, 2, 1, true}, {0, 2, 5, false}}));
  EXPECT_EQ(s.n_tokens, 6);
  EXPECT_TRUE(h.invariants());
  h.done(s);
  EXPECT_EQ(h.sched.schedule().seqs, (Seqs{{1, 3, 1, true}, {0, 7, 2, true}}));
}

TEST(Scheduler, AdmissionIsLimitedByMaxRunning) {
  Harness h(16, 100, 2);
  h.add(iota_tokens(3));
  h.add(iota_tokens(3, 10));
  h.add(iota_tokens(3, 20));
  ScheduleStep s1 = h.sched.schedule();
  EXPECT_EQ(s1.seqs, (Seqs{{0, 0, 3, true}, {1, 0, 3, true}}));
  EXPECT_EQ(s1.admitted, (SeqIds{0, 1}));
  EXPECT_EQ(h.sched.n_running(), 2);
  EXPECT_EQ(h.sched.n_waiting(), 1);
  EXPECT_EQ(h.seqs[2].status, SeqStatus::kWaiting);
  h.done(s1);

  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{0, 3, 1, true}, {1, 3, 1, true}}));
  EXPECT_TRUE(s2.admitted.empty());
  h.done(s2);
  h.finish(0);
  EXPECT_TRUE(h.invariants());

  ScheduleStep s3 = h.sched.schedule();
  EXPECT_EQ(s3.seqs, (Seqs{{1, 4, 1, true}, {2, 0, 3, true}}));
  EXPECT_EQ(s3.admitted, (SeqIds{2}));
  EXPECT_EQ(h.sched.running(), (std::vector<Sequence*>{&h.seqs[1], &h.seqs[2]}));
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, AdmissionIsLimitedByBlocksHeadOfLine) {
  Harness h(4, 100, 8);
  h.add(iota_tokens(9));      // 3 blocks
  h.add(iota_tokens(6, 20));  // 2 blocks: does not fit
  h.add(iota_tokens(3, 40));  // 1 block: would fit, but does not overtake 1
  ScheduleStep s1 = h.sched.schedule();
  EXPECT_EQ(s1.seqs, (Seqs{{0, 0, 9, true}}));
  EXPECT_EQ(s1.admitted, (SeqIds{0}));
  EXPECT_EQ(h.sched.n_waiting(), 2);
  EXPECT_TRUE(h.seqs[1].block_table.empty());
  EXPECT_EQ(h.kv.pool().free_queue(), (Ids{3}));
  EXPECT_TRUE(h.invariants());
  h.done(s1);
  h.finish(0);  // frees 2, 1, 0

  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{1, 0, 6, true}, {2, 0, 3, true}}));
  EXPECT_EQ(s2.admitted, (SeqIds{1, 2}));
  EXPECT_EQ(h.seqs[1].block_table, (Ids{3, 2}));
  EXPECT_EQ(h.seqs[2].block_table, (Ids{1}));
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, AFailedAdmissionGivesItsPrefixHitsBack) {
  Harness h(4, 100, 8);
  Sequence& a = h.add(iota_tokens(9));
  h.done(h.sched.schedule());  // blocks 0, 1 cached, block 3 free
  // Shares a's two full blocks, then needs 2 more for tokens 8..12: only 1 is free.
  Sequence& b = h.add(iota_tokens(13));
  ScheduleStep s = h.sched.schedule();
  EXPECT_EQ(s.seqs, (Seqs{{0, 9, 1, true}}));
  EXPECT_TRUE(s.admitted.empty());
  EXPECT_TRUE(b.block_table.empty());
  EXPECT_EQ(b.n_computed, 0);
  EXPECT_EQ(b.status, SeqStatus::kWaiting);
  EXPECT_EQ(h.kv.pool().ref_count(0), 1);
  EXPECT_EQ(h.kv.pool().ref_count(1), 1);
  EXPECT_EQ(h.kv.pool().free_queue(), (Ids{3}));
  EXPECT_TRUE(h.invariants());
  h.done(s);
  h.finish(0);  // queue: 3, 2, 1, 0

  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{1, 8, 5, true}}));
  EXPECT_EQ(b.n_prefix_hit, 8);
  EXPECT_EQ(b.block_table, (Ids{0, 1, 3, 2}));
  EXPECT_EQ(a.status, SeqStatus::kFinished);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, AdmissionUsesThePrefixCache) {
  Harness h(16, 100, 8);
  h.add(iota_tokens(10));
  h.done(h.sched.schedule());
  Sequence& b = h.add(iota_tokens(12));
  ScheduleStep s = h.sched.schedule();
  EXPECT_EQ(s.seqs, (Seqs{{0, 10, 1, true}, {1, 8, 4, true}}));
  EXPECT_EQ(b.n_prefix_hit, 8);
  EXPECT_EQ(b.block_table, (Ids{0, 1, 3}));
  EXPECT_EQ(h.kv.pool().ref_count(0), 2);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, PreemptsTheLastAdmittedWhenBlocksRunOut) {
  Harness h(5, 100, 8);
  Sequence& a = h.add(iota_tokens(4));      // block 0
  Sequence& b = h.add(iota_tokens(4, 20));  // block 1
  Sequence& c = h.add(iota_tokens(9, 40));  // blocks 2, 3, 4
  ScheduleStep s1 = h.sched.schedule();
  EXPECT_EQ(s1.admitted, (SeqIds{0, 1, 2}));
  EXPECT_EQ(h.kv.pool().n_free(), 0);
  h.done(s1);  // a, b: 5 tokens; c: 10. Cached: 0, 1, 2, 3.
  EXPECT_EQ(h.kv.pool().n_cached(), 4);

  // a's position 4 needs a block: c goes (freeing 4, 3, 2), a takes 4, b takes 3.
  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{0, 4, 1, true}, {1, 4, 1, true}}));
  EXPECT_EQ(s2.preempted, (SeqIds{2}));
  EXPECT_TRUE(s2.admitted.empty());  // no admission in a step that preempted
  EXPECT_EQ(s2.n_tokens, 2);
  EXPECT_EQ(a.block_table, (Ids{0, 4}));
  EXPECT_EQ(b.block_table, (Ids{1, 3}));
  EXPECT_EQ(c.status, SeqStatus::kWaiting);
  EXPECT_EQ(c.n_preemptions, 1);
  EXPECT_EQ(c.n_computed, 0);
  EXPECT_TRUE(c.block_table.empty());
  EXPECT_EQ(c.tokens.size(), 10u);  // kept for recomputation
  EXPECT_EQ(h.sched.n_running(), 2);
  EXPECT_EQ(h.sched.n_waiting(), 1);
  EXPECT_EQ(h.kv.pool().free_queue(), (Ids{2}));
  EXPECT_EQ(h.kv.pool().n_cached(), 3);  // c's second block was evicted, its first survives
  EXPECT_TRUE(h.invariants());
  h.done(s2);

  // c hits its own first block but needs 2 more: it stays at the head of the queue.
  ScheduleStep s3 = h.sched.schedule();
  EXPECT_EQ(s3.seqs, (Seqs{{0, 5, 1, true}, {1, 5, 1, true}}));
  EXPECT_TRUE(s3.admitted.empty());
  EXPECT_TRUE(c.block_table.empty());
  EXPECT_EQ(h.kv.pool().free_queue(), (Ids{2}));
  EXPECT_TRUE(h.invariants());
  h.done(s3);
  h.finish(0);  // frees 4, 0
  EXPECT_EQ(h.kv.pool().free_queue(), (Ids{2, 4, 0}));

  ScheduleStep s4 = h.sched.schedule();
  EXPECT_EQ(s4.seqs, (Seqs{{1, 6, 1, true}, {2, 4, 6, true}}));
  EXPECT_EQ(s4.admitted, (SeqIds{2}));
  EXPECT_EQ(c.n_prefix_hit, 4);
  EXPECT_EQ(c.block_table, (Ids{2, 4, 0}));
  EXPECT_EQ(c.status, SeqStatus::kRunning);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, SeveralVictimsReturnToTheQueueInAdmissionOrder) {
  Harness h(4, 100, 8);
  Sequence& a = h.add(iota_tokens(5));  // blocks 0, 1
  h.add(iota_tokens(3, 20));            // block 2
  h.add(iota_tokens(3, 40));            // block 3
  Sequence& d = h.add(iota_tokens(3, 60));
  h.done(h.sched.schedule());
  EXPECT_EQ(h.sched.n_waiting(), 1);
  // The engine appends 7 forced tokens to a: positions 6..12 need blocks 2 and 3 more.
  a.tokens.insert(a.tokens.end(), {1, 2, 3, 4, 5, 6, 7});
  ScheduleStep s = h.sched.schedule();
  // Pass 1 schedules the decodes of 1 and 2; a's chunk then preempts 2 and 1, whose entries go.
  EXPECT_EQ(s.seqs, (Seqs{{0, 5, 8, true}}));
  EXPECT_EQ(s.preempted, (SeqIds{2, 1}));
  EXPECT_EQ(s.n_tokens, 8);
  EXPECT_EQ(a.block_table, (Ids{0, 1, 3, 2}));
  EXPECT_EQ(h.sched.n_waiting(), 3);
  EXPECT_TRUE(h.invariants());
  h.done(s);
  h.finish(0);
  // Waiting order: 1, 2 (their admission order), then 3 that never ran.
  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.admitted, (SeqIds{1, 2, 3}));
  EXPECT_EQ(s2.seqs, (Seqs{{1, 0, 4, true}, {2, 0, 4, true}, {3, 0, 3, true}}));
  EXPECT_EQ(d.status, SeqStatus::kRunning);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, ForkedSamplesCopyTheSharedBlockOnWrite) {
  Harness h(8, 100, 8);
  Sequence& p = h.add(iota_tokens(6));  // [1..4] [5 6 _ _]
  ScheduleStep s1 = h.sched.schedule();
  h.sched.on_step_done(s1);  // p is fully computed: fork before sampling, n = 2
  Sequence& c = h.fork(p);
  EXPECT_EQ(h.kv.pool().ref_count(1), 2);
  p.tokens.push_back(70);
  c.tokens.push_back(80);
  EXPECT_TRUE(h.invariants());

  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{0, 6, 1, true}, {1, 6, 1, true}}));
  EXPECT_EQ(s2.copies, (std::vector<BlockCopy>{{1, 2}}));
  EXPECT_EQ(p.block_table, (Ids{0, 2}));
  EXPECT_EQ(c.block_table, (Ids{0, 1}));
  EXPECT_TRUE(h.invariants());
  h.done(s2);
  ScheduleStep s3 = h.sched.schedule();
  EXPECT_TRUE(s3.copies.empty());
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, APreemptedVictimLosesItsEntryBudgetAndCopies) {
  Harness h(3, 7, 8);
  Sequence& p = h.add(iota_tokens(6));  // blocks 0, 1; block 2 free
  h.sched.on_step_done(h.sched.schedule());
  Sequence& c = h.fork(p);
  c.tokens.push_back(80);
  // p samples and also gets forced tokens: 7 tokens to compute, needing one more block.
  p.tokens.insert(p.tokens.end(), {70, 71, 72, 73, 74});
  ScheduleStep s = h.sched.schedule();
  // Pass 1: c's decode copies shared block 1 into 2 (budget 7 - 1). Pass 2: p's 5 tokens (budget
  // left 6) need block 3 - no block: c goes, its copy and its token with it, and p takes block 2.
  EXPECT_EQ(s.seqs, (Seqs{{0, 6, 5, true}}));
  EXPECT_EQ(s.preempted, (SeqIds{1}));
  EXPECT_TRUE(s.copies.empty());
  EXPECT_EQ(s.n_tokens, 5);
  EXPECT_EQ(p.block_table, (Ids{0, 1, 2}));
  EXPECT_EQ(c.status, SeqStatus::kWaiting);
  EXPECT_TRUE(h.invariants());
  h.done(s);
  h.finish(0);
  // c is recomputed from its own tokens, hitting the prompt block p left cached.
  ScheduleStep s2 = h.sched.schedule();
  EXPECT_EQ(s2.seqs, (Seqs{{1, 4, 3, true}}));
  EXPECT_EQ(c.n_prefix_hit, 4);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, FinishRemovesWaitingSequencesToo) {
  Harness h(4, 100, 1);
  h.add(iota_tokens(3));
  Sequence& b = h.add(iota_tokens(3));
  h.done(h.sched.schedule());
  h.finish(1);
  EXPECT_EQ(b.status, SeqStatus::kFinished);
  EXPECT_EQ(h.sched.n_waiting(), 0);
  EXPECT_THROW(h.finish(1), InternalError);
  EXPECT_TRUE(h.invariants());
}

TEST(Scheduler, ASequenceLargerThanThePoolIsAnInternalError) {
  Harness h(2, 100, 4);
  h.add(iota_tokens(9));  // 3 blocks, the pool has 2
  EXPECT_THROW(h.sched.schedule(), InternalError);
}

TEST(Scheduler, ASequenceOutgrowingThePoolAloneIsAnInternalError) {
  Harness h(2, 100, 4);
  h.add(iota_tokens(8));
  h.done(h.sched.schedule());
  EXPECT_THROW(h.sched.schedule(), InternalError);  // position 8 needs a third block
}

// Many requests with shared prefixes, some with n = 2, small pools and budgets: every step's
// decision respects the budget and the accounting, and every sequence finishes with its prompt
// plus exactly its k generated tokens, whatever preemptions happened on the way.
void run_random(uint32_t seed, int32_t n_blocks, int32_t budget, int32_t max_running, bool prefix,
                int32_t& n_preempted) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " blocks " << n_blocks << " budget "
                                    << budget << " max_running " << max_running);
  std::mt19937 rng(seed);
  Harness h(n_blocks, budget, max_running, prefix);
  const int32_t max_len = n_blocks * 4;  // a sequence alone must fit the pool
  const std::vector<Toks> prefixes = {iota_tokens(8), iota_tokens(5, 50), iota_tokens(13, 80)};
  std::vector<int32_t> k_of;         // generated tokens each sequence should end with
  std::vector<int32_t> siblings_of;  // n - 1 forks still to make when the prompt completes
  int32_t n_requests = 0, n_finished = 0;
  const int32_t total_requests = 40;
  auto add_request = [&] {
    Toks prompt = prefixes[rng() % prefixes.size()];
    prompt.resize(std::min<size_t>(prompt.size(), 1 + rng() % 12));
    for (int i = rng() % 6; i > 0; --i) prompt.push_back(200 + rng() % 3);
    const int32_t k = 1 + rng() % 8;
    if (ssize(prompt) + k > max_len) prompt.resize(max_len - k);
    h.add(prompt);
    k_of.push_back(k);
    siblings_of.push_back(rng() % 4 == 0 ? 1 : 0);
    ++n_requests;
  };
  for (int step_no = 0; n_finished < ssize(h.seqs) || n_requests < total_requests; ++step_no) {
    ASSERT_LT(step_no, 5000) << "no progress";
    if (n_requests < total_requests && rng() % 2 == 0) add_request();
    const ScheduleStep step = h.sched.schedule();
    ASSERT_TRUE(h.invariants());
    ASSERT_LE(step.n_tokens, budget);
    int32_t sum = 0;
    for (const ScheduledSeq& s : step.seqs) {
      const Sequence& seq = h.seqs[s.seq];
      ASSERT_EQ(seq.status, SeqStatus::kRunning);
      ASSERT_EQ(s.start, seq.n_computed);
      ASSERT_GT(s.n_tokens, 0);
      ASSERT_EQ(s.sample, s.start + s.n_tokens == ssize(seq.tokens));
      sum += s.n_tokens;
    }
    ASSERT_EQ(sum, step.n_tokens);
    n_preempted += static_cast<int32_t>(step.preempted.size());
    h.sched.on_step_done(step);
    ASSERT_TRUE(h.invariants());
    // The fake sampler: forks at the end of the prompt, one token per sample, finish after k.
    for (const ScheduledSeq& s : step.seqs) {
      if (!s.sample) continue;
      Sequence& seq = h.seqs[s.seq];
      const int32_t generated = static_cast<int32_t>(seq.tokens.size()) - seq.n_prompt;
      if (generated == 0 && siblings_of[s.seq] > 0) {
        siblings_of[s.seq] = 0;
        Sequence& c = h.fork(seq);
        k_of.push_back(1 + rng() % 8);
        if (ssize(c.tokens) + k_of.back() > max_len) k_of.back() = max_len - ssize(c.tokens);
        siblings_of.push_back(0);
        c.tokens.push_back(300 + c.id);
        if (k_of[c.id] == 1) {
          h.finish(c.id);
          ++n_finished;
        }
        ASSERT_TRUE(h.invariants());
      }
      seq.tokens.push_back(300 + s.seq);
      if (generated + 1 == k_of[s.seq]) {
        h.finish(s.seq);
        ++n_finished;
      }
    }
    ASSERT_TRUE(h.invariants());
  }
  for (const Sequence& s : h.seqs) {
    EXPECT_EQ(s.status, SeqStatus::kFinished) << s.id;
    EXPECT_EQ(ssize(s.tokens), s.n_prompt + k_of[s.id]) << s.id;
  }
  EXPECT_EQ(h.kv.pool().n_free(), n_blocks);
  EXPECT_EQ(h.sched.n_running() + h.sched.n_waiting(), 0);
}

TEST(Scheduler, RandomWorkloadsFinishEverySequence) {
  int32_t n_small = 0, n_large = 0;  // preemptions
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    run_random(seed, 6, 8, 4, true, n_small);
    run_random(seed, 8, 16, 8, true, n_small);
    run_random(seed, 8, 5, 3, false, n_small);
    run_random(seed, 32, 64, 16, true, n_large);
  }
  EXPECT_GT(n_small, 20);  // the small pools really exercise preemption and recomputation
  std::printf("preemptions: %d small pools, %d large\n", n_small, n_large);
}

}  // namespace
}  // namespace latent
