// ForwardBatch: one forward call's tokens from any number of sequences (continuous batching). Each
// token names its sequence's block table; positions index into that table, so position p of a
// sequence lives in block table[p / block_size], row p % block_size of the PagedKvCache.
#pragma once

#include <cstdint>
#include <span>

#include "base/ids.h"

namespace latent {

struct ForwardBatch {
  std::span<const TokenId> tokens;     // T tokens; a sequence's tokens may appear in any order
  std::span<const Pos> positions;      // T absolute positions within their sequences
  std::span<const int32_t> seq_index;  // T entries: which block_tables entry each token uses
  // Per sequence in the batch: block ids covering positions 0..max(position of its tokens).
  std::span<const std::span<const int32_t>> block_tables;
  // Batch rows whose logits are wanted, ascending; logits[i] belongs to row logit_rows[i].
  std::span<const int32_t> logit_rows;
};

}  // namespace latent
