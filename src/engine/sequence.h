// Sequence: what the scheduler and the KV-cache manager know about one sequence — its tokens, how
// many of them have keys/values in the cache, and its block table. Sampling, stop rules and text
// belong to the engine core (engine_core.h), which owns the Sequence objects.
#pragma once

#include <cstdint>
#include <vector>

#include "base/ids.h"

namespace latent {

enum class SeqStatus { kWaiting, kRunning, kFinished };

struct Sequence {
  SeqId id = -1;
  std::vector<TokenId> tokens;  // prompt, then generated tokens
  int32_t n_prompt = 0;
  // tokens[0, n_computed) have keys/values in the blocks of block_table. A token sampled last
  // step is in tokens but not yet computed.
  int32_t n_computed = 0;
  // Prompt tokens found in the prefix cache when the sequence was (last) admitted.
  int32_t n_prefix_hit = 0;
  std::vector<int32_t> block_table;
  SeqStatus status = SeqStatus::kWaiting;
  int32_t n_preemptions = 0;
  // Tokens that still need a forward pass before the next sample.
  int32_t n_pending() const { return static_cast<int32_t>(tokens.size()) - n_computed; }
};

}  // namespace latent
