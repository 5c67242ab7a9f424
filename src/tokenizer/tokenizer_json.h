// Reading a Hugging Face tokenizer.json (and the tokenizer_config.json beside it) into VocabData,
// so that it tokenizes exactly as the GGUF llama.cpp's converter makes from the same model.
// Byte-level BPE files (ByteLevel pre-tokenizer) become model "gpt2" with the matching
// tokenizer.ggml.pre name; SentencePiece-style BPE files (byte_fallback, "▁" normalizer: Mistral,
// Llama 2) become model "llama". It does not tokenize; Tokenizer does.
#pragma once

#include <string>

#include "tokenizer/vocab.h"

namespace latent {

// Throws latent::Error naming the file and the JSON field for unreadable or unsupported files:
// model types other than BPE (WordPiece, Unigram, ...) and pre-tokenizers that match no known
// tokenizer.ggml.pre (the message lists the known ones).
VocabData read_tokenizer_json(const std::string& path);

}  // namespace latent
