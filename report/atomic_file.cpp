#include "report/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/error.h"

namespace autonet::report {

namespace {
std::string errno_text() { return std::strerror(errno); }

void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  AN_CHECK(fd >= 0) << "cannot open folder " << folder << " to sync it: " << errno_text();
  const int rc = ::fsync(fd);
  const std::string why = errno_text();
  ::close(fd);
  AN_CHECK(rc == 0) << "fsync of folder " << folder << " failed: " << why;
}
}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  tmp_path_ = path_;
  tmp_path_ += ".tmp";
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  AN_CHECK(fd_ >= 0) << "cannot create " << tmp_path_ << " (writing " << path_
                     << "): " << errno_text();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  AN_CHECK(fd_ >= 0) << "write to " << tmp_path_ << " after it was closed";
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    AN_CHECK(n > 0) << "writing " << tmp_path_ << " failed after " << written_
                    << " bytes: " << errno_text();
    p += n;
    bytes -= static_cast<size_t>(n);
    written_ += static_cast<size_t>(n);
  }
}

void AtomicFile::sync() {
  if (fd_ < 0) return;
  const int rc = ::fsync(fd_);
  const std::string why = errno_text();
  const int close_rc = ::close(fd_);
  fd_ = -1;
  AN_CHECK(rc == 0) << "fsync of " << tmp_path_ << " failed: " << why;
  AN_CHECK(close_rc == 0) << "closing " << tmp_path_ << " failed: " << errno_text();
}

void AtomicFile::commit() {
  AN_CHECK(!committed_) << path_ << " committed twice";
  sync();
  AN_CHECK(::rename(tmp_path_.c_str(), path_.c_str()) == 0)
      << "cannot rename " << tmp_path_ << " to " << path_ << ": " << errno_text();
  committed_ = true;
  sync_folder(path_.parent_path());
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  AtomicFile file(path);
  file.write(content.data(), content.size());
  file.commit();
}

}  // namespace autonet::report
