// BpeModel: byte-level BPE (tokenizer.ggml.model = "gpt2") for one text fragment: pre-tokenize with
// the PreTokenizer, map each word's bytes to their byte-level tokens, then apply merges by rank
// (lowest first, leftmost on ties), as llama.cpp's llm_tokenizer_bpe_session and Hugging Face's BPE
// model do. Special-token splitting and BOS/EOS are Tokenizer::encode's job.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace latent {

class BpeModel {
 public:
  // Builds the merge table from vocab.merges() ("left right" strings, rank = index). Merges whose
  // parts or result are not vocabulary tokens can never apply and are skipped; a duplicated pair
  // keeps its first (lowest) rank. Throws latent::Error for an unknown vocab.pre().
  explicit BpeModel(const Vocab& vocab);

  // Appends the tokens of `text` (raw UTF-8, no special tokens) to `out`. `vocab` must be the one
  // this model was built from.
  void tokenize(const Vocab& vocab, std::string_view text, std::vector<TokenId>& out) const;

  const PreTokenizer& pre_tokenizer() const { return pre_; }
  size_t n_merges() const { return n_merges_; }

 private:
  struct Merge {
    uint64_t key = ~uint64_t{0};  // (left << 32) | right; all ones: empty slot
    int32_t rank = 0;
    TokenId result = -1;
  };

  void insert_merge(TokenId left, TokenId right, int32_t rank, TokenId result);
  const Merge* find_merge(TokenId left, TokenId right) const;
  void merge_word(std::vector<TokenId>& symbols, std::vector<TokenId>& out) const;

  PreTokenizer pre_;
  bool ignore_merges_ = false;
  std::vector<Merge> table_;  // open addressing, linear probing, power-of-two size
  size_t n_merges_ = 0;
  TokenId byte_ids_[256];  // token of each byte's byte-level code point, or -1
};

}  // namespace latent
