// Reading data files: whole files into memory (gzip-compressed or plain, found by content), and
// the checks that turn a missing folder or file into an error naming it and saying how to get it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace autonet::data {

namespace fs = std::filesystem;

// The bytes of `path`, inflated when the file is gzip (by its magic bytes, not its name).
// Throws naming the file when it is missing, unreadable or a truncated/corrupt gzip stream.
std::vector<uint8_t> read_file_bytes(const fs::path& path);
// The bytes of `path` as stored (no inflating); the same errors.
std::vector<uint8_t> read_raw_bytes(const fs::path& path);

// Throws "<what> folder '<dir>' does not exist ... <how_to_get>" unless `dir` is a folder.
void require_folder(const fs::path& dir, const std::string& what, const std::string& how_to_get);

// The first of `names` that exists in `dir`; throws listing all of them (and how to get the data)
// when none does.
fs::path find_file(const fs::path& dir, const std::vector<std::string>& names,
                   const std::string& what, const std::string& how_to_get);

// Big-endian 32-bit word at `p` (IDX headers).
inline uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace autonet::data
