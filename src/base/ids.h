// Id types shared by every layer, in the GGUF/llama.cpp vocabulary.
#pragma once

#include <cstdint>

namespace latent {

using TokenId = int32_t;  // index into the vocabulary
using Pos = int32_t;      // position of a token in its sequence
using SeqId = int32_t;    // a sequence in the engine

}  // namespace latent
