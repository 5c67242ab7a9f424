// TokenTrie: every token's bytes (Tokenizer::token_to_piece) in one byte trie, built once per
// vocabulary and shared read-only by all sequences. Nodes are stored in depth-first preorder, so a
// node's subtree is the contiguous range [index, subtree_end): the mask walk (token_mask.h) skips a
// rejected prefix together with every token that extends it by jumping to subtree_end.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/ids.h"

namespace latent {
class Tokenizer;
}

namespace latent::grammar {

class TokenTrie {
 public:
  struct Node {
    uint32_t subtree_end = 0;  // one past the last node of this node's subtree
    uint32_t token_begin = 0;  // tokens whose piece ends here: sorted_tokens()[begin, end)
    uint32_t token_end = 0;
    uint16_t depth = 0;  // bytes from the root (the root has depth 0)
    uint8_t byte = 0;    // edge label from the parent
  };

  // pieces[id]: the token's bytes; is_eog[id]: an end-of-generation token. Tokens with an empty
  // piece (control tokens) and end-of-generation tokens are kept out of the trie: the first are
  // never allowed by a grammar, the second only when the grammar is complete.
  TokenTrie(const std::vector<std::string>& pieces, const std::vector<bool>& is_eog);
  static std::shared_ptr<const TokenTrie> build(const Tokenizer& tokenizer);

  int32_t n_vocab() const { return n_vocab_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<TokenId>& sorted_tokens() const { return sorted_tokens_; }
  const std::vector<TokenId>& eog_tokens() const { return eog_tokens_; }
  // The bytes of a token (empty for control tokens).
  const std::string& piece(TokenId id) const { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(TokenId id) const { return is_eog_[static_cast<size_t>(id)]; }
  size_t max_depth() const { return max_depth_; }

  // What lies below a node (its descendants' edge bytes and tokens), so that a walk can accept a
  // whole subtree at once when every byte in it keeps the grammar in the same state (inside a
  // JSON string, for instance).
  struct Subtree {
    std::array<uint64_t, 2> ascii_bytes{};  // ASCII edge labels of the descendants
    bool has_non_ascii = false;             // a descendant edge is a byte >= 0x80
    uint32_t token_end =
        0;  // sorted_tokens()[node.token_begin, token_end) are the subtree's tokens
  };
  const std::vector<Subtree>& subtrees() const { return subtrees_; }

 private:
  int32_t n_vocab_ = 0;
  std::vector<std::string> pieces_;
  std::vector<bool> is_eog_;
  std::vector<Node> nodes_;
  std::vector<TokenId> sorted_tokens_;
  std::vector<TokenId> eog_tokens_;
  size_t max_depth_ = 0;
  std::vector<Subtree> subtrees_;
};

}  // namespace latent::grammar
