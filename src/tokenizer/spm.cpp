// Greedy score-ordered bigram merging over UTF-8 characters, as SentencePiece's BPE model and
// llama.cpp's llm_tokenizer_spm_session do it, plus byte fallback. Owns only the merge algorithm;
// special-token splitting and BOS/EOS/space-prefix rules are in tokenizer.cpp.
#include "tokenizer/spm.h"

#include <queue>

#include "base/error.h"

namespace latent {
namespace {

// A run of the input text; merged symbols grow to the right and the absorbed one gets length 0.
// Symbols form a doubly linked list in text order (prev/next are indices, -1 at the ends).
struct Symbol {
  size_t begin = 0;
  size_t length = 0;
  int prev = -1;
  int next = -1;
};

// A candidate merge of two adjacent symbols into a vocabulary token.
struct Bigram {
  float score = 0.0f;
  int left = 0;
  int right = 0;
  size_t length = 0;  // left.length + right.length when queued; a mismatch later means it is stale
};

// Highest score first; on equal scores the leftmost pair first.
struct BigramLowerPriority {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// Bytes in the UTF-8 character that starts with `lead` (1 for continuation bytes and invalid leads,
// so that every byte is consumed exactly once).
size_t utf8_length_from_lead(uint8_t lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

class SpmMerger {
 public:
  SpmMerger(const Vocab& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

  void run(std::vector<TokenId>& out) {
    split_characters();
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);
    while (!queue_.empty()) {
      const Bigram bigram = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[static_cast<size_t>(bigram.left)];
      Symbol& right = symbols_[static_cast<size_t>(bigram.right)];
      if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
        continue;  // one side was merged away or grew since this pair was queued
      }
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[static_cast<size_t>(right.next)].prev = bigram.left;
      try_add_bigram(left.prev, bigram.left);
      try_add_bigram(bigram.left, left.next);
    }
    for (int i = symbols_.empty() ? -1 : 0; i >= 0; i = symbols_[static_cast<size_t>(i)].next) {
      emit_symbol(symbols_[static_cast<size_t>(i)], out);
    }
  }

 private:
  void split_characters() {
    symbols_.reserve(text_.size());
    for (size_t offset = 0; offset < text_.size();) {
      Symbol symbol;
      symbol.begin = offset;
      symbol.length = std::min(utf8_length_from_lead(static_cast<uint8_t>(text_[offset])),
                               text_.size() - offset);
      offset += symbol.length;
      const int index = static_cast<int>(symbols_.size());
      symbol.prev = index - 1;
      symbol.next = offset == text_.size() ? -1 : index + 1;
      symbols_.push_back(symbol);
    }
  }

  void try_add_bigram(int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols_[static_cast<size_t>(left)];
    const Symbol& r = symbols_[static_cast<size_t>(right)];
    const size_t length = l.length + r.length;
    const TokenId id = vocab_.find(text_.substr(l.begin, length));
    if (id < 0) return;
    queue_.push(Bigram{vocab_.score(id), left, right, length});
  }

  void emit_symbol(const Symbol& symbol, std::vector<TokenId>& out) const {
    const std::string_view text = text_.substr(symbol.begin, symbol.length);
    const TokenId id = vocab_.find(text);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    for (char c : text) {
      const TokenId byte_id = vocab_.byte_token(static_cast<uint8_t>(c));
      if (byte_id < 0) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        const uint8_t byte = static_cast<uint8_t>(c);
        throw Error(vocab_.source() + ": vocabulary has neither the byte token <0x" +
                    kHex[byte >> 4] + kHex[byte & 15] +
                    "> nor an unknown token for the input text");
      }
      out.push_back(byte_id);
    }
  }

  const Vocab& vocab_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramLowerPriority> queue_;
};

}  // namespace

std::string escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (char c : text) {
    if (c == ' ') {
      out.append("\xE2\x96\x81");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void spm_tokenize(const Vocab& vocab, std::string_view escaped_text, std::vector<TokenId>& out) {
  if (escaped_text.empty()) return;
  SpmMerger(vocab, escaped_text).run(out);
}

}  // namespace latent
