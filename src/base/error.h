// latent::Error: the one exception type for input-driven failures (bad files, bad arguments, bad
// requests). Messages name the file, the field, what was expected and what was found. Internal
// invariants use LATENT_CHECK (check.h), which throws InternalError instead.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace latent {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  // "<file>: <field>: expected <expected>, found <found>"
  static Error field(std::string_view file, std::string_view field, std::string_view expected,
                     std::string_view found);
};

}  // namespace latent
