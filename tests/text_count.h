// Tests that read generated SVG, HTML or logs as text.
#pragma once
#include <cstddef>
#include <string>

namespace autonet::test {

// How often `needle` occurs in `text` (overlapping occurrences count).
inline size_t count_occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace autonet::test
