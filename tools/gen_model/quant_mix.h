// tools/gen_model/quant_mix.h: llama.cpp's Q4_K_M and Q5_K_M per-tensor type mixes for
// latent-gen-model's llama/qwen2 writer (`--type q4_k_m | q5_k_m`). Owns only the rule that picks
// a matrix's dtype; generating and writing the values is random_weights.h's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tensor/dtype.h"

namespace latent::gen {

// The rule, as llama.cpp's quantizer applies it to a dense llama/qwen2 model (src/llama-quant.cpp,
// llama_tensor_get_type_impl and tensor_type_fallback, master 3f545bec):
//   - base type Q4_K (q4_k_m) or Q5_K (q5_k_m) for every matrix not named below;
//   - output.weight — or token_embd.weight when the output is tied to it — Q6_K;
//   - token_embd.weight when not tied: the base type;
//   - attn_v.weight and ffn_down.weight of layer i of n: Q6_K when use_more_bits(i, n), i.e.
//     i < n/8, i >= 7n/8 or (i - n/8) % 3 == 2 (the first and last eighth and every third layer
//     between), else the base type;
//   - a matrix whose rows are not a multiple of the type's block falls back: Q4_K → Q5_0,
//     Q5_K → Q5_1, Q6_K → Q8_0, then F32 (where llama.cpp would use F16).
// Not modelled: the MoE rules (n_expert == 8), the 70B attn_v bump and Falcon's rules; deepseek2
// files written with a mix use the base type everywhere.
struct QuantMix {
  DType base;
  uint32_t file_type;  // general.file_type: LLAMA_FTYPE_MOSTLY_Q4_K_M = 15, _Q5_K_M = 17
};

inline std::optional<QuantMix> quant_mix_from_name(const std::string& type) {
  if (type == "q4_k_m") return QuantMix{DType::Q4_K, 15};
  if (type == "q5_k_m") return QuantMix{DType::Q5_K, 17};
  return std::nullopt;
}

inline bool use_more_bits(int64_t i_layer, int64_t n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

// The dtype of a matrix with rows of `cols` values; more_bits: one of the Q6_K tensors above.
inline DType quant_mix_type(const QuantMix& mix, bool more_bits, int64_t cols) {
  const DType t = more_bits ? DType::Q6_K : mix.base;
  if (cols % traits(t).block_size == 0) return t;
  const DType f = t == DType::Q4_K   ? DType::Q5_0
                  : t == DType::Q5_K ? DType::Q5_1
                  : t == DType::Q6_K ? DType::Q8_0
                                     : DType::F32;
  return cols % traits(f).block_size == 0 ? f : DType::F32;
}

}  // namespace latent::gen
