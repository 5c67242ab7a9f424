// Vocab: the token table of a tokenizer (texts, scores, token types, special ids, add_* flags) and
// the lookups built from it (text -> id, byte -> id, decoded pieces, special-token list,
// end-of-generation set). Loads it from the tokenizer.ggml.* keys of a GGUF file or from plain data
// (tests); tokenizer_json.h reads Hugging Face tokenizer.json into the same VocabData. Byte-level
// BPE vocabularies (model "gpt2") also carry merges and a pre-tokenizer name. It does not tokenize
// or decode text; spm.h, bpe.h and detokenizer.h do.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/ids.h"

namespace latent {

class GgufFile;

// tokenizer.ggml.token_type values (SentencePiece's ModelProto.SentencePiece.Type, as written by
// llama.cpp's convert scripts).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// The vocabulary as plain data, before validation. Defaults are those llama.cpp uses for
// tokenizer.ggml.model = "llama" when a key is absent (read_vocab_data sets the "gpt2" ones).
struct VocabData {
  std::string source = "<memory>";  // file path, for error messages
  std::string model = "llama";      // tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (BPE)
  std::string pre;                  // tokenizer.ggml.pre ("gpt2" only; "" = llama.cpp's default)
  std::vector<std::string> merges;  // tokenizer.ggml.merges, "left right", rank = index ("gpt2")
  bool ignore_merges = false;       // a word that is a token is not merged (HF BPE ignore_merges)
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens (required, non-empty)
  std::vector<float> scores;        // tokenizer.ggml.scores; empty -> all 0
  std::vector<TokenType> types;     // tokenizer.ggml.token_type; empty -> all kNormal
  TokenId bos = 1;                  // -1: none
  TokenId eos = 2;
  TokenId unk = 0;
  TokenId pad = -1;
  TokenId eot = -1;
  TokenId eom = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;
};

// Reads the tokenizer.ggml.* keys. Throws latent::Error for a missing or malformed vocabulary and
// for tokenizer models this build cannot tokenize (supported: "llama", SentencePiece-style, and
// "gpt2", byte-level BPE; "bert" WordPiece, "t5" Unigram, "rwkv" ... are not).
VocabData read_vocab_data(const GgufFile& file);

class Vocab {
 public:
  // Validates (sizes of scores/types against tokens, special ids in range) and builds the lookups.
  // Special ids outside [0, n_vocab) become -1. Throws latent::Error naming the field.
  explicit Vocab(VocabData data);

  int32_t n_vocab() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& text(TokenId id) const { return tokens_[static_cast<size_t>(id)]; }
  float score(TokenId id) const { return scores_[static_cast<size_t>(id)]; }
  TokenType type(TokenId id) const { return types_[static_cast<size_t>(id)]; }
  bool contains(TokenId id) const { return id >= 0 && id < n_vocab(); }

  // Id of the token whose text is exactly `text`, or -1.
  TokenId find(std::string_view text) const;
  // Token for one raw byte: <0xXX> (byte fallback), else the one-byte text, else unk, else -1.
  TokenId byte_token(uint8_t byte) const { return byte_tokens_[byte]; }

  // Bytes the token stands for in decoded text: ▁ -> ' ' for normal tokens, <0x0A> -> "\n" for byte
  // tokens, the raw text for user-defined tokens, "" for control/unknown/unused tokens. In a "gpt2"
  // vocabulary a normal token's code points map back through the byte <-> unicode table ("Ġ" -> '
  // ').
  const std::string& piece(TokenId id) const { return pieces_[static_cast<size_t>(id)]; }

  // Control, user-defined and unknown tokens with non-empty text, longest text first: the texts
  // that encode() splits out before running the subword algorithm.
  const std::vector<TokenId>& special_tokens() const { return special_tokens_; }

  const std::string& source() const { return source_; }
  const std::string& model() const { return model_; }
  bool is_byte_level() const { return model_ == "gpt2"; }
  const std::string& pre() const { return pre_; }
  const std::vector<std::string>& merges() const { return merges_; }
  bool ignore_merges() const { return ignore_merges_; }
  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId unk() const { return unk_; }
  TokenId pad() const { return pad_; }
  TokenId eot() const { return eot_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool is_eog(TokenId id) const;

 private:
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void build_lookups();
  void build_specials(TokenId eom);

  std::string source_;
  std::string model_;
  std::string pre_;
  std::vector<std::string> merges_;
  bool ignore_merges_ = false;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, TokenId, TextHash, std::equal_to<>> text_to_id_;
  TokenId byte_tokens_[256];
  std::vector<TokenId> special_tokens_;
  std::vector<TokenId> eog_ids_;
  TokenId bos_ = -1;
  TokenId eos_ = -1;
  TokenId unk_ = -1;
  TokenId pad_ = -1;
  TokenId eot_ = -1;
  bool add_bos_ = true;
  bool add_eos_ = false;
  bool add_space_prefix_ = true;
};

}  // namespace latent
