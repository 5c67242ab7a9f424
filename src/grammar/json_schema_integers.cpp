// Integer ranges as digit grammars. A range [a, b] of non-negative integers is split by digit
// count; within one count, equal-length strings x <= y are matched by the usual recursion on the
// first digit: x0 (rest >= x[1:]) | [x0+1 .. y0-1] (any rest) | y0 (rest <= y[1:]).
#include <string>

#include "base/error.h"
#include "grammar/json_schema_parts.h"

namespace latent::grammar {

namespace {

std::string digits_any(size_t n) {
  if (n == 0) return "";
  if (n == 1) return "[0-9]";
  return "[0-9]{" + std::to_string(n) + "}";
}

std::string digit_class(char lo, char hi) {
  if (lo == hi) return std::string("\"") + lo + "\"";
  return std::string("[") + lo + "-" + hi + "]";
}

// "(" + inner + ")", built by appending (GCC 12 warns falsely (-Wrestrict) on "literal" + string).
std::string parenthesized(const std::string& inner) {
  std::string out = "(";
  out += inner;
  out += ')';
  return out;
}

std::string quoted_digit(char digit) {
  std::string out = "\"";
  out += digit;
  out += '"';
  return out;
}

std::string join_seq(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + " " + b;
}

// Equal-length digit strings x <= y: all strings s of that length with x <= s <= y.
std::string same_length(const std::string& x, const std::string& y) {
  size_t n = x.size();
  if (n == 0) return "";
  if (x == y) return "\"" + x + "\"";
  if (x[0] == y[0]) {
    // The rest may have alternatives: group it so they all follow the shared digit.
    std::string rest = same_length(x.substr(1), y.substr(1));
    if (rest.find('|') != std::string::npos) rest = parenthesized(rest);
    return join_seq(quoted_digit(x[0]), rest);
  }
  std::string rest_x = x.substr(1), rest_y = y.substr(1);
  bool x_rest_min = rest_x.find_first_not_of('0') == std::string::npos;
  bool y_rest_max = rest_y.find_first_not_of('9') == std::string::npos;
  char lo = x_rest_min ? x[0] : static_cast<char>(x[0] + 1);
  char hi = y_rest_max ? y[0] : static_cast<char>(y[0] - 1);
  std::string out;
  auto add = [&](const std::string& alternative) {
    if (!out.empty()) out += " | ";
    out += alternative;
  };
  if (!x_rest_min) {
    add(join_seq(quoted_digit(x[0]), parenthesized(same_length(rest_x, std::string(n - 1, '9')))));
  }
  if (lo <= hi) add(join_seq(digit_class(lo, hi), digits_any(n - 1)));
  if (!y_rest_max) {
    add(join_seq(quoted_digit(y[0]), parenthesized(same_length(std::string(n - 1, '0'), rest_y))));
  }
  return out;
}

std::string power_of_ten_minus_one(size_t digits) {
  return std::string(digits, '9');
}

// Non-negative a <= b (as decimal strings without leading zeros).
std::string non_negative_range(const std::string& a, const std::string& b) {
  std::string out;
  for (size_t len = a.size(); len <= b.size(); ++len) {
    std::string lo = a;
    if (len != a.size()) {
      lo.assign(len, '0');  // 10^(len-1)
      lo[0] = '1';
    }
    std::string hi = len == b.size() ? b : power_of_ten_minus_one(len);
    if (!out.empty()) out += " | ";
    out += parenthesized(same_length(lo, hi));
  }
  return out;
}

std::string max_value_string() {
  return power_of_ten_minus_one(kMaxIntegerDigits);
}

void check_bound(std::optional<int64_t> value, const std::string& pointer, const char* keyword) {
  if (!value) return;
  uint64_t magnitude =
      *value < 0 ? 0 - static_cast<uint64_t>(*value) : static_cast<uint64_t>(*value);
  if (std::to_string(magnitude).size() > static_cast<size_t>(kMaxIntegerDigits)) {
    throw Error("json schema: " + pointer + ": " + keyword + ": expected at most " +
                std::to_string(kMaxIntegerDigits) + " digits, found " + std::to_string(*value));
  }
}

std::string magnitude_string(int64_t v) {
  return std::to_string(v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
}

}  // namespace

std::string integer_range_gbnf(std::optional<int64_t> min, std::optional<int64_t> max,
                               const std::string& pointer) {
  check_bound(min, pointer, "minimum");
  check_bound(max, pointer, "maximum");
  if (min && max && *min > *max) {
    throw Error("json schema: " + pointer + ": expected minimum <= maximum, found " +
                std::to_string(*min) + " > " + std::to_string(*max));
  }
  const std::string top = max_value_string();
  // Each side as (non-negative part, negative part magnitudes), either possibly empty.
  std::string positive, negative;
  if (!min || *min < 0) {
    // Negative numbers -m with m in [1 or -max, -min or top].
    std::string lo = (max && *max < 0) ? magnitude_string(*max) : "1";
    std::string hi = min ? magnitude_string(*min) : top;
    negative = non_negative_range(lo, hi);
  }
  if (!max || *max >= 0) {
    std::string lo = (min && *min > 0) ? std::to_string(*min) : "0";
    std::string hi = max ? std::to_string(*max) : top;
    positive = non_negative_range(lo, hi);
  }
  if (negative.empty()) return "(" + positive + ")";
  if (positive.empty()) return "\"-\" (" + negative + ")";
  return "(\"-\" (" + negative + ") | " + positive + ")";
}

}  // namespace latent::grammar
