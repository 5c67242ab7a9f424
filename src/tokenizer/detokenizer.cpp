// StreamingDetokenizer and the UTF-8 assembly it relies on (well-formedness per Unicode 15 table
// 3-7, replacement per "U+FFFD Substitution of Maximal Subparts"). Pieces come from Vocab::piece;
// the leading-space rule matches llama2.c run.c decode() (drop ' ' from the piece right after BOS).
#include "tokenizer/detokenizer.h"

#include <cstdint>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace latent {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// For a lead byte: total length of the character and the allowed range of its second byte.
// length 0 marks a byte that can never start a character.
struct LeadInfo {
  int length;
  uint8_t second_min;
  uint8_t second_max;
};

LeadInfo lead_info(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead < 0xC2) return {0, 0, 0};  // continuation byte or overlong 2-byte lead
  if (lead < 0xE0) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};  // no overlong 3-byte forms
  if (lead == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (lead < 0xF0) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};  // no overlong 4-byte forms
  if (lead < 0xF4) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};  // nothing above U+10FFFF
  return {0, 0, 0};
}

}  // namespace

size_t append_valid_utf8(std::string_view bytes, std::string& out) {
  size_t i = 0;
  while (i < bytes.size()) {
    const LeadInfo info = lead_info(static_cast<uint8_t>(bytes[i]));
    if (info.length == 1) {
      out.push_back(bytes[i++]);
      continue;
    }
    if (info.length == 0) {
      out.append(kReplacementChar);
      ++i;
      continue;
    }
    // Check the continuation bytes present so far.
    size_t k = 1;
    bool invalid = false;
    for (; k < static_cast<size_t>(info.length) && i + k < bytes.size(); ++k) {
      const uint8_t byte = static_cast<uint8_t>(bytes[i + k]);
      const uint8_t lo = k == 1 ? info.second_min : 0x80;
      const uint8_t hi = k == 1 ? info.second_max : 0xBF;
      if (byte < lo || byte > hi) {
        invalid = true;
        break;
      }
    }
    if (invalid) {
      out.append(kReplacementChar);  // bytes[i, i+k) is a maximal subpart; resume at the bad byte
      i += k;
      continue;
    }
    if (k < static_cast<size_t>(info.length)) break;  // incomplete: wait for more bytes
    out.append(bytes.substr(i, k));
    i += k;
  }
  return i;
}

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

std::string StreamingDetokenizer::push(TokenId id) {
  const Vocab& vocab = tokenizer_.vocab();
  if (!vocab.contains(id)) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                std::to_string(vocab.n_vocab()) + ")");
  }
  if (id == vocab.bos()) {
    strip_next_space_ = vocab.add_space_prefix();
    return {};
  }
  std::string_view piece = vocab.piece(id);
  if (piece.empty()) return {};
  if (strip_next_space_ && piece.front() == ' ') piece.remove_prefix(1);
  strip_next_space_ = false;

  std::string out;
  if (pending_.empty()) {
    const size_t used = append_valid_utf8(piece, out);
    pending_.assign(piece.substr(used));
  } else {
    pending_.append(piece);
    const size_t used = append_valid_utf8(pending_, out);
    pending_.erase(0, used);
  }
  return out;
}

std::string StreamingDetokenizer::flush() {
  if (pending_.empty()) return {};
  pending_.clear();
  return std::string(kReplacementChar);
}

}  // namespace latent
