// Trie construction: sort the pieces bytewise, then emit nodes in preorder from the sorted list
// (a piece shares with its predecessor exactly their common prefix).
#include "grammar/token_trie.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "tokenizer/tokenizer.h"

namespace latent::grammar {

TokenTrie::TokenTrie(const std::vector<std::string>& pieces, const std::vector<bool>& is_eog)
    : n_vocab_(static_cast<int32_t>(pieces.size())), pieces_(pieces), is_eog_(is_eog) {
  if (is_eog_.size() != pieces_.size()) {
    throw Error("TokenTrie: expected one end-of-generation flag per token, found " +
                std::to_string(is_eog_.size()) + " for " + std::to_string(pieces_.size()));
  }
  for (TokenId id = 0; id < n_vocab_; ++id) {
    if (is_eog_[static_cast<size_t>(id)]) {
      eog_tokens_.push_back(id);
    } else if (!pieces_[static_cast<size_t>(id)].empty()) {
      if (pieces_[static_cast<size_t>(id)].size() > UINT16_MAX) {
        throw Error("TokenTrie: token " + std::to_string(id) +
                    ": expected a piece of at most 65535 bytes, found a longer one");
      }
      sorted_tokens_.push_back(id);
    }
  }
  // std::string compares bytes as unsigned char, which is the order a byte trie's preorder needs.
  std::stable_sort(sorted_tokens_.begin(), sorted_tokens_.end(), [&](TokenId a, TokenId b) {
    return pieces_[static_cast<size_t>(a)] < pieces_[static_cast<size_t>(b)];
  });

  nodes_.push_back(Node{});       // root: the empty prefix
  std::vector<uint32_t> path{0};  // node index at each depth along the current piece
  const std::string* previous = nullptr;
  for (uint32_t k = 0; k < sorted_tokens_.size(); ++k) {
    const std::string& piece = pieces_[static_cast<size_t>(sorted_tokens_[k])];
    if (previous != nullptr && piece == *previous) {
      nodes_[path.back()].token_end = k + 1;  // same bytes as the previous token: same node
      continue;
    }
    size_t common = 0;
    if (previous != nullptr) {
      while (common < previous->size() && common < piece.size() &&
             (*previous)[common] == piece[common]) {
        ++common;
      }
    }
    while (path.size() > common + 1) {
      nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
      path.pop_back();
    }
    for (size_t d = common; d < piece.size(); ++d) {
      Node node;
      node.byte = static_cast<uint8_t>(piece[d]);
      node.depth = static_cast<uint16_t>(d + 1);
      node.token_begin = node.token_end = k;
      path.push_back(static_cast<uint32_t>(nodes_.size()));
      nodes_.push_back(node);
    }
    nodes_[path.back()].token_end = k + 1;
    max_depth_ = std::max(max_depth_, piece.size());
    previous = &piece;
  }
  while (!path.empty()) {
    nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
    path.pop_back();
  }
  // Children come after their parent in preorder: a reverse pass sees every child first.
  subtrees_.resize(nodes_.size());
  for (size_t i = nodes_.size(); i-- > 0;) {
    Subtree& summary = subtrees_[i];
    summary.token_end = nodes_[i].token_end;
    for (uint32_t child = static_cast<uint32_t>(i) + 1; child < nodes_[i].subtree_end;
         child = nodes_[child].subtree_end) {
      const Subtree& below = subtrees_[child];
      uint8_t byte = nodes_[child].byte;
      if (byte < 0x80) {
        summary.ascii_bytes[byte >> 6] |= uint64_t{1} << (byte & 63);
      } else {
        summary.has_non_ascii = true;
      }
      summary.ascii_bytes[0] |= below.ascii_bytes[0];
      summary.ascii_bytes[1] |= below.ascii_bytes[1];
      summary.has_non_ascii = summary.has_non_ascii || below.has_non_ascii;
      summary.token_end = std::max(summary.token_end, below.token_end);
    }
  }
}

std::shared_ptr<const TokenTrie> TokenTrie::build(const Tokenizer& tokenizer) {
  std::vector<std::string> pieces(static_cast<size_t>(tokenizer.n_vocab()));
  std::vector<bool> is_eog(pieces.size());
  for (TokenId id = 0; id < tokenizer.n_vocab(); ++id) {
    pieces[static_cast<size_t>(id)] = tokenizer.token_to_piece(id);
    is_eog[static_cast<size_t>(id)] = tokenizer.is_eog(id);
  }
  return std::make_shared<const TokenTrie>(pieces, is_eog);
}

}  // namespace latent::grammar
