// Tokenizer: construction from GGUF, the encode pipeline of llama.cpp's llama_vocab::impl::tokenize
// for SPM and BPE vocabularies (special-token partition, space prefix after specials, BOS/EOS),
// piece lookup and whole-text decode. The merge algorithms are spm.cpp and bpe.cpp; UTF-8 assembly
// is detokenizer.cpp.
#include "tokenizer/tokenizer.h"

#include "base/error.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/bpe.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer_json.h"

namespace latent {
namespace {

// A piece of the input: either raw text still to tokenize (token == -1) or one special token.
struct Fragment {
  TokenId token = -1;
  std::string_view text;
};

// Splits every raw-text fragment at each occurrence of `special_text` (llama.cpp's
// tokenizer_st_partition, for one special token).
std::vector<Fragment> split_at(const std::vector<Fragment>& fragments, TokenId special,
                               std::string_view special_text) {
  std::vector<Fragment> out;
  out.reserve(fragments.size());
  for (const Fragment& fragment : fragments) {
    if (fragment.token >= 0) {
      out.push_back(fragment);
      continue;
    }
    std::string_view rest = fragment.text;
    for (size_t match = rest.find(special_text); match != std::string_view::npos;
         match = rest.find(special_text)) {
      if (match > 0) out.push_back(Fragment{-1, rest.substr(0, match)});
      out.push_back(Fragment{special, special_text});
      rest.remove_prefix(match + special_text.size());
    }
    if (!rest.empty()) out.push_back(Fragment{-1, rest});
  }
  return out;
}

// The input cut into raw text and special tokens; longer special texts are matched first.
std::vector<Fragment> partition_specials(const Vocab& vocab, std::string_view text,
                                         bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back(Fragment{-1, text});
  for (TokenId id : vocab.special_tokens()) {
    const TokenType type = vocab.type(id);
    if (!parse_special && (type == TokenType::kControl || type == TokenType::kUnknown)) continue;
    const std::string& special_text = vocab.text(id);
    bool any_text_contains = false;
    for (const Fragment& fragment : fragments) {
      if (fragment.token < 0 && fragment.text.find(special_text) != std::string_view::npos) {
        any_text_contains = true;
        break;
      }
    }
    if (any_text_contains) fragments = split_at(fragments, id, special_text);
  }
  return fragments;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  return from_vocab(read_vocab_data(file));
}

std::unique_ptr<Tokenizer> Tokenizer::from_tokenizer_json(const std::string& path) {
  return from_vocab(read_tokenizer_json(path));
}

std::unique_ptr<Tokenizer> Tokenizer::from_vocab(VocabData data) {
  return std::make_unique<Tokenizer>(Vocab(std::move(data)));
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  if (vocab_.is_byte_level()) bpe_ = std::make_unique<BpeModel>(vocab_);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 2 + 2);
  if (add_special && vocab_.add_bos() && vocab_.bos() >= 0) out.push_back(vocab_.bos());

  // SentencePiece's dummy prefix: llama.cpp adds ' ' to the first fragment and to every fragment
  // that follows a special token.
  bool previous_was_special = true;
  std::string buffer;
  for (const Fragment& fragment : partition_specials(vocab_, text, parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      previous_was_special = true;
      continue;
    }
    if (bpe_) {
      bpe_->tokenize(vocab_, fragment.text, out);
      continue;
    }
    buffer.clear();
    if (vocab_.add_space_prefix() && previous_was_special) buffer.push_back(' ');
    buffer.append(fragment.text);
    spm_tokenize(vocab_, escape_spaces(buffer), out);
    previous_was_special = false;
  }

  if (add_special && vocab_.add_eos() && vocab_.eos() >= 0) out.push_back(vocab_.eos());
  return out;
}

std::string Tokenizer::token_to_piece(TokenId id) const {
  if (!vocab_.contains(id)) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                std::to_string(vocab_.n_vocab()) + ")");
  }
  return vocab_.piece(id);
}

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
  StreamingDetokenizer detokenizer(*this);
  std::string text;
  for (TokenId id : ids) text += detokenizer.push(id);
  text += detokenizer.flush();
  return text;
}

}  // namespace latent
