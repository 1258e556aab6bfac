// The SQLite engine of the study store: one file per study, WAL journal. The run lock is an
// flock on the study file itself (keyed by the file's identity: a symlink, a hard link or
// another spelling of the path meets the same lock, and no lock file is left behind).
#pragma once
#include <memory>
#include <string>

#include "hpsearch/sql.h"

namespace autonet::hpsearch {

// A new, empty study file; an existing one is replaced only when `overwrite` and no
// coordinator runs it.
std::unique_ptr<SqlConnection> create_sqlite_study(const std::string& path, bool overwrite);
// An existing file. Read-only on storage this process cannot write, the file is opened as
// immutable (SQLite would otherwise want to create its -shm file next to it).
std::unique_ptr<SqlConnection> open_sqlite_study(const std::string& path, bool read_only);

}  // namespace autonet::hpsearch
