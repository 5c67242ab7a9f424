// StreamingDetokenizer: turns generated token ids into text one id at a time, emitting only
// complete, valid UTF-8 (byte-fallback tokens like <0xE2><0x96><0x81> are held back until the
// character is whole). Owns the UTF-8 assembly and the "no space after BOS" rule; piece texts come
// from the Vocab. Tokenizer::decode is defined as this class run over the whole sequence.
#pragma once

#include <string>
#include <string_view>

#include "base/ids.h"

namespace latent {

class Tokenizer;

class StreamingDetokenizer {
 public:
  // Keeps a reference: the tokenizer must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer);

  // Appends the token's piece and returns the text that became complete: always valid UTF-8,
  // possibly empty (a partial multi-byte character stays pending). The first piece after a BOS
  // loses one leading space when the vocabulary adds a space prefix (llama2.c, SentencePiece).
  // Bytes that can never form valid UTF-8 (a stray continuation byte, 0xC0, 0xFF, an overlong or
  // surrogate form) are replaced by U+FFFD, one per maximal invalid subpart (Unicode ch. 3, "U+FFFD
  // substitution"). Throws latent::Error for an id outside [0, n_vocab).
  std::string push(TokenId id);

  // Ends the stream: a pending incomplete character (the generation stopped inside it) becomes one
  // U+FFFD rather than being dropped, so a truncation stays visible. The object can then be reused
  // for a continuation (pending bytes cleared; the after-BOS state is kept).
  std::string flush();

  // Bytes held back waiting for the rest of a UTF-8 character (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
  bool strip_next_space_ = false;
};

// Appends to `out` the longest prefix of `bytes` that can be decided now: complete valid characters
// as they are, invalid subparts as U+FFFD. Returns how many bytes of `bytes` it consumed; the rest
// is an incomplete but so far valid character (at most 3 bytes). Exposed for tests.
size_t append_valid_utf8(std::string_view bytes, std::string& out);

}  // namespace latent
