// The task's tokenizer: a fixed character vocabulary in SentencePiece ("llama") form, so latent
// and llama.cpp read it like any other GGUF vocabulary. Ids: 0 <unk>, 1 <s>, 2 </s> (control),
// 3 <think>, 4 </think> (user-defined: split out of any text and decoded back to their text), 5 "▁"
// (space), then one normal piece per printable ASCII character and "\n". No byte tokens and no
// multi-character pieces, so SentencePiece's merging never fires and every character is one token;
// characters outside the set become <unk>. add_space_prefix is off: the text is tokenized as is.
#pragma once

#include <cstdint>

#include "tokenizer/vocab.h"

namespace latent {
class GgufWriter;
}

namespace latent::train {

inline constexpr int32_t kArithBos = 1;
inline constexpr int32_t kArithEos = 2;

// The vocabulary as data (Tokenizer::from_vocab takes it directly).
VocabData arith_vocab();
// Writes the tokenizer.ggml.* keys of arith_vocab().
void write_arith_vocab(GgufWriter& writer);

}  // namespace latent::train
