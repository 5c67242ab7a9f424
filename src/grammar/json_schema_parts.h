// Pieces of the JSON Schema converter (json_schema.h) that stand on their own: integer ranges as
// digit grammars, and `pattern` regular expressions as grammars over JSON string contents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace latent::grammar {

// Integers in decimal JSON notation have at most this many digits in the grammars here (as in
// llama.cpp's integral-part); bounds with more digits are rejected.
inline constexpr int kMaxIntegerDigits = 16;

// A GBNF expression (no trailing whitespace) for exactly the canonical decimal integers n with
// min <= n <= max (either bound may be absent). Throws latent::Error (mentioning `pointer`) for
// bounds with more than kMaxIntegerDigits digits or min > max.
std::string integer_range_gbnf(std::optional<int64_t> min, std::optional<int64_t> max,
                               const std::string& pointer);

// A GBNF expression for the JSON-encoded contents (between the quotes) of exactly the strings that
// ECMAScript regex `pattern` matches somewhere (JSON Schema's unanchored semantics; ^ and $
// anchor). Supported: literals, escapes (\d \w \s \D \W \S \n \t \r \f \v \\ and escaped
// punctuation, \uHHHH), classes [...] / [^...], ., groups ( ) and (?: ), |, ? * + {m} {m,} {m,n},
// and ^ $ at the ends. Anything else throws latent::Error naming the construct and `pointer`.
// `char_rule` names the rule for one JSON string character (used for the unanchored ends).
std::string regex_to_gbnf(const std::string& pattern, const std::string& pointer,
                          const std::string& char_rule);

// A GBNF class item for a code point, escaped for use inside [...].
std::string class_char_gbnf(uint32_t code_point);

}  // namespace latent::grammar
