// Message formatting for latent::Error.
#include "base/error.h"

namespace latent {

Error Error::field(std::string_view file, std::string_view field, std::string_view expected,
                   std::string_view found) {
  std::string msg;
  msg.reserve(file.size() + field.size() + expected.size() + found.size() + 32);
  msg.append(file).append(": ").append(field).append(": expected ").append(expected);
  msg.append(", found ").append(found);
  return Error(msg);
}

}  // namespace latent
