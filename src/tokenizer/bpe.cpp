// Byte-level BPE merging in token-id space: a merge (left, right) -> result with its rank lives in
// an open-addressing table, and each word's symbols form a linked list whose candidate pairs sit in
// a min-heap ordered by (rank, position), like llama.cpp's llm_bigram_bpe queue. Working on ids
// rather than strings is equivalent because every applicable merge's result is a vocabulary token.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <bit>

#include "base/error.h"
#include "tokenizer/byte_unicode.h"

namespace latent {
namespace {

constexpr uint64_t kEmptyKey = ~uint64_t{0};

uint64_t pair_key(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

size_t slot_of(uint64_t key, size_t mask) {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

struct Node {
  TokenId id;
  int prev;
  int next;
};

struct Candidate {
  int32_t rank;
  int left;
  int right;
  TokenId left_id;
  TokenId right_id;
};

// std::push_heap builds a max-heap: "less" means lower priority = higher rank, or further right.
bool lower_priority(const Candidate& a, const Candidate& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

BpeModel::BpeModel(const Vocab& vocab) : pre_(vocab.pre(), vocab.source()) {
  ignore_merges_ = vocab.ignore_merges() || pre_.ignore_merges();
  for (int byte = 0; byte < 256; ++byte) {
    byte_ids_[byte] = vocab.find(byte_to_unicode(static_cast<uint8_t>(byte)));
  }
  const std::vector<std::string>& merges = vocab.merges();
  table_.resize(std::bit_ceil(std::max<size_t>(16, merges.size() * 2)));
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    const size_t space = merge.find(' ', 1);  // llama.cpp: the first space after the first char
    if (space == std::string::npos) continue;
    const std::string_view left(merge.data(), space);
    const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
    const TokenId left_id = vocab.find(left);
    const TokenId right_id = vocab.find(right);
    const TokenId result = vocab.find(std::string(left) + std::string(right));
    if (left_id < 0 || right_id < 0 || result < 0) continue;
    insert_merge(left_id, right_id, static_cast<int32_t>(rank), result);
  }
}

void BpeModel::insert_merge(TokenId left, TokenId right, int32_t rank, TokenId result) {
  const uint64_t key = pair_key(left, right);
  const size_t mask = table_.size() - 1;
  for (size_t slot = slot_of(key, mask);; slot = (slot + 1) & mask) {
    Merge& m = table_[slot];
    if (m.key == key) return;  // keep the first (lowest) rank
    if (m.key == kEmptyKey) {
      m = Merge{key, rank, result};
      ++n_merges_;
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::find_merge(TokenId left, TokenId right) const {
  if (left < 0 || right < 0) return nullptr;
  const uint64_t key = pair_key(left, right);
  const size_t mask = table_.size() - 1;
  for (size_t slot = slot_of(key, mask);; slot = (slot + 1) & mask) {
    const Merge& m = table_[slot];
    if (m.key == key) return &m;
    if (m.key == kEmptyKey) return nullptr;
  }
}

void BpeModel::merge_word(std::vector<TokenId>& symbols, std::vector<TokenId>& out) const {
  thread_local std::vector<Node> nodes;
  thread_local std::vector<Candidate> heap;
  const int n = static_cast<int>(symbols.size());
  nodes.resize(symbols.size());
  heap.clear();
  auto push_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Merge* m = find_merge(nodes[left].id, nodes[right].id);
    if (m == nullptr) return;
    heap.push_back(Candidate{m->rank, left, right, nodes[left].id, nodes[right].id});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };
  for (int i = 0; i < n; ++i) nodes[i] = Node{symbols[i], i - 1, i + 1 < n ? i + 1 : -1};
  for (int i = 1; i < n; ++i) push_pair(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Candidate c = heap.back();
    heap.pop_back();
    Node& left = nodes[c.left];
    Node& right = nodes[c.right];
    // Stale: a side was merged away or grew since the pair was queued (ids only ever change to a
    // longer token, so equal ids mean unchanged symbols).
    if (left.next != c.right || left.id != c.left_id || right.id != c.right_id) continue;
    left.id = find_merge(c.left_id, c.right_id)->result;
    left.next = right.next;
    if (right.next >= 0) nodes[right.next].prev = c.left;
    right.id = -2;
    right.next = -1;
    push_pair(left.prev, c.left);
    push_pair(c.left, left.next);
  }
  for (int i = n > 0 ? 0 : -1; i >= 0; i = nodes[i].next) {
    if (nodes[i].id >= 0)
      out.push_back(nodes[i].id);  // -1: a byte without a token (llama.cpp drops it)
  }
}

void BpeModel::tokenize(const Vocab& vocab, std::string_view text,
                        std::vector<TokenId>& out) const {
  thread_local std::vector<std::pair<size_t, size_t>> words;
  thread_local std::vector<TokenId> symbols;
  thread_local std::string encoded;
  words.clear();
  pre_.split(text, words);
  for (const auto& [begin, end] : words) {
    const std::string_view word = text.substr(begin, end - begin);
    if (ignore_merges_) {
      encoded.clear();
      for (char c : word) encoded.append(byte_to_unicode(static_cast<uint8_t>(c)));
      const TokenId whole = vocab.find(encoded);
      if (whole >= 0) {
        out.push_back(whole);
        continue;
      }
    }
    symbols.clear();
    for (char c : word) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    if (symbols.size() == 1) {
      if (symbols[0] >= 0) out.push_back(symbols[0]);
      continue;
    }
    merge_word(symbols, out);
  }
}

}  // namespace latent
