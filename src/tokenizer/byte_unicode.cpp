// GPT-2's bytes_to_unicode(): the printable Latin-1 bytes '!'..'~', '¡'..'¬', '®'..'ÿ' map to
// themselves; the other 68 bytes, in increasing order, map to U+0100, U+0101, ... (U+0100 + n).
#include "tokenizer/byte_unicode.h"

#include <array>

namespace latent {
namespace {

bool maps_to_itself(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {  // the table only reaches U+0143: two bytes suffice
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

struct Tables {
  std::array<std::string, 256> byte_text;
  std::array<int16_t, 0x144> cp_to_byte;  // -1: not in the table
  Tables() {
    cp_to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int byte = 0; byte < 256; ++byte) {
      const uint32_t cp = maps_to_itself(byte) ? static_cast<uint32_t>(byte) : next++;
      append_utf8(cp, byte_text[static_cast<size_t>(byte)]);
      cp_to_byte[cp] = static_cast<int16_t>(byte);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string_view byte_to_unicode(uint8_t byte) {
  return tables().byte_text[byte];
}

std::string unicode_to_bytes(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const uint8_t lead = static_cast<uint8_t>(text[i]);
    size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (lead >= 0x80 && lead < 0xC0) length = 1;
    if (i + length > text.size()) length = text.size() - i;
    uint32_t cp = 0x110000;
    if (length == 1 && lead < 0x80) {
      cp = lead;
    } else if (length == 2 && lead >= 0xC0) {
      cp = ((lead & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
    }
    if (cp < t.cp_to_byte.size() && t.cp_to_byte[cp] >= 0) {
      out.push_back(static_cast<char>(t.cp_to_byte[cp]));
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

}  // namespace latent
