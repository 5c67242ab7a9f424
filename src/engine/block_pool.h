// KvBlockPool: ownership of the PagedKvCache's blocks — reference counts, the free queue in
// eviction order, and the prefix-cache index (hash of a full block's token chain → block).
// Blocks with no references stay indexed until they are handed out again, so a later request with
// the same prefix can take them back (LRU eviction of unreferenced cached blocks). Knows nothing
// about sequences or memory.
//
// Invariant after every operation: n_free() + n_used() == n_total(), where "free" counts every
// block with reference count 0 (cached or not) and "used" every block with a reference.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/ids.h"

namespace latent {

// Hash of a full block: chained over the previous block's hash and this block's tokens, so equal
// hashes mean equal whole prefixes (the pool also compares the block's own tokens on lookup).
uint64_t block_hash(uint64_t parent_hash, std::span<const TokenId> block_tokens);
inline constexpr uint64_t kRootBlockHash = 0x6c6174656e74ULL;  // parent hash of a first block

class KvBlockPool {
 public:
  explicit KvBlockPool(int32_t n_blocks);

  int32_t n_total() const;
  int32_t n_free() const;  // reference count 0 (includes cached blocks that may be reused)
  int32_t n_used() const { return n_total() - n_free(); }
  int32_t ref_count(int32_t block) const;

  // Takes the block at the head of the free queue (least recently freed), drops its prefix-cache
  // entry if it had one, and returns it with reference count 1; nullopt when none is free.
  std::optional<int32_t> allocate();
  // Adds a reference; a block with count 0 leaves the free queue (a prefix-cache hit).
  void incref(int32_t block);
  // Drops a reference; at 0 the block goes to the tail of the free queue and stays in the
  // prefix-cache index until allocate() hands it out.
  void decref(int32_t block);

  // The cached block whose hash is `hash` and whose tokens equal `tokens`, if indexed (does not
  // change reference counts).
  std::optional<int32_t> find_cached(uint64_t hash, std::span<const TokenId> tokens) const;
  // Indexes a full, referenced block under hash (no-op if that hash is already indexed, or if the
  // block already is under its first hash).
  void set_cached(int32_t block, uint64_t hash, std::span<const TokenId> tokens);
  bool is_cached(int32_t block) const;
  // The hash an indexed block is cached under (checked: is_cached(block)). Lets the manager resume
  // a sequence's hash chain at its last indexed block instead of rehashing from the first token.
  uint64_t cached_hash(int32_t block) const;
  int32_t n_cached() const;

  // Free queue from next-to-allocate to last (tests).
  std::vector<int32_t> free_queue() const;

 private:
  void check_id(int32_t block) const;
  void unlink(int32_t block);     // O(1) removal from anywhere in the free queue
  void push_tail(int32_t block);  // append to the free queue
  void uncache(int32_t block);    // drop the block's prefix-cache entry, if any

  std::vector<int32_t> ref_;
  // The free queue is an intrusive doubly linked list over block ids (-1 = none), so a prefix
  // hit can take a block out of the middle in O(1).
  std::vector<int32_t> prev_, next_;
  int32_t head_ = -1, tail_ = -1, n_free_ = 0;
  std::vector<uint64_t> hash_of_;                // valid when cached_[b]
  std::vector<uint8_t> cached_;                  // block is the index entry for hash_of_[b]
  std::vector<std::vector<TokenId>> tokens_of_;  // a cached block's tokens, for find_cached
  std::unordered_map<uint64_t, int32_t> index_;  // hash -> cached block
};

}  // namespace latent
