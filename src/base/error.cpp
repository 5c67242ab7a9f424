// Message formatting for latent::Error.
#include "base/error.h"

#include <sstream>

namespace latent {

Error Error::field(std::string_view file, std::string_view field, std::string_view expected,
                   std::string_view found) {
  std::ostringstream msg;
  msg << file << ": " << field << ": expected " << expected << ", found " << found;
  return Error(msg.str());
}

}  // namespace latent
