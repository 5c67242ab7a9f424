// KvCacheManager: block tables built from the pool, prefix-cache hits along the hash chain,
// registration of full blocks, copy-on-write after fork, and release order. Block size 4 keeps
// the token arithmetic readable.
#include <gtest/gtest.h>

#include <initializer_list>
#include <numeric>
#include <vector>

#include "base/check.h"
#include "engine/kv_cache_manager.h"

namespace latent {
namespace {

using Ids = std::vector<int32_t>;
using Toks = std::vector<TokenId>;
using Copies = std::vector<BlockCopy>;

// The accounting invariants: free + used = total, every block's reference count equals the number
// of live block-table entries naming it (so Σ ref counts = Σ table sizes), and the free queue holds
// exactly the unreferenced blocks.
::testing::AssertionResult invariants(const KvCacheManager& kv,
                                      std::initializer_list<const Sequence*> live) {
  const KvBlockPool& pool = kv.pool();
  if (pool.n_free() + pool.n_used() != pool.n_total())
    return ::testing::AssertionFailure() << "free + used != total";
  std::vector<int32_t> uses(pool.n_total(), 0);
  int64_t n_entries = 0;
  for (const Sequence* s : live) {
    for (int32_t b : s->block_table) {
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
      return ::testing::AssertionFailure()
             << "block " << b << " has ref " << pool.ref_count(b) << " but " << uses[b] << " uses";
  }
  if (sum_refs != n_entries)
    return ::testing::AssertionFailure() << "sum of refs " << sum_refs << " != " << n_entries;
  if (n_unreferenced != pool.n_free() ||
      static_cast<int32_t>(pool.free_queue().size()) != n_unreferenced)
    return ::testing::AssertionFailure() << "free queue does not hold the unreferenced blocks";
  return ::testing::AssertionSuccess();
}

Sequence make_seq(SeqId id, Toks tokens) {
  Sequence s;
  s.id = id;
  s.n_prompt = static_cast<int32_t>(tokens.size());
  s.tokens = std::move(tokens);
  return s;
}

Toks iota_tokens(int n, TokenId first = 1) {
  Toks t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

// What the engine does after a forward over all pending tokens: they are computed, and full
// blocks become shareable.
void compute_all(KvCacheManager& kv, Sequence& s) {
  s.n_computed = static_cast<int32_t>(s.tokens.size());
  kv.cache_full_blocks(s);
}

TEST(KvCacheManager, BlocksFor) {
  KvCacheManager kv(8, 4);
  EXPECT_EQ(kv.block_size(), 4);
  EXPECT_EQ(kv.blocks_for(0), 0);
  EXPECT_EQ(kv.blocks_for(1), 1);
  EXPECT_EQ(kv.blocks_for(4), 1);
  EXPECT_EQ(kv.blocks_for(5), 2);
  EXPECT_EQ(kv.blocks_for(12), 3);
}

TEST(KvCacheManager, AllocateSlotsGrowsTheTableFromThePool) {
  KvCacheManager kv(8, 4);
  Sequence a = make_seq(0, iota_tokens(10));
  Copies copies;
  ASSERT_TRUE(kv.allocate_slots(a, 10, copies));
  EXPECT_EQ(a.block_table, (Ids{0, 1, 2}));
  EXPECT_TRUE(copies.empty());
  EXPECT_DOUBLE_EQ(kv.usage(), 3.0 / 8.0);
  EXPECT_TRUE(invariants(kv, {&a}));
  a.n_computed = 10;
  ASSERT_TRUE(kv.allocate_slots(a, 2, copies));  // positions 10, 11 are still in block 2
  EXPECT_EQ(a.block_table, (Ids{0, 1, 2}));
  ASSERT_TRUE(kv.allocate_slots(a, 3, copies));  // position 12 starts a new block
  EXPECT_EQ(a.block_table, (Ids{0, 1, 2, 3}));
  ASSERT_TRUE(kv.allocate_slots(a, 0, copies));
  EXPECT_EQ(a.block_table, (Ids{0, 1, 2, 3}));
  EXPECT_TRUE(copies.empty());
  EXPECT_TRUE(invariants(kv, {&a}));

  Sequence b = make_seq(1, iota_tokens(5));
  ASSERT_TRUE(kv.allocate_slots(b, 5, copies));
  EXPECT_EQ(b.block_table, (Ids{4, 5}));
  EXPECT_EQ(kv.pool().free_queue(), (Ids{6, 7}));
  EXPECT_TRUE(invariants(kv, {&a, &b}));
}

TEST(KvCacheManager, AllocateSlotsIsAllOrNothing) {
  KvCacheManager kv(4, 4);
  Sequence a = make_seq(0, iota_tokens(12));
  Sequence b = make_seq(1, iota_tokens(8));
  Copies copies;
  ASSERT_TRUE(kv.allocate_slots(a, 12, copies));
  EXPECT_FALSE(kv.allocate_slots(b, 8, copies));  // needs 2, 1 free
  EXPECT_TRUE(b.block_table.empty());
  EXPECT_EQ(kv.pool().free_queue(), (Ids{3}));
  EXPECT_TRUE(invariants(kv, {&a, &b}));
  ASSERT_TRUE(kv.allocate_slots(b, 4, copies));  // a first chunk fits
  EXPECT_EQ(b.block_table, (Ids{3}));
  EXPECT_TRUE(invariants(kv, {&a, &b}));
}

TEST(KvCacheManager, FreeReleasesLastBlockFirst) {
  KvCacheManager kv(6, 4);
  Sequence a = make_seq(0, iota_tokens(10));
  Copies copies;
  ASSERT_TRUE(kv.allocate_slots(a, 10, copies));
  a.n_computed = 10;
  kv.free(a);
  EXPECT_TRUE(a.block_table.empty());
  EXPECT_EQ(a.n_computed, 0);
  EXPECT_EQ(a.tokens.size(), 10u);
  EXPECT_EQ(kv.pool().free_queue(), (Ids{3, 4, 5, 2, 1, 0}));
  EXPECT_EQ(kv.pool().n_free(), 6);
  EXPECT_TRUE(invariants(kv, {&a}));
}

TEST(KvCacheManager, PrefixHitsFollowTheHashChain) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence a = make_seq(0, iota_tokens(10));  // blocks [1..4] [5..8] [9 10]
  ASSERT_TRUE(kv.allocate_slots(a, 10, copies));
  compute_all(kv, a);
  EXPECT_EQ(kv.pool().n_cached(), 2);  // the partial third block is not shareable
  EXPECT_TRUE(kv.pool().is_cached(0));
  EXPECT_TRUE(kv.pool().is_cached(1));
  EXPECT_FALSE(kv.pool().is_cached(2));
  kv.free(a);
  EXPECT_EQ(kv.pool().free_queue(), (Ids{3, 4, 5, 6, 7, 2, 1, 0}));
  EXPECT_TRUE(invariants(kv, {&a}));

  // Same two full blocks, different tail: both blocks are hits and leave the free queue.
  Toks tb = iota_tokens(8);
  tb.insert(tb.end(), {99, 100});
  Sequence b = make_seq(1, tb);
  EXPECT_EQ(kv.attach_cached_prefix(b), 8);
  EXPECT_EQ(b.block_table, (Ids{0, 1}));
  EXPECT_EQ(b.n_computed, 8);
  EXPECT_EQ(b.n_prefix_hit, 8);
  EXPECT_EQ(b.n_pending(), 2);
  EXPECT_EQ(kv.pool().ref_count(0), 1);
  EXPECT_EQ(kv.pool().ref_count(1), 1);
  EXPECT_EQ(kv.pool().free_queue(), (Ids{3, 4, 5, 6, 7, 2}));
  EXPECT_TRUE(invariants(kv, {&b}));
  ASSERT_TRUE(kv.allocate_slots(b, 2, copies));
  EXPECT_EQ(b.block_table, (Ids{0, 1, 3}));
  EXPECT_TRUE(copies.empty());

  // A second sharer of the same prefix while b holds it: reference counts 2.
  Sequence c = make_seq(2, iota_tokens(9));
  EXPECT_EQ(kv.attach_cached_prefix(c), 8);
  EXPECT_EQ(c.block_table, (Ids{0, 1}));
  EXPECT_EQ(kv.pool().ref_count(0), 2);
  EXPECT_EQ(kv.pool().ref_count(1), 2);
  EXPECT_TRUE(invariants(kv, {&b, &c}));

  // The first block differs: the chain is broken, nothing hits.
  Toks td = iota_tokens(9);
  td[0] = 42;
  Sequence d = make_seq(3, td);
  EXPECT_EQ(kv.attach_cached_prefix(d), 0);
  EXPECT_TRUE(d.block_table.empty());
  EXPECT_EQ(d.n_computed, 0);
  EXPECT_EQ(d.n_prefix_hit, 0);

  // The second block differs: only the first hits.
  Toks te = iota_tokens(9);
  te[6] = 42;
  Sequence e = make_seq(4, te);
  EXPECT_EQ(kv.attach_cached_prefix(e), 4);
  EXPECT_EQ(e.block_table, (Ids{0}));
  EXPECT_EQ(kv.pool().ref_count(0), 3);
  EXPECT_TRUE(invariants(kv, {&b, &c, &d, &e}));
}

TEST(KvCacheManager, SameTokensUnderAnotherPrefixMiss) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence a = make_seq(0, Toks{1, 2, 3, 4, 5, 6, 7, 8, 9});
  ASSERT_TRUE(kv.allocate_slots(a, 9, copies));
  compute_all(kv, a);
  // Its second block's tokens [5 6 7 8] equal a's second block, but the first block differs.
  Sequence b = make_seq(1, Toks{9, 9, 9, 9, 5, 6, 7, 8, 9});
  EXPECT_EQ(kv.attach_cached_prefix(b), 0);
  EXPECT_TRUE(b.block_table.empty());
  // [5 6 7 8] as a first block: a different chain position, also a miss.
  Sequence c = make_seq(2, Toks{5, 6, 7, 8, 1});
  EXPECT_EQ(kv.attach_cached_prefix(c), 0);
  EXPECT_TRUE(invariants(kv, {&a, &b, &c}));
}

TEST(KvCacheManager, TheLastTokenIsNeverAHit) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence a = make_seq(0, iota_tokens(8));
  ASSERT_TRUE(kv.allocate_slots(a, 8, copies));
  compute_all(kv, a);
  EXPECT_EQ(kv.pool().n_cached(), 2);
  // Both blocks are cached, but covering token 8 would leave nothing to compute for logits.
  Sequence b = make_seq(1, iota_tokens(8));
  EXPECT_EQ(kv.attach_cached_prefix(b), 4);
  EXPECT_EQ(b.block_table, (Ids{0}));
  EXPECT_EQ(b.n_pending(), 4);
  Sequence c = make_seq(2, iota_tokens(9));
  EXPECT_EQ(kv.attach_cached_prefix(c), 8);
  EXPECT_EQ(c.n_pending(), 1);
  Sequence d = make_seq(3, iota_tokens(1));
  EXPECT_EQ(kv.attach_cached_prefix(d), 0);
  EXPECT_EQ(d.n_pending(), 1);
  EXPECT_TRUE(invariants(kv, {&a, &b, &c, &d}));
}

TEST(KvCacheManager, BlocksBecomeCachedAsChunksComplete) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence a = make_seq(0, iota_tokens(11));
  ASSERT_TRUE(kv.allocate_slots(a, 3, copies));
  a.n_computed = 3;
  kv.cache_full_blocks(a);
  EXPECT_EQ(kv.pool().n_cached(), 0);
  ASSERT_TRUE(kv.allocate_slots(a, 3, copies));
  a.n_computed = 6;
  kv.cache_full_blocks(a);
  EXPECT_EQ(kv.pool().n_cached(), 1);
  ASSERT_TRUE(kv.allocate_slots(a, 5, copies));
  a.n_computed = 11;
  kv.cache_full_blocks(a);
  kv.cache_full_blocks(a);  // idempotent
  EXPECT_EQ(kv.pool().n_cached(), 2);
  EXPECT_EQ(a.block_table, (Ids{0, 1, 2}));
  // The incrementally built chain is the one a later lookup computes from scratch.
  Sequence b = make_seq(1, iota_tokens(12));
  EXPECT_EQ(kv.attach_cached_prefix(b), 8);
  EXPECT_EQ(b.block_table, (Ids{0, 1}));
  EXPECT_TRUE(invariants(kv, {&a, &b}));
}

TEST(KvCacheManager, ADuplicateOfAnIndexedBlockStaysPrivate) {
  KvCacheManager kv(8, 4);
  Copies copies;
  // Two identical prompts computed in the same step: neither could hit the other.
  Sequence a = make_seq(0, iota_tokens(9));
  Sequence b = make_seq(1, iota_tokens(9));
  ASSERT_TRUE(kv.allocate_slots(a, 9, copies));
  ASSERT_TRUE(kv.allocate_slots(b, 9, copies));
  EXPECT_EQ(b.block_table, (Ids{3, 4, 5}));
  compute_all(kv, a);
  compute_all(kv, b);
  EXPECT_EQ(kv.pool().n_cached(), 2);
  EXPECT_TRUE(kv.pool().is_cached(0));
  EXPECT_TRUE(kv.pool().is_cached(1));
  EXPECT_FALSE(kv.pool().is_cached(3));
  EXPECT_FALSE(kv.pool().is_cached(4));
  Sequence c = make_seq(2, iota_tokens(9));
  EXPECT_EQ(kv.attach_cached_prefix(c), 8);
  EXPECT_EQ(c.block_table, (Ids{0, 1}));
  EXPECT_TRUE(invariants(kv, {&a, &b, &c}));
}

TEST(KvCacheManager, PrefixCachingOffNeitherIndexesNorLooksUp) {
  KvCacheManager kv(8, 4, /*prefix_caching=*/false);
  Copies copies;
  Sequence a = make_seq(0, iota_tokens(9));
  ASSERT_TRUE(kv.allocate_slots(a, 9, copies));
  compute_all(kv, a);
  EXPECT_EQ(kv.pool().n_cached(), 0);
  Sequence b = make_seq(1, iota_tokens(9));
  EXPECT_EQ(kv.attach_cached_prefix(b), 0);
  EXPECT_TRUE(b.block_table.empty());
  EXPECT_EQ(b.n_computed, 0);
  EXPECT_TRUE(invariants(kv, {&a, &b}));
}

TEST(KvCacheManager, ForkSharesEveryBlock) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence p = make_seq(0, iota_tokens(6));
  ASSERT_TRUE(kv.allocate_slots(p, 6, copies));
  compute_all(kv, p);
  Sequence c;
  c.id = 1;
  kv.fork(p, c);
  EXPECT_EQ(c.tokens, p.tokens);
  EXPECT_EQ(c.n_prompt, 6);
  EXPECT_EQ(c.n_computed, 6);
  EXPECT_EQ(c.block_table, (Ids{0, 1}));
  EXPECT_EQ(kv.pool().ref_count(0), 2);
  EXPECT_EQ(kv.pool().ref_count(1), 2);
  EXPECT_EQ(kv.pool().n_used(), 2);
  EXPECT_TRUE(invariants(kv, {&p, &c}));
  kv.free(c);
  EXPECT_EQ(kv.pool().ref_count(0), 1);
  EXPECT_EQ(kv.pool().ref_count(1), 1);
  EXPECT_EQ(kv.pool().n_free(), 6);
  EXPECT_TRUE(invariants(kv, {&p, &c}));
  kv.free(p);
  EXPECT_EQ(kv.pool().free_queue(), (Ids{2, 3, 4, 5, 6, 7, 1, 0}));
  EXPECT_TRUE(invariants(kv, {&p, &c}));
}

TEST(KvCacheManager, DivergentAppendsAfterForkCopyTheSharedBlockOnce) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence p = make_seq(0, iota_tokens(6));  // [1 2 3 4] [5 6 _ _]
  ASSERT_TRUE(kv.allocate_slots(p, 6, copies));
  compute_all(kv, p);
  Sequence c;
  c.id = 1;
  kv.fork(p, c);
  // Each sample draws its own first token.
  p.tokens.push_back(70);
  c.tokens.push_back(80);

  // p writes position 6 into shared block 1: it gets a private copy (block 2).
  ASSERT_TRUE(kv.allocate_slots(p, 1, copies));
  EXPECT_EQ(copies, (Copies{{1, 2}}));
  EXPECT_EQ(p.block_table, (Ids{0, 2}));
  EXPECT_EQ(kv.pool().ref_count(1), 1);
  EXPECT_EQ(kv.pool().ref_count(2), 1);
  EXPECT_TRUE(invariants(kv, {&p, &c}));
  // c is now block 1's only holder and writes it in place.
  ASSERT_TRUE(kv.allocate_slots(c, 1, copies));
  EXPECT_EQ(copies, (Copies{{1, 2}}));
  EXPECT_EQ(c.block_table, (Ids{0, 1}));
  p.n_computed = c.n_computed = 7;

  // Further appends write private blocks; the full shared block 0 is never copied.
  p.tokens.push_back(71);
  c.tokens.push_back(81);
  ASSERT_TRUE(kv.allocate_slots(p, 1, copies));
  ASSERT_TRUE(kv.allocate_slots(c, 1, copies));
  p.n_computed = c.n_computed = 8;
  p.tokens.push_back(72);
  c.tokens.push_back(82);
  ASSERT_TRUE(kv.allocate_slots(p, 1, copies));
  ASSERT_TRUE(kv.allocate_slots(c, 1, copies));
  EXPECT_EQ(p.block_table, (Ids{0, 2, 3}));
  EXPECT_EQ(c.block_table, (Ids{0, 1, 4}));
  EXPECT_EQ(copies, (Copies{{1, 2}}));
  EXPECT_EQ(kv.pool().ref_count(0), 2);
  EXPECT_TRUE(invariants(kv, {&p, &c}));

  // Their second blocks now hold different tokens, and each is indexed under its own chain.
  p.n_computed = c.n_computed = 9;
  kv.cache_full_blocks(p);
  kv.cache_full_blocks(c);
  EXPECT_TRUE(kv.pool().is_cached(2));
  EXPECT_TRUE(kv.pool().is_cached(1));
  Sequence q = make_seq(2, Toks{1, 2, 3, 4, 5, 6, 80, 81, 0});
  EXPECT_EQ(kv.attach_cached_prefix(q), 8);
  EXPECT_EQ(q.block_table, (Ids{0, 1}));
  EXPECT_TRUE(invariants(kv, {&p, &c, &q}));
}

TEST(KvCacheManager, CopyOnWriteCountsInTheFeasibilityCheck) {
  KvCacheManager kv(3, 4);
  Copies copies;
  Sequence p = make_seq(0, iota_tokens(6));
  ASSERT_TRUE(kv.allocate_slots(p, 6, copies));
  p.n_computed = 6;
  Sequence c;
  kv.fork(p, c);
  p.tokens.insert(p.tokens.end(), {7, 8, 9});
  // Positions 6..8: a copy of shared block 1 plus a new block 2 — 2 blocks, 1 free.
  EXPECT_FALSE(kv.allocate_slots(p, 3, copies));
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(p.block_table, (Ids{0, 1}));
  EXPECT_EQ(kv.pool().ref_count(1), 2);
  EXPECT_TRUE(invariants(kv, {&p, &c}));
  // Positions 6..7 only need the copy.
  ASSERT_TRUE(kv.allocate_slots(p, 2, copies));
  EXPECT_EQ(copies, (Copies{{1, 2}}));
  EXPECT_EQ(p.block_table, (Ids{0, 2}));
  EXPECT_TRUE(invariants(kv, {&p, &c}));
}

TEST(KvCacheManager, CopyAndGrowInOneCall) {
  KvCacheManager kv(8, 4);
  Copies copies;
  Sequence p = make_seq(0, iota_tokens(6));
  ASSERT_TRUE(kv.allocate_slots(p, 6, copies));
  p.n_computed = 6;
  Sequence c;
  kv.fork(p, c);
  p.tokens.insert(p.tokens.end(), {7, 8, 9});
  ASSERT_TRUE(kv.allocate_slots(p, 3, copies));
  EXPECT_EQ(copies, (Copies{{1, 2}}));
  EXPECT_EQ(p.block_table, (Ids{0, 2, 3}));
  EXPECT_EQ(c.block_table, (Ids{0, 1}));
  EXPECT_TRUE(invariants(kv, {&p, &c}));
}

TEST(KvCacheManager, MisuseIsAnInternalError) {
  KvCacheManager kv(4, 4);
  Copies copies;
  Sequence a = make_seq(0, iota_tokens(5));
  ASSERT_TRUE(kv.allocate_slots(a, 5, copies));
  EXPECT_THROW(kv.attach_cached_prefix(a), InternalError);  // table not empty
  Sequence b = make_seq(1, iota_tokens(5));
  ASSERT_TRUE(kv.allocate_slots(b, 1, copies));
  EXPECT_THROW(kv.fork(a, b), InternalError);  // child still holds blocks
  EXPECT_THROW(KvCacheManager(4, 0), InternalError);
  EXPECT_TRUE(invariants(kv, {&a, &b}));
}

}  // namespace
}  // namespace latent
