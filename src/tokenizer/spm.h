// SentencePiece-style subword tokenization of one text fragment (the "llama" tokenizer model):
// whitespace escaping and greedy bigram merging by vocabulary score with byte fallback. Behaviour
// matches llama.cpp's llm_tokenizer_spm_session and llama2.c's encode(). It does not split out
// special tokens, add a space prefix or add BOS/EOS; Tokenizer::encode does that around it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "tokenizer/vocab.h"

namespace latent {

// ' ' -> "▁" (U+2581), the only whitespace SentencePiece's llama models escape.
std::string escape_spaces(std::string_view text);

// Appends the tokens of `escaped_text` (already space-escaped) to `out`:
// 1. split into UTF-8 characters (the length comes from the lead byte, clamped to the text's end,
// so
//    malformed UTF-8 still makes progress);
// 2. repeatedly merge the adjacent pair whose concatenation is a vocabulary token with the highest
//    score, the leftmost pair on ties;
// 3. emit each remaining symbol's token, or, for a symbol not in the vocabulary, one byte token
//    (<0xXX>) per byte, falling back to the unknown token when the vocabulary lacks that byte
//    token.
// Throws latent::Error if a byte has neither a byte token nor an unknown token to stand for it.
void spm_tokenize(const Vocab& vocab, std::string_view escaped_text, std::vector<TokenId>& out);

}  // namespace latent
