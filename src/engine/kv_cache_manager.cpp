#include "engine/kv_cache_manager.h"

#include <algorithm>
#include <span>

#include "base/check.h"

namespace latent {

KvCacheManager::KvCacheManager(int32_t n_blocks, int32_t block_size, bool prefix_caching)
    : block_size_(block_size), prefix_caching_(prefix_caching), pool_(n_blocks) {
  LATENT_CHECK_MSG(block_size > 0, "KV block size must be positive");
}

double KvCacheManager::usage() const {
  return static_cast<double>(pool_.n_used()) / static_cast<double>(pool_.n_total());
}

int32_t KvCacheManager::blocks_for(int32_t n_tokens) const {
  LATENT_CHECK(n_tokens >= 0);
  return (n_tokens + block_size_ - 1) / block_size_;
}

std::span<const TokenId> KvCacheManager::block_tokens(const Sequence& seq, int32_t i) const {
  return std::span<const TokenId>(seq.tokens)
      .subspan(static_cast<size_t>(i) * block_size_, block_size_);
}

int32_t KvCacheManager::attach_cached_prefix(Sequence& seq) {
  LATENT_CHECK_MSG(seq.block_table.empty(), "attach_cached_prefix needs an empty block table");
  int32_t hits = 0;
  if (prefix_caching_ && !seq.tokens.empty()) {
    // Only blocks that lie wholly before the last token: that token must run through the model
    // for the logits of the next sample, so at least one token is always left to compute.
    const int32_t n_candidates = (static_cast<int32_t>(seq.tokens.size()) - 1) / block_size_;
    uint64_t hash = kRootBlockHash;
    for (int32_t i = 0; i < n_candidates; ++i) {
      const std::span<const TokenId> tokens = block_tokens(seq, i);
      hash = block_hash(hash, tokens);
      const std::optional<int32_t> block = pool_.find_cached(hash, tokens);
      if (!block) break;  // the chain is broken: no later block can match this prefix
      pool_.incref(*block);
      seq.block_table.push_back(*block);
      ++hits;
    }
  }
  seq.n_computed = seq.n_prefix_hit = hits * block_size_;
  return seq.n_prefix_hit;
}

bool KvCacheManager::allocate_slots(Sequence& seq, int32_t n_new, std::vector<BlockCopy>& copies) {
  LATENT_CHECK(n_new >= 0);
  if (n_new == 0) return true;  // nothing is written, so nothing to allocate or copy
  const int32_t table_size = static_cast<int32_t>(seq.block_table.size());
  const int32_t n_needed = std::max(0, blocks_for(seq.n_computed + n_new) - table_size);
  // The first new token goes into block n_computed / block_size; when that block is already in
  // the table and shared (a fork's partly filled last block), writing it would change what the
  // siblings see, so this sequence writes into a private copy instead.
  const int32_t write_block = seq.n_computed / block_size_;
  const bool cow = write_block < table_size && pool_.ref_count(seq.block_table[write_block]) > 1;
  // All-or-nothing: every block this call needs must be free before anything is touched, so the
  // scheduler can preempt and retry from an unchanged state.
  if (n_needed + (cow ? 1 : 0) > pool_.n_free()) return false;
  if (cow) {
    const int32_t src = seq.block_table[write_block];
    const int32_t dst = *pool_.allocate();
    copies.push_back({src, dst});
    pool_.decref(src);  // still referenced by the siblings, so it stays out of the free queue
    seq.block_table[write_block] = dst;
  }
  for (int32_t i = 0; i < n_needed; ++i) seq.block_table.push_back(*pool_.allocate());
  return true;
}

void KvCacheManager::cache_full_blocks(const Sequence& seq) {
  if (!prefix_caching_) return;
  const int32_t n_full = seq.n_computed / block_size_;
  LATENT_CHECK_MSG(n_full <= static_cast<int32_t>(seq.block_table.size()),
                   "computed tokens beyond the block table");
  // A cached block in the table is only ever there because its whole prefix matched (a hit, a
  // fork, or this function), so its hash is this sequence's chain hash at that block: resume the
  // chain after the last indexed block instead of rehashing every token each step. Blocks before
  // it that are not indexed lost the race for their hash to another block and stay private.
  int32_t first = n_full;
  while (first > 0 && !pool_.is_cached(seq.block_table[first - 1])) --first;
  uint64_t hash = first > 0 ? pool_.cached_hash(seq.block_table[first - 1]) : kRootBlockHash;
  for (int32_t i = first; i < n_full; ++i) {
    const std::span<const TokenId> tokens = block_tokens(seq, i);
    hash = block_hash(hash, tokens);
    pool_.set_cached(seq.block_table[i], hash, tokens);  // no-op if another block has the hash
  }
}

void KvCacheManager::fork(const Sequence& parent, Sequence& child) {
  LATENT_CHECK_MSG(child.block_table.empty(), "fork into a sequence that still holds blocks");
  child.tokens = parent.tokens;
  child.n_prompt = parent.n_prompt;
  child.n_computed = parent.n_computed;
  child.block_table = parent.block_table;
  // Sharing is by reference count; the first write into a shared block copies it.
  for (const int32_t block : child.block_table) pool_.incref(block);
}

void KvCacheManager::free(Sequence& seq) {
  // Last block first: the free queue evicts from its head, so the prefix's first blocks, the
  // ones most likely shared by the next request, are evicted last.
  for (auto it = seq.block_table.rbegin(); it != seq.block_table.rend(); ++it) pool_.decref(*it);
  seq.block_table.clear();
  seq.n_computed = 0;
}

}  // namespace latent
