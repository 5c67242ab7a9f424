// LATENT_CHECK: always-on internal invariant checks (not for input validation; use latent::Error).
// A failed check throws InternalError with the source location, so tests can observe it and servers
// can fail one request without dying.
#pragma once

#include <stdexcept>
#include <string>

namespace latent {

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

[[noreturn]] void check_failed(const char* expr, const char* file, int line,
                               const std::string& msg);

}  // namespace latent

#define LATENT_CHECK(cond)                                              \
  do {                                                                  \
    if (!(cond)) ::latent::check_failed(#cond, __FILE__, __LINE__, ""); \
  } while (0)

#define LATENT_CHECK_MSG(cond, msg)                                        \
  do {                                                                     \
    if (!(cond)) ::latent::check_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
