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

// The chat template: the model was trained on single questions ("<s>What is 48*17?" then the
// reply), so a conversation renders as its last user message in exactly that form. The reply opens
// with <think>, which the template names so that `latent serve` splits reasoning_content out.
inline constexpr const char* kArithChatTemplate =
    "{#- latent-arith: one question per prompt; the reply is <think>...</think> then the answer "
    "-#}\n"
    "{{ bos_token }}{% for m in messages %}{% if loop.last and m.role == 'user' %}{{ m.content }}"
    "{% endif %}{% endfor %}";

// The vocabulary as data (Tokenizer::from_vocab takes it directly).
VocabData arith_vocab();
// Writes the tokenizer.ggml.* keys of arith_vocab() and tokenizer.chat_template.
void write_arith_vocab(GgufWriter& writer);

}  // namespace latent::train
