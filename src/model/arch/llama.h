// Forward pass of the llama family: llama (Llama 2/3, Mistral) and qwen2 (adds Q/K/V biases, NEOX
// rope). The differences are flags in ModelConfig; the math is written once.
#pragma once

#include <span>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/weights.h"

namespace latent {

void forward_llama(const ModelConfig& c, const Weights& w, Workspace& ws,
                   std::span<const TokenId> tokens, std::span<const Pos> pos, KvCache& cache,
                   bool all_logits, float* logits);

}  // namespace latent
