// The GPT-2 byte <-> unicode mapping of byte-level BPE vocabularies (OpenAI's bytes_to_unicode(),
// used by Hugging Face's ByteLevel pre-tokenizer/decoder and llama.cpp's unicode_byte_to_utf8):
// every byte is a printable code point, so a token text is a string of such code points. Owns only
// the table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace latent {

// UTF-8 of the code point that stands for `byte` in byte-level BPE token texts ("Ġ" for ' ').
std::string_view byte_to_unicode(uint8_t byte);

// The bytes a byte-level token text stands for: each code point of the table becomes its byte; any
// other code point (added tokens, malformed vocabularies) is kept as its own UTF-8.
std::string unicode_to_bytes(std::string_view token_text);

}  // namespace latent
