// Tests that read text: generated SVG, HTML or logs, and the messages of errors.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "runtime/error.h"

namespace autonet::test {

// How often `needle` occurs in `text` (overlapping occurrences count).
inline size_t count_occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The message users would see of the Error `body` throws, or "no error".
inline std::string error_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.message();
  }
  return "no error";
}

}  // namespace autonet::test
