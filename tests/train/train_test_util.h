// Shared helpers of the train tests: small model shapes and deterministic perturbations.
#pragma once

#include <cstdint>

#include "train/arith_vocab.h"
#include "train/params.h"

namespace latent::train::test {

// A model small enough for finite differences: 2 layers, 4 query heads sharing 2 kv heads.
inline ModelDims grad_dims(bool tied) {
  ModelDims d;
  d.n_vocab = static_cast<int32_t>(arith_vocab().tokens.size());
  d.n_embd = 16, d.n_layer = 2, d.n_head = 4, d.n_head_kv = 2, d.n_ff = 24, d.n_ctx = 32;
  d.tied_output = tied;
  return d;
}

// Initialises p with larger weights than training would (sd 0.2 instead of 0.02) and norm gains
// spread around 1, so every gradient is well away from zero and rounding.
inline void init_for_checks(ParamSet& p, uint64_t seed) {
  p.init_random(seed);
  uint64_t s = seed + 77;
  for (const ParamTensor& t : p.tensors()) {
    float* x = p.data() + t.offset;
    for (int64_t i = 0; i < t.size; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const float u = static_cast<float>((s >> 40) & 0xFFFF) / 65536.0f;  // [0, 1)
      x[i] = t.decay ? x[i] * 10.0f : 0.5f + u;
    }
  }
}

}  // namespace latent::train::test
