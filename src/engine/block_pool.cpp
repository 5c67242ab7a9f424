#include "engine/block_pool.h"

#include <algorithm>
#include <bit>
#include <string>

#include "base/check.h"

namespace latent {

namespace {

// xxHash64's primes and round/avalanche: every input bit reaches every output bit, and a round
// is a multiply + rotate, cheap enough to hash every token of a long prompt at admission.
constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

uint64_t round(uint64_t acc, uint64_t input) {
  acc += input * kPrime2;
  acc = std::rotl(acc, 31);
  return acc * kPrime1;
}

uint64_t avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t block_hash(uint64_t parent_hash, std::span<const TokenId> block_tokens) {
  // The parent goes through a full round first so that equal tokens under different prefixes
  // diverge from the first token on; the length is mixed in so a block is never confused with
  // its own prefix padded by tokens that happen to hash to zero.
  uint64_t h = round(kPrime5, parent_hash) + block_tokens.size() * kPrime3;
  // Two 32-bit ids per 64-bit lane: half the rounds of hashing them one by one.
  size_t i = 0;
  for (; i + 1 < block_tokens.size(); i += 2) {
    const uint64_t lane = static_cast<uint64_t>(static_cast<uint32_t>(block_tokens[i])) |
                          static_cast<uint64_t>(static_cast<uint32_t>(block_tokens[i + 1])) << 32;
    h = round(h, lane);
  }
  if (i < block_tokens.size()) h = round(h, static_cast<uint32_t>(block_tokens[i]) ^ kPrime5);
  return avalanche(h);
}

KvBlockPool::KvBlockPool(int32_t n_blocks)
    : ref_(n_blocks, 0),
      prev_(n_blocks),
      next_(n_blocks),
      hash_of_(n_blocks, 0),
      cached_(n_blocks, 0),
      tokens_of_(n_blocks) {
  LATENT_CHECK_MSG(n_blocks > 0, "a KV block pool needs at least one block");
  // Free queue 0, 1, ..., n-1: the first allocations hand out blocks in id order.
  for (int32_t b = 0; b < n_blocks; ++b) {
    prev_[b] = b - 1;
    next_[b] = b + 1 < n_blocks ? b + 1 : -1;
  }
  head_ = 0;
  tail_ = n_blocks - 1;
  n_free_ = n_blocks;
}

int32_t KvBlockPool::n_total() const {
  return static_cast<int32_t>(ref_.size());
}
int32_t KvBlockPool::n_free() const {
  return n_free_;
}

void KvBlockPool::check_id(int32_t block) const {
  LATENT_CHECK_MSG(block >= 0 && block < n_total(),
                   "block id " + std::to_string(block) + " out of range");
}

int32_t KvBlockPool::ref_count(int32_t block) const {
  check_id(block);
  return ref_[block];
}

void KvBlockPool::unlink(int32_t block) {
  const int32_t p = prev_[block], n = next_[block];
  (p >= 0 ? next_[p] : head_) = n;
  (n >= 0 ? prev_[n] : tail_) = p;
  prev_[block] = next_[block] = -1;
  --n_free_;
}

void KvBlockPool::push_tail(int32_t block) {
  prev_[block] = tail_;
  next_[block] = -1;
  (tail_ >= 0 ? next_[tail_] : head_) = block;
  tail_ = block;
  ++n_free_;
}

void KvBlockPool::uncache(int32_t block) {
  if (!cached_[block]) return;
  index_.erase(hash_of_[block]);
  cached_[block] = 0;
  tokens_of_[block].clear();
  tokens_of_[block].shrink_to_fit();
}

std::optional<int32_t> KvBlockPool::allocate() {
  if (head_ < 0) return std::nullopt;
  const int32_t block = head_;
  unlink(block);
  // Handing the block out means its contents will be overwritten: it no longer holds the prefix
  // it was indexed under (this is the LRU eviction of the prefix cache).
  uncache(block);
  ref_[block] = 1;
  return block;
}

void KvBlockPool::incref(int32_t block) {
  check_id(block);
  if (ref_[block] == 0) unlink(block);
  ++ref_[block];
}

void KvBlockPool::decref(int32_t block) {
  check_id(block);
  LATENT_CHECK_MSG(ref_[block] > 0, "decref of free block " + std::to_string(block));
  // Tail: the most recently released block is evicted last, so a prefix used a moment ago
  // survives longest.
  if (--ref_[block] == 0) push_tail(block);
}

std::optional<int32_t> KvBlockPool::find_cached(uint64_t hash,
                                                std::span<const TokenId> tokens) const {
  const auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  // A 64-bit collision is unlikely but would silently serve another prompt's keys; the block's own
  // tokens are compared to rule it out for this block (parents were compared when they were hit).
  const std::vector<TokenId>& stored = tokens_of_[it->second];
  if (!std::ranges::equal(stored, tokens)) return std::nullopt;
  return it->second;
}

void KvBlockPool::set_cached(int32_t block, uint64_t hash, std::span<const TokenId> tokens) {
  check_id(block);
  LATENT_CHECK_MSG(ref_[block] > 0, "only a referenced block can be indexed");
  // A block keeps the hash it was first indexed under (its full contents never change while
  // referenced), and a hash keeps the first block indexed under it: a duplicate computed by
  // another sequence at the same time stays private and is simply not shared.
  if (cached_[block] || index_.contains(hash)) return;
  index_.emplace(hash, block);
  cached_[block] = 1;
  hash_of_[block] = hash;
  tokens_of_[block].assign(tokens.begin(), tokens.end());
}

bool KvBlockPool::is_cached(int32_t block) const {
  check_id(block);
  return cached_[block] != 0;
}

uint64_t KvBlockPool::cached_hash(int32_t block) const {
  LATENT_CHECK_MSG(is_cached(block), "block " + std::to_string(block) + " is not indexed");
  return hash_of_[block];
}

int32_t KvBlockPool::n_cached() const {
  return static_cast<int32_t>(index_.size());
}

std::vector<int32_t> KvBlockPool::free_queue() const {
  std::vector<int32_t> out;
  out.reserve(n_free_);
  for (int32_t b = head_; b >= 0; b = next_[b]) out.push_back(b);
  return out;
}

}  // namespace latent
