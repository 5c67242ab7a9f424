// Jinja lexer for the chat-template interpreter: splits a template into text and tag tokens and
// tags into expression tokens. Owns whitespace control as HF renders chat templates: `{%-`/`-%}`
// strip, trim_blocks (drop the newline after a block or comment tag) and lstrip_blocks (drop the
// indentation before one). Comments are removed here. Not the grammar (jinja_parser.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace latent::jinja {

enum class Tok {
  kText,        // template text (after whitespace control)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifier or keyword
  kString,      // string literal, escapes already decoded
  kInt,
  kFloat,
  kOp,  // operator or punctuation: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } . , : |
  kEof,
};

struct Token {
  Tok kind;
  std::string text;
  size_t pos;  // byte offset in the template source
};

// Throws latent::Error "chat template L:C: ..." for an unclosed tag, comment or string, or a
// character that starts no token.
std::vector<Token> lex(std::string_view src);

// "line:col" (1-based; col counts bytes) of a byte offset.
std::string line_col(std::string_view src, size_t pos);
// The error prefix used by the lexer, parser and evaluator: "chat template L:C: ".
std::string where(std::string_view src, size_t pos);

}  // namespace latent::jinja
