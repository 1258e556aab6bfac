#include "datasets/file_io.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "runtime/error.h"

namespace autonet::data {
namespace {

bool is_gzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Inflates a whole gzip file (several concatenated members allowed, as gzip itself allows).
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const fs::path& path) {
  std::vector<uint8_t> out;
  z_stream z{};
  AN_CHECK(inflateInit2(&z, 15 + 16) == Z_OK) << "zlib: inflateInit2 failed for " << path;
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  std::vector<uint8_t> chunk(1 << 20);
  int status = Z_OK;
  while (true) {
    z.next_out = chunk.data();
    z.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&z, Z_NO_FLUSH);
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - z.avail_out));
    if (status == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // another gzip member follows
      continue;
    }
    if (status != Z_OK) break;
    if (z.avail_in == 0 && z.avail_out != 0) {
      status = Z_BUF_ERROR;  // input ended inside the stream
      break;
    }
  }
  const std::string why = z.msg ? z.msg : "";
  inflateEnd(&z);
  AN_CHECK(status == Z_STREAM_END)
      << path.string() << ": corrupt or truncated gzip data ("
      << (status == Z_BUF_ERROR ? "unexpected end of file" : why) << ") after "
      << out.size() << " inflated bytes";
  return out;
}

}  // namespace

std::vector<uint8_t> read_raw_bytes(const fs::path& path) {
  std::error_code ec;
  const bool regular = fs::is_regular_file(path, ec);
  AN_CHECK(regular) << path.string() << ": "
                    << (ec ? ec == std::errc::no_such_file_or_directory ? "file not found"
                                                                       : "cannot read it (" + ec.message() + ")"
                           : "not a regular file");
  const auto size = fs::file_size(path, ec);
  AN_CHECK(!ec) << path.string() << ": cannot read its size: " << ec.message();
  std::ifstream file(path, std::ios::binary);
  AN_CHECK(file.good()) << path.string() << ": cannot open for reading (" << std::strerror(errno)
                        << ")";
  std::vector<uint8_t> bytes(size);
  file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  AN_CHECK(file.gcount() == static_cast<std::streamsize>(size))
      << path.string() << ": read " << file.gcount() << " of " << size << " bytes";
  return bytes;
}

std::vector<uint8_t> read_file_bytes(const fs::path& path) {
  std::vector<uint8_t> bytes = read_raw_bytes(path);
  return is_gzip(bytes) ? gunzip(bytes, path) : bytes;
}

void require_folder(const fs::path& dir, const std::string& what, const std::string& how_to_get) {
  AN_CHECK(!dir.empty()) << what << ": no data folder given. " << how_to_get;
  std::error_code ec;
  AN_CHECK(fs::is_directory(dir, ec))
      << what << ": folder '" << dir.string() << "' does not exist. " << how_to_get;
}

fs::path find_file(const fs::path& dir, const std::vector<std::string>& names,
                   const std::string& what, const std::string& how_to_get) {
  std::error_code ec;
  for (const std::string& name : names)
    if (fs::is_regular_file(dir / name, ec)) return dir / name;
  std::string tried;
  for (const std::string& name : names) tried += (tried.empty() ? "" : ", ") + name;
  AN_THROW() << what << ": missing file in '" << dir.string() << "' (looked for " << tried << "). "
             << how_to_get;
}

}  // namespace autonet::data
