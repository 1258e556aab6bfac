#include "hpsearch/store.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

// 2: per-epoch metrics in `intermediate` (a version-1 file is upgraded when opened for writing).
constexpr int kSchemaVersion = 2;

const char* kSchema = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
  number INTEGER PRIMARY KEY, state TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL,
  value REAL, metrics TEXT NOT NULL DEFAULT '{}', reason TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0, device TEXT NOT NULL DEFAULT '',
  version TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL DEFAULT 0,
  started_at REAL NOT NULL DEFAULT 0, finished_at REAL NOT NULL DEFAULT 0);
CREATE TABLE intermediate (
  trial INTEGER NOT NULL, step INTEGER NOT NULL, value REAL, at REAL NOT NULL,
  metrics TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (trial, step));
CREATE TABLE sampler_state (trial INTEGER PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, trial INTEGER NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
)sql";

// A prepared statement that finalizes itself; bind() by 1-based position.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    AN_CHECK(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) == SQLITE_OK)
        << "sqlite: " << sqlite3_errmsg(db) << " in: " << sql;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Statement& bind_optional(int i, const std::optional<double>& v) {
    // NaN is stored as NULL by SQLite anyway; keep the distinction in the reason/metrics instead.
    return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i));
  }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    AN_CHECK(rc == SQLITE_ROW || rc == SQLITE_DONE) << "sqlite: " << sqlite3_errmsg(db_);
    return rc == SQLITE_ROW;
  }
  int64_t int_at(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real_at(int c) const { return sqlite3_column_double(stmt_, c); }
  bool null_at(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text_at(int c) const {
    const unsigned char* t = sqlite3_column_text(stmt_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  Statement& check(int rc) {
    AN_CHECK(rc == SQLITE_OK) << "sqlite bind: " << sqlite3_errmsg(db_);
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

sqlite3* open_db(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    AN_THROW() << "cannot open study file '" << path << "': " << msg;
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

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

TrialRecord read_trial(const Statement& s) {
  TrialRecord t;
  t.number = s.int_at(0);
  t.state = parse_trial_state(s.text_at(1));
  t.params = Json::parse(s.text_at(2));
  t.seed = static_cast<uint64_t>(s.int_at(3));
  if (!s.null_at(4)) t.value = s.real_at(4);
  t.metrics = Json::parse(s.text_at(5));
  t.reason = s.text_at(6);
  t.attempts = static_cast<int>(s.int_at(7));
  t.device = s.text_at(8);
  t.version = s.text_at(9);
  t.created_at = s.real_at(10);
  t.started_at = s.real_at(11);
  t.finished_at = s.real_at(12);
  return t;
}

Intermediate read_intermediate(const Statement& s, int column) {
  return {s.int_at(column), s.null_at(column + 1) ? NAN : s.real_at(column + 1),
          Json::parse(s.text_at(column + 2))};
}

const char* kTrialColumns =
    "number, state, params, seed, value, metrics, reason, attempts, device, version, created_at, "
    "started_at, finished_at";

}  // namespace

StudyStore StudyStore::create(const std::string& path, const Json& config, bool overwrite) {
  if (std::filesystem::exists(path)) {
    AN_CHECK(overwrite) << "study file '" << path << "' exists (resume it, or remove it first)";
    // Replacing a study that a coordinator is running would unlink the file under it: its
    // trials would go on into a deleted file. Hold the run lock while replacing.
    RunLock lock(path);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
  StudyStore store(path, open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  store.exec("PRAGMA journal_mode=WAL");
  store.exec("PRAGMA synchronous=NORMAL");
  store.transaction([&] {
    store.exec(kSchema);
    store.set_meta("schema_version", std::to_string(kSchemaVersion));
    store.set_meta("config", config.dump());
    store.set_meta("created_at", std::to_string(now_seconds()));
  });
  return store;
}

StudyStore StudyStore::open(const std::string& path, bool read_only) {
  AN_CHECK(std::filesystem::exists(path)) << "no study file '" << path << "'";
  AN_CHECK(std::filesystem::is_regular_file(path)) << "'" << path << "' is not a study file";
  sqlite3* db = nullptr;
  if (read_only && !writable(path) && !std::filesystem::exists(path + "-wal")) {
    // Read-only storage: a WAL database opened read-only still wants to create its -shm file.
    // A study closed cleanly has no -wal left, so its main file is all there is to read.
    db = open_db(file_uri(path, "immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  } else {
    db = open_db(path, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  }
  StudyStore store(path, db);
  std::optional<std::string> version;
  try {
    Statement s(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
    s.step();
    if (s.int_at(0) == 1) version = store.meta("schema_version");
  } catch (const Error&) {
    AN_THROW() << "'" << path << "' is not an autonet study (" << sqlite3_errmsg(db) << ")";
  }
  AN_CHECK(version) << "'" << path << "' is not an autonet study (an SQLite file without its tables)";
  int number = 0;
  try {
    number = std::stoi(*version);
  } catch (const std::exception&) {
    AN_THROW() << "'" << path << "' is not an autonet study (schema version '" << *version << "')";
  }
  AN_CHECK(number >= 1 && number <= kSchemaVersion)
      << "study '" << path << "' has schema version " << number << "; this autonet reads versions "
      << "up to " << kSchemaVersion << " (a newer autonet wrote it)";
  store.schema_version_ = number;
  if (number == 1 && !read_only) {
    store.transaction([&] {
      store.exec("ALTER TABLE intermediate ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'");
      store.set_meta("schema_version", std::to_string(kSchemaVersion));
    });
    store.schema_version_ = kSchemaVersion;
  }
  return store;
}

StudyStore::StudyStore(StudyStore&& other) noexcept
    : path_(std::move(other.path_)), db_(other.db_), schema_version_(other.schema_version_) {
  other.db_ = nullptr;
}

StudyStore& StudyStore::operator=(StudyStore&& other) noexcept {
  std::swap(path_, other.path_);
  std::swap(db_, other.db_);
  std::swap(schema_version_, other.schema_version_);
  return *this;
}

StudyStore::~StudyStore() {
  if (db_) sqlite3_close(db_);
}

void StudyStore::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    AN_THROW() << "sqlite: " << msg << " in: " << sql.substr(0, 80);
  }
}

Json StudyStore::config() const {
  const auto text = meta("config");
  AN_CHECK(text) << "study '" << path_ << "' has no config";
  return Json::parse(*text);
}

std::optional<std::string> StudyStore::meta(const std::string& key) const {
  Statement s(db_, "SELECT value FROM meta WHERE key = ?");
  s.bind(1, key);
  if (!s.step()) return std::nullopt;
  return s.text_at(0);
}

void StudyStore::set_meta(const std::string& key, const std::string& value) {
  Statement s(db_, "INSERT INTO meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  s.bind(1, key).bind(2, value);
  s.step();
}

std::vector<TrialRecord> StudyStore::trials() const {
  std::vector<TrialRecord> out;
  {
    Statement s(db_, std::string("SELECT ") + kTrialColumns + " FROM trials ORDER BY number");
    while (s.step()) out.push_back(read_trial(s));
  }
  Statement s(db_, "SELECT trial, step, value, " + metrics_column() +
                       " FROM intermediate ORDER BY trial, step");
  size_t i = 0;
  while (s.step()) {
    const int64_t trial = s.int_at(0);
    while (i < out.size() && out[i].number < trial) ++i;
    if (i < out.size() && out[i].number == trial) out[i].intermediate.push_back(read_intermediate(s, 1));
  }
  return out;
}

std::optional<TrialRecord> StudyStore::trial(int64_t number) const {
  Statement s(db_, std::string("SELECT ") + kTrialColumns + " FROM trials WHERE number = ?");
  s.bind(1, number);
  if (!s.step()) return std::nullopt;
  TrialRecord t = read_trial(s);
  Statement r(db_, "SELECT step, value, " + metrics_column() +
                       " FROM intermediate WHERE trial = ? ORDER BY step");
  r.bind(1, number);
  while (r.step()) t.intermediate.push_back(read_intermediate(r, 0));
  return t;
}

int64_t StudyStore::trial_count() const {
  Statement s(db_, "SELECT COUNT(*) FROM trials");
  s.step();
  return s.int_at(0);
}

void StudyStore::insert_trial(const TrialRecord& t) {
  Statement s(db_, std::string("INSERT INTO trials (") + kTrialColumns +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, t.number).bind(2, std::string(trial_state_name(t.state))).bind(3, t.params.dump());
  s.bind(4, static_cast<int64_t>(t.seed)).bind_optional(5, t.value).bind(6, t.metrics.dump());
  s.bind(7, t.reason).bind(8, static_cast<int64_t>(t.attempts)).bind(9, t.device).bind(10, t.version);
  s.bind(11, t.created_at).bind(12, t.started_at).bind(13, t.finished_at);
  s.step();
}

void StudyStore::update_trial(const TrialRecord& t) {
  Statement s(db_,
              "UPDATE trials SET state = ?, params = ?, seed = ?, value = ?, metrics = ?, "
              "reason = ?, attempts = ?, device = ?, version = ?, created_at = ?, started_at = ?, "
              "finished_at = ? WHERE number = ?");
  s.bind(1, std::string(trial_state_name(t.state))).bind(2, t.params.dump());
  s.bind(3, static_cast<int64_t>(t.seed)).bind_optional(4, t.value).bind(5, t.metrics.dump());
  s.bind(6, t.reason).bind(7, static_cast<int64_t>(t.attempts)).bind(8, t.device).bind(9, t.version);
  s.bind(10, t.created_at).bind(11, t.started_at).bind(12, t.finished_at).bind(13, t.number);
  s.step();
  AN_CHECK(sqlite3_changes(db_) == 1) << "update of unknown trial " << t.number;
}

void StudyStore::add_intermediate(int64_t trial, const Intermediate& v) {
  Statement s(db_, "INSERT OR REPLACE INTO intermediate (trial, step, value, at, metrics) "
                   "VALUES (?, ?, ?, ?, ?)");
  s.bind(1, trial).bind(2, v.step).bind_optional(3, std::isfinite(v.value) ? std::optional(v.value)
                                                                            : std::nullopt);
  s.bind(4, now_seconds()).bind(5, v.metrics.dump());
  s.step();
}

std::string StudyStore::metrics_column() const {
  return schema_version_ >= 2 ? "metrics" : "'{}'";  // a version-1 file opened read-only
}

void StudyStore::clear_intermediate(int64_t trial) {
  Statement s(db_, "DELETE FROM intermediate WHERE trial = ?");
  s.bind(1, trial);
  s.step();
}

void StudyStore::save_sampler_state(int64_t trial, const Json& state) {
  Statement s(db_, "INSERT OR REPLACE INTO sampler_state (trial, state) VALUES (?, ?)");
  s.bind(1, trial).bind(2, state.dump());
  s.step();
}

std::optional<Json> StudyStore::sampler_state(int64_t trial) const {
  Statement s(db_, "SELECT state FROM sampler_state WHERE trial = ?");
  s.bind(1, trial);
  if (!s.step()) return std::nullopt;
  return Json::parse(s.text_at(0));
}

void StudyStore::add_event(int64_t trial, const std::string& kind, const std::string& detail) {
  Statement s(db_, "INSERT INTO events (at, trial, kind, detail) VALUES (?, ?, ?, ?)");
  s.bind(1, now_seconds()).bind(2, trial).bind(3, kind).bind(4, detail);
  s.step();
}

std::vector<Event> StudyStore::events() const {
  std::vector<Event> out;
  Statement s(db_, "SELECT at, trial, kind, detail FROM events ORDER BY id");
  while (s.step()) out.push_back({s.real_at(0), s.int_at(1), s.text_at(2), s.text_at(3)});
  return out;
}

RunLock::RunLock(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  AN_CHECK(fd_ >= 0) << (errno == ENOENT ? "no study file '" : "cannot open study file '") << path
                     << "'" << (errno == ENOENT ? "" : std::string(": ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    AN_THROW() << "study '" << path << "' is being run by another process";
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock; so does a kill
}

}  // namespace autonet::hpsearch
