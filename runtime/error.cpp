// autonet::Error and the builder behind AN_CHECK / AN_THROW (runtime/error.h).
#include "runtime/error.h"

namespace autonet {

Error::Error(const std::string& message, const std::string& location)
    : std::runtime_error(location + message), message_start_(location.size()) {}

namespace detail {

ErrorBuilder::ErrorBuilder(const char* file, int line, const char* condition) {
  location_ << file << ":" << line << ": ";
  if (condition) location_ << "check failed (" << condition << "): ";
}

ErrorBuilder::~ErrorBuilder() noexcept(false) {
  throw Error(message_.str(), location_.str());
}

}  // namespace detail
}  // namespace autonet
