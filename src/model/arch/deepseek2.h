// Forward pass of deepseek2 (DeepSeek-V2, V2-Lite, V3, R1): multi-head latent attention computed in
// the latent space (absorbed up-projections) over a cache of latent + rope rows, and DeepSeekMoE
// (routed experts grouped per batch, shared experts, dense leading layers).
#pragma once

#include <span>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/weights.h"

namespace latent {

void reserve_deepseek2(const ModelConfig& c, int64_t n_tokens, Workspace& ws);

void forward_deepseek2(const ModelConfig& c, const Weights& w, Workspace& ws,
                       std::span<const TokenId> tokens, std::span<const Pos> pos, KvCache& cache,
                       bool all_logits, float* logits);

}  // namespace latent
