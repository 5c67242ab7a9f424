// KvCacheManager: gives sequences the blocks they need — prefix-cache hits at admission, new
// blocks as they grow, copy-on-write of shared blocks (n > 1 samples share their prompt's
// blocks), registration of newly full blocks in the prefix cache, and release. Works on Sequence
// block tables and the KvBlockPool; the copies it decides on are returned for the engine to run on
// the PagedKvCache memory before the next forward.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/block_pool.h"
#include "engine/sequence.h"

namespace latent {

struct BlockCopy {
  int32_t src = -1, dst = -1;
  bool operator==(const BlockCopy&) const = default;
};

class KvCacheManager {
 public:
  KvCacheManager(int32_t n_blocks, int32_t block_size, bool prefix_caching = true);

  int32_t block_size() const { return block_size_; }
  KvBlockPool& pool() { return pool_; }
  const KvBlockPool& pool() const { return pool_; }
  double usage() const;                        // used / total blocks, 0..1
  int32_t blocks_for(int32_t n_tokens) const;  // ceil(n_tokens / block_size)

  // For a sequence with an empty table: takes references on the longest run of cached full
  // blocks that prefix its tokens, never covering the last token (it must be computed to get
  // logits). Sets block_table, n_computed and n_prefix_hit; returns the tokens hit.
  int32_t attach_cached_prefix(Sequence& seq);
  // Makes block_table cover n_computed + n_new tokens. A shared block (reference count > 1) that
  // the new tokens would write into is first replaced by a private copy (appended to copies).
  // Returns false and changes nothing when the pool has too few free blocks.
  bool allocate_slots(Sequence& seq, int32_t n_new, std::vector<BlockCopy>& copies);
  // Indexes every full block of seq's computed tokens that is not indexed yet.
  void cache_full_blocks(const Sequence& seq);
  // child gets parent's tokens, n_computed and a table sharing all of parent's blocks (incref).
  void fork(const Sequence& parent, Sequence& child);
  // Drops the sequence's references, last block first (so a prefix stays cached longest), and
  // clears its table and n_computed.
  void free(Sequence& seq);

 private:
  // Tokens of seq's i-th block (the caller makes sure it is full).
  std::span<const TokenId> block_tokens(const Sequence& seq, int32_t i) const;

  int32_t block_size_;
  bool prefix_caching_;
  KvBlockPool pool_;
};

}  // namespace latent
