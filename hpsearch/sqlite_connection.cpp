#include "hpsearch/sqlite_connection.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

class SqliteQuery : public SqlQuery {
 public:
  SqliteQuery(sqlite3* db, const std::string& sql) : db_(db) {
    AN_CHECK(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) == SQLITE_OK)
        << "sqlite: " << sqlite3_errmsg(db) << " in: " << sql;
  }
  ~SqliteQuery() override { sqlite3_finalize(stmt_); }
  SqlQuery& bind(int i, int64_t v) override { return check(sqlite3_bind_int64(stmt_, i, v)); }
  SqlQuery& bind(int i, double v) override { return check(sqlite3_bind_double(stmt_, i, v)); }
  SqlQuery& bind(int i, const std::string& v) override {
    return check(sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  SqlQuery& bind_null(int i) override { return check(sqlite3_bind_null(stmt_, i)); }
  bool step() override {
    const int rc = sqlite3_step(stmt_);
    AN_CHECK(rc == SQLITE_ROW || rc == SQLITE_DONE) << "sqlite: " << sqlite3_errmsg(db_);
    if (rc == SQLITE_DONE) changes_ = sqlite3_changes(db_);
    return rc == SQLITE_ROW;
  }
  int64_t int_at(int c) const override { return sqlite3_column_int64(stmt_, c); }
  double real_at(int c) const override { return sqlite3_column_double(stmt_, c); }
  bool null_at(int c) const override { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text_at(int c) const override {
    const unsigned char* t = sqlite3_column_text(stmt_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t changes() const override { return changes_; }

 private:
  SqlQuery& check(int rc) {
    AN_CHECK(rc == SQLITE_OK) << "sqlite bind: " << sqlite3_errmsg(db_);
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int64_t changes_ = 0;
};

// An flock (LOCK_EX or LOCK_SH) on the file at `path`; -1 when another process holds it the
// other way.
int try_flock(const std::string& path, int how = LOCK_EX) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  AN_CHECK(fd >= 0) << "cannot open study file '" << path << "': " << std::strerror(errno);
  if (::flock(fd, how | LOCK_NB) == 0) return fd;
  ::close(fd);
  return -1;
}

class SqliteConnection : public SqlConnection {
 public:
  SqliteConnection(const std::string& path, const std::string& name, int flags) : path_(path) {
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      AN_THROW() << "cannot open study file '" << path << "': " << msg;
    }
    sqlite3_busy_timeout(db_, 10000);
    // A per-connection setting (journal_mode=WAL is the file's own): a commit appends to the WAL
    // without waiting for the disk. Durable against a killed process (the WAL is in the file
    // system); only an OS crash or power loss can take the last commits back. A file that is not
    // a database refuses it (and the store's study check names the file next).
    if (flags & SQLITE_OPEN_READWRITE) sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  }
  // The lock goes after the connection: closing another descriptor of the file while SQLite
  // holds its POSIX locks on it would drop those.
  ~SqliteConnection() override {
    sqlite3_close(db_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  std::unique_ptr<SqlQuery> prepare(const std::string& sql) override {
    return std::make_unique<SqliteQuery>(db_, sql);
  }
  void exec(const std::string& sql) override {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      AN_THROW() << "sqlite: " << msg << " in: " << sql.substr(0, 80);
    }
  }
  void begin() override { exec("BEGIN IMMEDIATE"); }
  void commit() override { exec("COMMIT"); }
  void rollback() override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
  std::string autoincrement_key() const override { return "INTEGER PRIMARY KEY AUTOINCREMENT"; }
  bool has_table(const std::string& name) override {
    SqliteQuery q(db_, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, name);
    q.step();
    return q.int_at(0) == 1;
  }
  void lock_for_run(RunLock kind) override {
    if (lock_fd_ >= 0) return;
    lock_fd_ = try_flock(path_, kind == RunLock::Coordinator ? LOCK_EX : LOCK_SH);
    AN_CHECK(lock_fd_ >= 0) << "study '" << path_ << "' is being run by another process"
                            << (kind == RunLock::Worker ? " (a coordinator: `hpsearch run`)" : "");
  }
  std::string clock_sql() const override { return "((julianday('now') - 2440587.5) * 86400.0)"; }
  void drop_study() override {
    exec("DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS trials; DROP TABLE IF EXISTS intermediate;"
         "DROP TABLE IF EXISTS sampler_state; DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS workers");
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
};

// A file URI for sqlite3_open_v2 (characters outside the unreserved set percent-encoded).
std::string file_uri(const std::string& path, const std::string& query) {
  std::string uri = "file:";
  for (const unsigned char c : std::filesystem::absolute(path).string()) {
    if (std::isalnum(c) || std::strchr("/-_.~", c)) {
      uri += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      uri += hex;
    }
  }
  return uri + "?" + query;
}

// Whether this process may create files next to `path` and write it (SQLite's WAL needs both).
bool writable(const std::string& path) {
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  return ::access(path.c_str(), W_OK) == 0 && ::access(dir.c_str(), W_OK) == 0;
}

}  // namespace

std::unique_ptr<SqlConnection> create_sqlite_study(const std::string& path, bool overwrite) {
  if (std::filesystem::exists(path)) {
    AN_CHECK(overwrite) << "study file '" << path << "' exists (resume it, or remove it first)";
    // Replacing a study that a coordinator is running would unlink the file under it: its
    // trials would go on into a deleted file. Hold the run lock while replacing.
    const int fd = try_flock(path);
    AN_CHECK(fd >= 0) << "study '" << path << "' is being run by another process";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    ::close(fd);
  }
  auto c = std::make_unique<SqliteConnection>(path, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  c->exec("PRAGMA journal_mode=WAL");
  return c;
}

std::unique_ptr<SqlConnection> open_sqlite_study(const std::string& path, bool read_only) {
  AN_CHECK(std::filesystem::exists(path)) << "no study file '" << path << "'";
  AN_CHECK(std::filesystem::is_regular_file(path)) << "'" << path << "' is not a study file";
  if (read_only && !writable(path) && !std::filesystem::exists(path + "-wal")) {
    // A study closed cleanly has no -wal left, so its main file is all there is to read.
    return std::make_unique<SqliteConnection>(path, file_uri(path, "immutable=1"),
                                              SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  }
  return std::make_unique<SqliteConnection>(path, path,
                                            read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
}

}  // namespace autonet::hpsearch
