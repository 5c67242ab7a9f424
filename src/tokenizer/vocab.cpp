// Vocab construction: reading the tokenizer.ggml.* GGUF keys, validating them, and building the
// lookup tables (text -> id, byte -> id, decoded pieces, special tokens, end-of-generation ids).
// The defaults and the piece rules follow llama.cpp's llama_vocab::impl::load / token_to_piece for
// SPM and BPE vocabularies. Tokenizing and decoding live in spm.cpp, tokenizer.cpp and
// detokenizer.cpp.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "base/error.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/byte_unicode.h"

namespace latent {
namespace {

constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
constexpr std::string_view kKeyTypes = "tokenizer.ggml.token_type";
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁', SentencePiece's space

// Texts of end-of-turn tokens in models whose GGUF has no tokenizer.ggml.eot_token_id (llama.cpp
// detects these by text, too).
constexpr std::string_view kEndOfTurnTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                                "<end_of_turn>", "<|endoftext|>"};
// Texts that end generation wherever they occur (llama.cpp's special_eog_ids list, the part that
// applies to the model families latent knows): end-of-turn and end-of-message markers.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};

// llama.cpp: pre-tokenizers whose models add BOS unless the GGUF says otherwise.
bool bpe_adds_bos_by_default(std::string_view pre) {
  return pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "falcon3";
}

// A special-token id key: absent -> `fallback`; present -> its value, or -1 when the value is
// negative or does not fit (files write 0xFFFFFFFF for "none"). Range against n_vocab is checked by
// Vocab.
TokenId read_token_id(const GgufFile& file, std::string_view key, TokenId fallback) {
  const GgufValue* value = file.find(key);
  if (value == nullptr) return fallback;
  if (!value->is_integer()) {
    throw Error::field(file.path(), key, "an integer token id", gguf_type_name(value->type));
  }
  const bool is_signed = value->type == GgufType::INT8 || value->type == GgufType::INT16 ||
                         value->type == GgufType::INT32 || value->type == GgufType::INT64;
  if (is_signed) return value->i < 0 || value->i > INT32_MAX ? -1 : static_cast<TokenId>(value->i);
  return value->u > static_cast<uint64_t>(INT32_MAX) ? -1 : static_cast<TokenId>(value->u);
}

// The byte a <0xXX> token stands for, or -1 when the text is not of that form.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9') {
      value += c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value += c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      value += c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

std::string replace_space_markers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kSpaceMarker.size()) == kSpaceMarker) {
      out.push_back(' ');
      i += kSpaceMarker.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace

VocabData read_vocab_data(const GgufFile& file) {
  VocabData data;
  data.source = file.path();
  std::optional<std::string> model = file.get_str_opt(kKeyModel);
  if (!model) {
    throw Error::field(file.path(), kKeyModel, "a tokenizer model (\"llama\" or \"gpt2\")",
                       "missing");
  }
  if (*model != "llama" && *model != "gpt2") {
    throw Error::field(file.path(), kKeyModel,
                       "one of the supported tokenizer models: \"llama\" (SentencePiece), \"gpt2\" "
                       "(byte-level BPE)",
                       "\"" + *model + "\"");
  }
  data.model = *model;
  if (data.model == "gpt2") {
    // llama.cpp's defaults for BPE vocabularies.
    data.pre = file.get_str_opt("tokenizer.ggml.pre").value_or("");
    std::optional<std::vector<std::string>> merges =
        file.get_str_array_opt("tokenizer.ggml.merges");
    if (!merges) {
      throw Error::field(file.path(), "tokenizer.ggml.merges", "an array of \"left right\" merges",
                         "missing");
    }
    data.merges = std::move(*merges);
    data.bos = 11;
    data.eos = 11;
    data.unk = -1;
    data.add_bos = bpe_adds_bos_by_default(data.pre);
    data.add_space_prefix = false;
  }

  std::optional<std::vector<std::string>> tokens = file.get_str_array_opt(kKeyTokens);
  if (!tokens) throw Error::field(file.path(), kKeyTokens, "an array of token strings", "missing");
  data.tokens = std::move(*tokens);
  if (std::optional<std::vector<float>> scores = file.get_f32_array_opt(kKeyScores)) {
    data.scores = std::move(*scores);
  }
  if (std::optional<std::vector<int64_t>> types = file.get_int_array_opt(kKeyTypes)) {
    data.types.reserve(types->size());
    for (int64_t t : *types) {
      const bool known = t >= 0 && t <= static_cast<int64_t>(TokenType::kByte);
      data.types.push_back(known ? static_cast<TokenType>(t) : TokenType::kUndefined);
    }
  }

  data.bos = read_token_id(file, "tokenizer.ggml.bos_token_id", data.bos);
  data.eos = read_token_id(file, "tokenizer.ggml.eos_token_id", data.eos);
  data.unk = read_token_id(file, "tokenizer.ggml.unknown_token_id", data.unk);
  data.pad = read_token_id(file, "tokenizer.ggml.padding_token_id", data.pad);
  data.eot = read_token_id(file, "tokenizer.ggml.eot_token_id", data.eot);
  data.eom = read_token_id(file, "tokenizer.ggml.eom_token_id", data.eom);
  data.add_bos = file.get_bool_opt("tokenizer.ggml.add_bos_token").value_or(data.add_bos);
  data.add_eos = file.get_bool_opt("tokenizer.ggml.add_eos_token").value_or(data.add_eos);
  data.add_space_prefix =
      file.get_bool_opt("tokenizer.ggml.add_space_prefix").value_or(data.add_space_prefix);
  return data;
}

Vocab::Vocab(VocabData data)
    : source_(std::move(data.source)),
      model_(std::move(data.model)),
      pre_(std::move(data.pre)),
      merges_(std::move(data.merges)),
      ignore_merges_(data.ignore_merges),
      tokens_(std::move(data.tokens)),
      scores_(std::move(data.scores)),
      types_(std::move(data.types)),
      add_bos_(data.add_bos),
      add_eos_(data.add_eos),
      add_space_prefix_(data.add_space_prefix) {
  if (tokens_.empty()) throw Error::field(source_, kKeyTokens, "at least one token", "0 tokens");
  if (tokens_.size() > static_cast<size_t>(INT32_MAX)) {
    throw Error::field(source_, kKeyTokens, "at most 2^31-1 tokens",
                       std::to_string(tokens_.size()));
  }
  const std::string n_tokens = std::to_string(tokens_.size()) + " entries (one per token)";
  if (scores_.empty()) scores_.assign(tokens_.size(), 0.0f);
  if (scores_.size() != tokens_.size()) {
    throw Error::field(source_, kKeyScores, n_tokens, std::to_string(scores_.size()) + " entries");
  }
  if (types_.empty()) types_.assign(tokens_.size(), TokenType::kNormal);
  if (types_.size() != tokens_.size()) {
    throw Error::field(source_, kKeyTypes, n_tokens, std::to_string(types_.size()) + " entries");
  }
  auto in_range = [&](TokenId id) { return contains(id) ? id : -1; };
  bos_ = in_range(data.bos);
  eos_ = in_range(data.eos);
  unk_ = in_range(data.unk);
  pad_ = in_range(data.pad);
  eot_ = in_range(data.eot);
  build_lookups();
  build_specials(in_range(data.eom));
}

void Vocab::build_lookups() {
  text_to_id_.reserve(tokens_.size());
  pieces_.resize(tokens_.size());
  for (TokenId id = 0; id < n_vocab(); ++id) {
    const std::string& text = tokens_[static_cast<size_t>(id)];
    // First occurrence wins for duplicated texts; empty texts can never be matched.
    if (!text.empty()) text_to_id_.emplace(text, id);
    std::string& piece = pieces_[static_cast<size_t>(id)];
    switch (type(id)) {
      case TokenType::kNormal:
        piece = is_byte_level() ? unicode_to_bytes(text) : replace_space_markers(text);
        break;
      case TokenType::kByte: {
        const int byte = parse_byte_token(text);
        piece = byte >= 0 ? std::string(1, static_cast<char>(byte)) : text;
        break;
      }
      case TokenType::kUserDefined:
        piece = text;
        break;
      default:  // control, unknown, unused, undefined: nothing in plain text (llama.cpp
                // special=false)
        break;
    }
  }
  for (int byte = 0; byte < 256; ++byte) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const char name[] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
    TokenId id = find(std::string_view(name, sizeof(name)));
    if (id < 0 && is_byte_level()) id = find(byte_to_unicode(static_cast<uint8_t>(byte)));
    if (id < 0) id = find(std::string_view(std::string(1, static_cast<char>(byte))));
    byte_tokens_[byte] = id >= 0 ? id : unk_;
  }
}

void Vocab::build_specials(TokenId eom) {
  for (TokenId id = 0; id < n_vocab(); ++id) {
    const TokenType t = type(id);
    const bool special =
        t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
    if (special && !text(id).empty()) special_tokens_.push_back(id);
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [&](TokenId a, TokenId b) { return text(a).size() > text(b).size(); });

  if (eot_ < 0) {
    for (std::string_view candidate : kEndOfTurnTexts) {
      const TokenId id = find(candidate);
      if (id >= 0 && id != eos_) {
        eot_ = id;
        break;
      }
    }
  }
  std::vector<TokenId> eog = {eos_, eot_, eom};
  for (std::string_view candidate : kEndOfGenerationTexts) {
    const TokenId id = find(candidate);
    if (id >= 0) eog.push_back(id);
  }
  for (TokenId id : eog) {
    if (id >= 0 && std::find(eog_ids_.begin(), eog_ids_.end(), id) == eog_ids_.end()) {
      eog_ids_.push_back(id);
    }
  }
}

TokenId Vocab::find(std::string_view text) const {
  auto it = text_to_id_.find(text);
  return it == text_to_id_.end() ? -1 : it->second;
}

bool Vocab::is_eog(TokenId id) const {
  return id >= 0 && std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end();
}

}  // namespace latent
