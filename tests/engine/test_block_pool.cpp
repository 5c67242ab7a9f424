// KvBlockPool: exact block ids handed out, reference counts, free-queue (eviction) order, the
// prefix-cache index and its LRU eviction, and block_hash's chaining.
#include <gtest/gtest.h>

#include <vector>

#include "base/check.h"
#include "engine/block_pool.h"

namespace latent {
namespace {

using Ids = std::vector<int32_t>;
using Toks = std::vector<TokenId>;

// free + used = total, and the free queue holds exactly the blocks with reference count 0.
::testing::AssertionResult consistent(const KvBlockPool& pool) {
  if (pool.n_free() + pool.n_used() != pool.n_total())
    return ::testing::AssertionFailure() << "free + used != total";
  const Ids queue = pool.free_queue();
  if (static_cast<int32_t>(queue.size()) != pool.n_free())
    return ::testing::AssertionFailure()
           << "free queue has " << queue.size() << " blocks, n_free " << pool.n_free();
  std::vector<int> in_queue(pool.n_total(), 0);
  for (int32_t b : queue) ++in_queue[b];
  for (int32_t b = 0; b < pool.n_total(); ++b) {
    if (in_queue[b] != (pool.ref_count(b) == 0 ? 1 : 0))
      return ::testing::AssertionFailure() << "block " << b << " with ref " << pool.ref_count(b)
                                           << " is in the free queue " << in_queue[b] << " times";
  }
  return ::testing::AssertionSuccess();
}

TEST(BlockHash, ChainsOverParentAndTokens) {
  const Toks a = {1, 2, 3, 4};
  EXPECT_EQ(block_hash(kRootBlockHash, a), block_hash(kRootBlockHash, Toks{1, 2, 3, 4}));
  // Same tokens under another prefix: a different hash, so a prefix-cache lookup misses.
  EXPECT_NE(block_hash(kRootBlockHash, a), block_hash(block_hash(kRootBlockHash, a), a));
  EXPECT_NE(block_hash(kRootBlockHash, a), block_hash(kRootBlockHash + 1, a));
  EXPECT_NE(block_hash(kRootBlockHash, a), block_hash(kRootBlockHash, Toks{2, 1, 3, 4}));
  EXPECT_NE(block_hash(kRootBlockHash, a), block_hash(kRootBlockHash, Toks{1, 2, 3, 5}));
  EXPECT_NE(block_hash(kRootBlockHash, a), block_hash(kRootBlockHash, Toks{1, 2, 3, 4, 0}));
  EXPECT_NE(block_hash(kRootBlockHash, Toks{0}), block_hash(kRootBlockHash, Toks{0, 0}));
  EXPECT_NE(block_hash(kRootBlockHash, Toks{}), block_hash(kRootBlockHash, Toks{0}));
  // Mixing: flipping one input bit flips about half the output bits.
  const uint64_t x = block_hash(kRootBlockHash, Toks{7, 8, 9});
  const uint64_t y = block_hash(kRootBlockHash, Toks{7, 8, 9 ^ 1});
  const int flipped = __builtin_popcountll(x ^ y);
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(KvBlockPool, StartsWithAllBlocksFreeInIdOrder) {
  KvBlockPool pool(5);
  EXPECT_EQ(pool.n_total(), 5);
  EXPECT_EQ(pool.n_free(), 5);
  EXPECT_EQ(pool.n_used(), 0);
  EXPECT_EQ(pool.free_queue(), (Ids{0, 1, 2, 3, 4}));
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, AllocatePopsTheHeadUntilEmpty) {
  KvBlockPool pool(3);
  EXPECT_EQ(pool.allocate(), 0);
  EXPECT_TRUE(consistent(pool));
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.allocate(), 2);
  EXPECT_TRUE(consistent(pool));
  EXPECT_EQ(pool.allocate(), std::nullopt);
  for (int32_t b = 0; b < 3; ++b) EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.n_free(), 0);
  EXPECT_EQ(pool.n_used(), 3);
  EXPECT_TRUE(pool.free_queue().empty());
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, ReleasedBlocksQueueAtTheTailInReleaseOrder) {
  KvBlockPool pool(6);
  for (int i = 0; i < 4; ++i) pool.allocate();
  EXPECT_EQ(pool.free_queue(), (Ids{4, 5}));
  // Released in reverse, as KvCacheManager::free does with a table {0, 1, 2, 3}.
  for (int32_t b : {3, 2, 1, 0}) {
    pool.decref(b);
    EXPECT_TRUE(consistent(pool));
  }
  EXPECT_EQ(pool.free_queue(), (Ids{4, 5, 3, 2, 1, 0}));
  EXPECT_EQ(pool.allocate(), 4);
  EXPECT_EQ(pool.allocate(), 5);
  EXPECT_EQ(pool.allocate(), 3);
  EXPECT_EQ(pool.free_queue(), (Ids{2, 1, 0}));
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, ReferenceCountsKeepABlockOutOfTheQueue) {
  KvBlockPool pool(3);
  const int32_t b = *pool.allocate();
  pool.incref(b);
  pool.incref(b);
  EXPECT_EQ(pool.ref_count(b), 3);
  pool.decref(b);
  pool.decref(b);
  EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.free_queue(), (Ids{1, 2}));
  EXPECT_TRUE(consistent(pool));
  pool.decref(b);
  EXPECT_EQ(pool.ref_count(b), 0);
  EXPECT_EQ(pool.free_queue(), (Ids{1, 2, 0}));
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, IncrefOfAFreeBlockUnlinksItWhereverItIs) {
  KvBlockPool pool(5);
  for (int i = 0; i < 5; ++i) pool.allocate();
  for (int32_t b : {0, 1, 2, 3, 4}) pool.decref(b);
  pool.incref(2);  // middle
  EXPECT_EQ(pool.free_queue(), (Ids{0, 1, 3, 4}));
  EXPECT_TRUE(consistent(pool));
  pool.incref(0);  // head
  EXPECT_EQ(pool.free_queue(), (Ids{1, 3, 4}));
  pool.incref(4);  // tail
  EXPECT_EQ(pool.free_queue(), (Ids{1, 3}));
  EXPECT_TRUE(consistent(pool));
  EXPECT_EQ(pool.ref_count(0), 1);
  EXPECT_EQ(pool.ref_count(2), 1);
  EXPECT_EQ(pool.ref_count(4), 1);
  pool.decref(2);
  EXPECT_EQ(pool.free_queue(), (Ids{1, 3, 2}));
  pool.incref(1);
  pool.incref(3);
  pool.incref(2);  // the last one: the queue becomes empty
  EXPECT_TRUE(pool.free_queue().empty());
  EXPECT_EQ(pool.allocate(), std::nullopt);
  EXPECT_TRUE(consistent(pool));
  pool.decref(3);
  EXPECT_EQ(pool.free_queue(), (Ids{3}));
  EXPECT_EQ(pool.allocate(), 3);
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, MisuseIsAnInternalError) {
  KvBlockPool pool(2);
  EXPECT_THROW(pool.decref(0), InternalError);  // below 0
  EXPECT_THROW(pool.incref(2), InternalError);
  EXPECT_THROW(pool.decref(-1), InternalError);
  EXPECT_THROW(pool.ref_count(7), InternalError);
  EXPECT_THROW(pool.set_cached(1, 42, Toks{1}), InternalError);  // not referenced
  EXPECT_THROW(pool.cached_hash(0), InternalError);              // not indexed
  EXPECT_THROW(KvBlockPool(0), InternalError);
  EXPECT_TRUE(consistent(pool));
  EXPECT_EQ(pool.free_queue(), (Ids{0, 1}));
}

TEST(KvBlockPool, FindCachedMatchesHashAndTokens) {
  KvBlockPool pool(4);
  const int32_t b = *pool.allocate();
  EXPECT_EQ(pool.find_cached(11, Toks{1, 2}), std::nullopt);
  pool.set_cached(b, 11, Toks{1, 2});
  EXPECT_TRUE(pool.is_cached(b));
  EXPECT_EQ(pool.cached_hash(b), 11u);
  EXPECT_EQ(pool.n_cached(), 1);
  EXPECT_EQ(pool.find_cached(11, Toks{1, 2}), b);
  EXPECT_EQ(pool.find_cached(11, Toks{1, 3}), std::nullopt);  // a colliding hash is not a hit
  EXPECT_EQ(pool.find_cached(11, Toks{1}), std::nullopt);
  EXPECT_EQ(pool.find_cached(12, Toks{1, 2}), std::nullopt);
  EXPECT_EQ(pool.ref_count(b), 1);  // lookups take no reference
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, FirstBlockKeepsAnIndexedHash) {
  KvBlockPool pool(4);
  const int32_t a = *pool.allocate(), b = *pool.allocate();
  pool.set_cached(a, 11, Toks{1, 2});
  pool.set_cached(b, 11, Toks{1, 2});  // the same prefix computed twice: b stays private
  EXPECT_TRUE(pool.is_cached(a));
  EXPECT_FALSE(pool.is_cached(b));
  EXPECT_EQ(pool.find_cached(11, Toks{1, 2}), a);
  EXPECT_EQ(pool.n_cached(), 1);
  pool.set_cached(a, 12, Toks{1, 2});  // a block keeps its first hash
  EXPECT_EQ(pool.cached_hash(a), 11u);
  EXPECT_EQ(pool.find_cached(12, Toks{1, 2}), std::nullopt);
  EXPECT_EQ(pool.n_cached(), 1);
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, CachedBlocksStayFindableUntilHandedOutAgain) {
  KvBlockPool pool(2);
  const int32_t a = *pool.allocate();
  pool.set_cached(a, 11, Toks{5});
  pool.decref(a);
  EXPECT_EQ(pool.ref_count(a), 0);
  EXPECT_EQ(pool.find_cached(11, Toks{5}), a);  // free, but its keys/values are still there
  EXPECT_EQ(pool.free_queue(), (Ids{1, 0}));
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.find_cached(11, Toks{5}), a);
  EXPECT_EQ(pool.allocate(), 0);  // now it is overwritten: evicted from the index
  EXPECT_FALSE(pool.is_cached(a));
  EXPECT_EQ(pool.find_cached(11, Toks{5}), std::nullopt);
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_TRUE(consistent(pool));
}

TEST(KvBlockPool, EvictsCachedBlocksLeastRecentlyReleasedFirst) {
  KvBlockPool pool(4);
  for (int32_t b = 0; b < 4; ++b) {
    ASSERT_EQ(pool.allocate(), b);
    pool.set_cached(b, 100 + b, Toks{b});
  }
  for (int32_t b : {2, 0, 3, 1}) pool.decref(b);
  EXPECT_EQ(pool.free_queue(), (Ids{2, 0, 3, 1}));
  EXPECT_EQ(pool.n_cached(), 4);
  EXPECT_TRUE(consistent(pool));

  EXPECT_EQ(pool.allocate(), 2);  // least recently released
  EXPECT_EQ(pool.find_cached(102, Toks{2}), std::nullopt);
  EXPECT_EQ(pool.n_cached(), 3);

  // A prefix hit on 3 takes it back out of the queue: it is no longer an eviction candidate.
  ASSERT_EQ(pool.find_cached(103, Toks{3}), 3);
  pool.incref(3);
  EXPECT_EQ(pool.free_queue(), (Ids{0, 1}));
  EXPECT_TRUE(consistent(pool));
  EXPECT_EQ(pool.allocate(), 0);
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.allocate(), std::nullopt);
  EXPECT_EQ(pool.find_cached(103, Toks{3}), 3);  // still indexed, still held
  EXPECT_EQ(pool.n_cached(), 1);

  // Released again, it goes to the tail and is the next one evicted once the others are held.
  pool.decref(3);
  pool.decref(0);
  EXPECT_EQ(pool.free_queue(), (Ids{3, 0}));
  EXPECT_EQ(pool.allocate(), 3);
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_TRUE(consistent(pool));
}

}  // namespace
}  // namespace latent
