// PreTokenizer: splits text into the words that byte-level BPE merges within, using the regex
// sequence that llama.cpp (llm_tokenizer_bpe) selects for a tokenizer.ggml.pre name, run with PCRE2
// (UTF, Unicode properties, JIT). Also maps a Hugging Face tokenizer.json pre_tokenizer onto the
// same names. It does not byte-encode or merge; bpe.h does.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latent {

class PreTokenizer {
 public:
  // `pre` is a tokenizer.ggml.pre value ("" means llama.cpp's "default"). Throws latent::Error
  // naming `source` and listing the known values when `pre` is not one of them.
  PreTokenizer(std::string_view pre, const std::string& source);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Canonical name of the regex set ("llama-bpe" for "llama3", "llama-v3", ...).
  const std::string& name() const { return name_; }
  // llama.cpp's ignore_merges: a word that is itself a vocabulary token is emitted whole.
  bool ignore_merges() const { return ignore_merges_; }

  // Appends the words of `text` as [begin, end) byte ranges, in order, covering all of `text`. Each
  // regex of the set re-splits every current word into its matches and the text between them
  // (llama.cpp's unicode_regex_split; HF's Split with behavior "Isolated"). Invalid UTF-8 is
  // accepted: its bytes never match and end up in the between-match pieces.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& words) const;

  // The accepted tokenizer.ggml.pre values, comma-separated, for error messages.
  static std::string known_names();

 private:
  struct Regex;
  std::string name_;
  bool ignore_merges_ = false;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

// The tokenizer.ggml.pre name equivalent to a tokenizer.json pre_tokenizer given as its Split
// regexes in order and whether its ByteLevel step applies GPT-2's own regex (use_regex); "" if none
// is.
std::string pre_name_for_hf_pre_tokenizer(const std::vector<std::string>& split_regexes,
                                          bool byte_level_use_regex);

}  // namespace latent
