// Errors: library code throws autonet::Error carrying a message and where it was raised; only
// apps/ exits.
//
//   AN_CHECK(x.dim() == 4) << "conv2d expects NCHW, got " << x.shape_str();
//   AN_THROW() << "unknown op '" << name << "'";
//
// The message is written for users ("<what>: <problem>", naming the file, key or flag); the
// source location and the failed condition are for developers: what() holds both,
// "file:line: check failed (cond): message", message() the message alone. The constructors and
// the throw are compiled once (error.cpp), not inline in every file that checks something: the
// CPU kernels' instruction-set variants (kernels/cpu/isa.h) then carry no copies of their own.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace autonet {

class Error : public std::runtime_error {
 public:
  // `location`: "file:line: " and "check failed (cond): " when raised by AN_CHECK/AN_THROW.
  explicit Error(const std::string& message, const std::string& location = "");
  // The message without the location: what `autonet` shows users (what() with --verbose).
  const char* message() const noexcept { return what() + message_start_; }

 private:
  size_t message_start_;  // an offset into what(), so copying an Error cannot throw
};

namespace detail {
// Collects a message with operator<< and throws from its destructor at the end of the statement.
class ErrorBuilder {
 public:
  ErrorBuilder(const char* file, int line, const char* condition);
  ErrorBuilder(const ErrorBuilder&) = delete;
  template <class T>
  ErrorBuilder& operator<<(const T& value) {
    message_ << value;
    return *this;
  }
  [[noreturn]] ~ErrorBuilder() noexcept(false);

 private:
  std::ostringstream location_, message_;
};
}  // namespace detail
}  // namespace autonet

#define AN_CHECK(cond) \
  if (cond) {          \
  } else               \
    ::autonet::detail::ErrorBuilder(__FILE__, __LINE__, #cond)

#define AN_THROW() ::autonet::detail::ErrorBuilder(__FILE__, __LINE__, nullptr)
