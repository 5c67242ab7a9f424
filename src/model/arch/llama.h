// Forward pass of the llama family: llama (Llama 2/3, Mistral) and qwen2 (adds Q/K/V biases, NEOX
// rope). The differences are flags in ModelConfig; the math is written once.
#pragma once

#include <span>

#include "model/config.h"
#include "model/forward_batch.h"
#include "model/model.h"
#include "model/paged_kv_cache.h"
#include "model/weights.h"

namespace latent {

// Runs a validated batch (Model::forward checked it; ws.token_tables holds each row's table).
void forward_llama(const ModelConfig& c, const Weights& w, Workspace& ws, const ForwardBatch& batch,
                   PagedKvCache& cache, float* logits);

}  // namespace latent
