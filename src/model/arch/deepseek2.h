// Forward pass of deepseek2 (DeepSeek-V2, V2-Lite, V3, R1): multi-head latent attention computed in
// the latent space (absorbed up-projections) over a cache of latent + rope rows, and DeepSeekMoE
// (routed experts grouped per batch, shared experts, dense leading layers).
#pragma once

#include <span>

#include "model/config.h"
#include "model/forward_batch.h"
#include "model/model.h"
#include "model/paged_kv_cache.h"
#include "model/weights.h"

namespace latent {

void reserve_deepseek2(const ModelConfig& c, int64_t n_tokens, Workspace& ws);

// Runs a validated batch (Model::forward checked it; ws.token_tables holds each row's table).
void forward_deepseek2(const ModelConfig& c, const Weights& w, Workspace& ws,
                       const ForwardBatch& batch, PagedKvCache& cache, float* logits);

}  // namespace latent
