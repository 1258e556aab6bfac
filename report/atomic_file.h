// A file that appears at its final path only when complete: bytes go to `path.tmp` in the same
// folder, sync() flushes them to disk, commit() renames over `path` (atomic on POSIX) and syncs
// the folder. A crash or an error before commit() leaves whatever was at `path` untouched.
// Every file the project writes whole goes this way; only logs are appended to in place.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string_view>

namespace autonet::report {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);  // creates path.tmp (throws if it cannot)
  ~AtomicFile();  // removes path.tmp unless committed; never throws
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void sync();    // fsync and close the temporary file
  void commit();  // rename path.tmp → path, then fsync the folder; sync() first if not done
  size_t bytes_written() const { return written_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_, tmp_path_;
  int fd_ = -1;
  size_t written_ = 0;
  bool committed_ = false;
};

// The whole of `content` as the file at `path`, through an AtomicFile.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace autonet::report
