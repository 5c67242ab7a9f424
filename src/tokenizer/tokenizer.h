// Tokenizer: the text <-> token id interface the engine, server and CLI use. Owns the encode
// pipeline (special-token splitting, space prefix, BOS/EOS) around the subword algorithms of spm.h
// (tokenizer.ggml.model "llama") and bpe.h ("gpt2", byte-level BPE), and whole-text decoding. The
// vocabulary itself is vocab.h (from GGUF, or tokenizer_json.h); streaming decode is
// StreamingDetokenizer (detokenizer.h, included here).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "tokenizer/vocab.h"

namespace latent {

class GgufFile;
class BpeModel;

class Tokenizer {
 public:
  // Throws latent::Error for a missing/malformed vocabulary, for tokenizer models other than
  // "llama" and "gpt2" (the message lists the supported ones) and for an unknown
  // tokenizer.ggml.pre.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);
  // From a Hugging Face tokenizer.json (and the tokenizer_config.json beside it, when present); see
  // tokenizer_json.h. Same results as the GGUF converted from that model.
  static std::unique_ptr<Tokenizer> from_tokenizer_json(const std::string& path);
  // From an in-memory vocabulary (tests, tools). Throws latent::Error as Vocab does.
  static std::unique_ptr<Tokenizer> from_vocab(VocabData data);

  explicit Tokenizer(Vocab vocab);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) = delete;

  int32_t n_vocab() const { return vocab_.n_vocab(); }
  TokenId bos() const { return vocab_.bos(); }       // -1 when the model has none
  TokenId eos() const { return vocab_.eos(); }       // -1 when the model has none
  bool add_bos() const { return vocab_.add_bos(); }  // tokenizer.ggml.add_bos_token, default true
  bool add_eos() const { return vocab_.add_eos(); }  // tokenizer.ggml.add_eos_token, default false
  // End of generation: EOS, EOT, EOM and end-of-turn tokens such as <|eot_id|> and <|im_end|>
  // (stop tokens).
  bool is_eog(TokenId id) const { return vocab_.is_eog(id); }
  const Vocab& vocab() const { return vocab_; }

  // llama_tokenize semantics. add_special: BOS/EOS per add_bos()/add_eos(). parse_special: the
  // texts of control and unknown tokens ("<s>", "</s>", "<|eot_id|>") in `text` become those
  // tokens; otherwise they are tokenized as plain text. User-defined tokens (tokenizer.json's
  // non-special added tokens) are always split out first, as llama.cpp does. SPM only: each text
  // fragment at the start or right after a special token gets a ' ' prefix when add_space_prefix is
  // set (tokenizer.ggml.add_space_prefix, default true; always false for BPE).
  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              bool parse_special = false) const;

  // The bytes the token stands for: ▁ -> ' ', <0x0A> -> "\n", byte-level "Ġ" -> ' ',
  // control/unknown tokens -> "".
  // A byte token may be a fragment of a UTF-8 character. Throws latent::Error for an id outside
  // [0, n_vocab).
  std::string token_to_piece(TokenId id) const;

  // Whole-text decode; by definition equal to pushing every id through a fresh StreamingDetokenizer
  // and flushing it: the leading space of the first piece after a BOS is dropped (llama2.c, and
  // SentencePiece's dummy prefix), and invalid or truncated UTF-8 becomes U+FFFD, so the result is
  // always valid UTF-8. Without a BOS the first piece keeps its space (a continuation of earlier
  // text).
  std::string decode(std::span<const TokenId> ids) const;

 private:
  Vocab vocab_;
  std::unique_ptr<BpeModel> bpe_;  // byte-level vocabularies only
};

}  // namespace latent

#include "tokenizer/detokenizer.h"
