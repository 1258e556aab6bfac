// Errors: library code throws autonet::Error carrying file:line and a message; only apps/ exits.
//
//   AN_CHECK(x.dim() == 4) << "conv2d expects NCHW, got " << x.shape_str();
//   AN_THROW() << "unknown op '" << name << "'";
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace autonet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// Collects a message with operator<< and throws from its destructor at the end of the statement.
class ErrorBuilder {
 public:
  ErrorBuilder(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": ";
    if (condition) stream_ << "check failed (" << condition << "): ";
  }
  ErrorBuilder(const ErrorBuilder&) = delete;
  template <class T>
  ErrorBuilder& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }
  [[noreturn]] ~ErrorBuilder() noexcept(false) { throw Error(stream_.str()); }

 private:
  std::ostringstream stream_;
};
}  // namespace detail
}  // namespace autonet

#define AN_CHECK(cond) \
  if (cond) {          \
  } else               \
    ::autonet::detail::ErrorBuilder(__FILE__, __LINE__, #cond)

#define AN_THROW() ::autonet::detail::ErrorBuilder(__FILE__, __LINE__, nullptr)
