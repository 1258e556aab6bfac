#include "hpsearch/store.h"

#include <cmath>
#include <iterator>

#include "hpsearch/postgres_connection.h"
#include "hpsearch/sql.h"
#include "hpsearch/sqlite_connection.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

// 2: per-epoch metrics in `intermediate`; 3: trial owners and the `workers` table (shared
// studies); 4: each worker row's own heartbeat expiry (asked trials expire too). An older file
// is upgraded when opened for writing, step by step.
constexpr int kSchemaVersion = 4;

// Upgrades[v - 1] takes a version-v study to version v + 1.
const char* const kUpgrades[] = {
    "ALTER TABLE intermediate ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE trials ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE workers (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid BIGINT NOT NULL,"
    " slots BIGINT NOT NULL, started_at DOUBLE PRECISION NOT NULL,"
    " heartbeat_at DOUBLE PRECISION NOT NULL)",
    "ALTER TABLE workers ADD COLUMN expiry_s DOUBLE PRECISION NOT NULL DEFAULT 0",
};
static_assert(std::size(kUpgrades) == kSchemaVersion - 1);

std::string schema(const SqlConnection& db) {
  return R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
  number BIGINT PRIMARY KEY, state TEXT NOT NULL, params TEXT NOT NULL, seed BIGINT NOT NULL,
  value DOUBLE PRECISION, metrics TEXT NOT NULL DEFAULT '{}', reason TEXT NOT NULL DEFAULT '',
  attempts BIGINT NOT NULL DEFAULT 0, device TEXT NOT NULL DEFAULT '',
  version TEXT NOT NULL DEFAULT '', created_at DOUBLE PRECISION NOT NULL DEFAULT 0,
  started_at DOUBLE PRECISION NOT NULL DEFAULT 0, finished_at DOUBLE PRECISION NOT NULL DEFAULT 0,
  owner TEXT NOT NULL DEFAULT '');
CREATE TABLE intermediate (
  trial BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE PRECISION, at DOUBLE PRECISION NOT NULL,
  metrics TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (trial, step));
CREATE TABLE sampler_state (trial BIGINT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE events (
  id )sql" + db.autoincrement_key() + R"sql(, at DOUBLE PRECISION NOT NULL, trial BIGINT NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE workers (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, pid BIGINT NOT NULL, slots BIGINT NOT NULL,
  started_at DOUBLE PRECISION NOT NULL, heartbeat_at DOUBLE PRECISION NOT NULL,
  expiry_s DOUBLE PRECISION NOT NULL DEFAULT 0);
)sql";
}

TrialRecord read_trial(const SqlQuery& s) {
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
  t.owner = s.text_at(13);
  return t;
}

Intermediate read_intermediate(const SqlQuery& s, int column) {
  return {s.int_at(column), s.null_at(column + 1) ? NAN : s.real_at(column + 1),
          Json::parse(s.text_at(column + 2))};
}

// The trial columns read_trial reads, but its last (owner, schema version 3).
const char* kTrialColumnsV2 =
    "number, state, params, seed, value, metrics, reason, attempts, device, version, created_at, "
    "started_at, finished_at";

// The UPDATE of every trial column but the number; the caller appends the WHERE clause with the
// number as parameter 14.
const char* kUpdateTrial =
    "UPDATE trials SET state = ?, params = ?, seed = ?, value = ?, metrics = ?, reason = ?, "
    "attempts = ?, device = ?, version = ?, created_at = ?, started_at = ?, finished_at = ?, owner = ? ";

void bind_trial_fields(SqlQuery& s, const TrialRecord& t, int first) {
  s.bind(first, std::string(trial_state_name(t.state))).bind(first + 1, t.params.dump());
  s.bind(first + 2, static_cast<int64_t>(t.seed)).bind_optional(first + 3, t.value);
  s.bind(first + 4, t.metrics.dump()).bind(first + 5, t.reason);
  s.bind(first + 6, static_cast<int64_t>(t.attempts)).bind(first + 7, t.device).bind(first + 8, t.version);
  s.bind(first + 9, t.created_at).bind(first + 10, t.started_at).bind(first + 11, t.finished_at);
  s.bind(first + 12, t.owner);
}

}  // namespace

StudyStore::StudyStore(const std::string& path, std::unique_ptr<SqlConnection> db)
    : path_(path), db_(std::move(db)) {}

StudyStore StudyStore::create(const std::string& where, const Json& config, bool overwrite) {
  std::unique_ptr<SqlConnection> db;
  if (is_server_url(where)) {
    db = connect_postgres(where);
    if (db->has_table("meta")) {
      AN_CHECK(overwrite) << "study '" << where << "' exists (resume it, or create it with --force)";
      db->lock_for_run();  // a running coordinator's study is not replaced under it
      db->drop_study();
    }
  } else {
    db = create_sqlite_study(where, overwrite);
  }
  StudyStore store(where, std::move(db));
  store.transaction([&] {
    store.exec(schema(*store.db_));
    store.set_meta("schema_version", std::to_string(kSchemaVersion));
    store.set_meta("config", config.dump());
    store.set_meta("created_at", std::to_string(now_seconds()));
  });
  return store;
}

StudyStore StudyStore::open(const std::string& where, bool read_only) {
  StudyStore store(where, is_server_url(where) ? connect_postgres(where) : open_sqlite_study(where, read_only));
  std::optional<std::string> version;
  try {
    if (store.db_->has_table("meta")) version = store.meta("schema_version");
  } catch (const Error&) {
    AN_THROW() << "'" << where << "' is not an autonet study (not an SQLite database)";
  }
  AN_CHECK(version) << "'" << where << "' is not an autonet study (a database without its tables)";
  int number = 0;
  try {
    number = std::stoi(*version);
  } catch (const std::exception&) {
    AN_THROW() << "'" << where << "' is not an autonet study (schema version '" << *version << "')";
  }
  AN_CHECK(number >= 1 && number <= kSchemaVersion)
      << "study '" << where << "' has schema version " << number << "; this autonet reads versions "
      << "up to " << kSchemaVersion << " (a newer autonet wrote it)";
  store.schema_version_ = number;
  if (number < kSchemaVersion && !read_only) {
    store.transaction([&] {
      for (int v = number; v < kSchemaVersion; ++v) store.exec(kUpgrades[v - 1]);
      store.set_meta("schema_version", std::to_string(kSchemaVersion));
    });
    store.schema_version_ = kSchemaVersion;
  }
  return store;
}

StudyStore::StudyStore(StudyStore&& other) noexcept = default;
StudyStore& StudyStore::operator=(StudyStore&& other) noexcept = default;
StudyStore::~StudyStore() = default;

void StudyStore::lock_for_run(RunLock kind) { db_->lock_for_run(kind); }
void StudyStore::lock_study_writes() { db_->lock_study_writes(); }
void StudyStore::exec(const std::string& sql) { db_->exec(sql); }
void StudyStore::begin() { db_->begin(); }
void StudyStore::commit() { db_->commit(); }
void StudyStore::rollback() { db_->rollback(); }
bool StudyStore::reconnected() { return db_->reconnect(); }

Json StudyStore::config() const {
  const auto text = meta("config");
  AN_CHECK(text) << "study '" << path_ << "' has no config";
  return Json::parse(*text);
}

std::optional<std::string> StudyStore::meta(const std::string& key) const {
  auto s = db_->prepare("SELECT value FROM meta WHERE key = ?");
  s->bind(1, key);
  if (!s->step()) return std::nullopt;
  return s->text_at(0);
}

void StudyStore::set_meta(const std::string& key, const std::string& value) {
  auto s = db_->prepare("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  s->bind(1, key).bind(2, value);
  s->step();
}

std::vector<TrialRecord> StudyStore::trials() const { return trials_from(0); }

std::vector<TrialRecord> StudyStore::trials_from(int64_t first, int64_t end) const {
  std::vector<TrialRecord> out;
  {
    auto s = db_->prepare("SELECT " + trial_columns() +
                          " FROM trials WHERE number >= ? AND number < ? ORDER BY number");
    s->bind(1, first).bind(2, end);
    while (s->step()) out.push_back(read_trial(*s));
  }
  auto s = db_->prepare("SELECT trial, step, value, " + metrics_column() +
                        " FROM intermediate WHERE trial >= ? AND trial < ? ORDER BY trial, step");
  s->bind(1, first).bind(2, end);
  size_t i = 0;
  while (s->step()) {
    const int64_t trial = s->int_at(0);
    while (i < out.size() && out[i].number < trial) ++i;
    if (i < out.size() && out[i].number == trial) out[i].intermediate.push_back(read_intermediate(*s, 1));
  }
  return out;
}

std::optional<TrialRecord> StudyStore::trial(int64_t number) const {
  auto s = db_->prepare("SELECT " + trial_columns() + " FROM trials WHERE number = ?");
  s->bind(1, number);
  if (!s->step()) return std::nullopt;
  TrialRecord t = read_trial(*s);
  auto r = db_->prepare("SELECT step, value, " + metrics_column() +
                        " FROM intermediate WHERE trial = ? ORDER BY step");
  r->bind(1, number);
  while (r->step()) t.intermediate.push_back(read_intermediate(*r, 0));
  return t;
}

int64_t StudyStore::trial_count() const {
  auto s = db_->prepare("SELECT COUNT(*) FROM trials");
  s->step();
  return s->int_at(0);
}

void StudyStore::insert_trial(const TrialRecord& t) {
  auto s = db_->prepare(
      "INSERT INTO trials (state, params, seed, value, metrics, reason, attempts, device, version, "
      "created_at, started_at, finished_at, owner, number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  bind_trial_fields(*s, t, 1);
  s->bind(14, t.number);
  s->step();
}

void StudyStore::update_trial(const TrialRecord& t) {
  auto s = db_->prepare(std::string(kUpdateTrial) + "WHERE number = ?");
  bind_trial_fields(*s, t, 1);
  s->bind(14, t.number);
  s->step();
  AN_CHECK(s->changes() == 1) << "update of unknown trial " << t.number;
}

bool StudyStore::update_owned_trial(const TrialRecord& t, const std::string& owner) {
  auto s = db_->prepare(std::string(kUpdateTrial) + "WHERE number = ? AND owner = ? AND state = 'RUNNING'");
  bind_trial_fields(*s, t, 1);
  s->bind(14, t.number).bind(15, owner);
  s->step();
  return s->changes() == 1;
}

std::optional<int64_t> StudyStore::claim_waiting(const std::string& owner, const std::string& device,
                                                 const std::string& version) {
  auto pick = db_->prepare("SELECT number FROM trials WHERE state = 'WAITING' ORDER BY number LIMIT 1" +
                           db_->skip_locked());
  if (!pick->step()) return std::nullopt;
  const int64_t number = pick->int_at(0);
  auto s = db_->prepare(
      "UPDATE trials SET state = 'RUNNING', owner = ?, device = ?, version = ?, attempts = attempts + 1, "
      "started_at = ?, reason = '' WHERE number = ? AND state = 'WAITING'");
  s->bind(1, owner).bind(2, device).bind(3, version).bind(4, now_seconds()).bind(5, number);
  s->step();
  AN_CHECK(s->changes() == 1) << "trial " << number << " was claimed twice";
  return number;
}

void StudyStore::heartbeat(const WorkerInfo& worker) {
  auto s = db_->prepare(
      "INSERT INTO workers (id, host, pid, slots, expiry_s, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, " +
      db_->clock_sql() + ", " + db_->clock_sql() +
      ") ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, slots = excluded.slots, "
      "expiry_s = excluded.expiry_s");
  s->bind(1, worker.id).bind(2, worker.host).bind(3, worker.pid).bind(4, worker.slots).bind(5, worker.expiry_s);
  s->step();
}

void StudyStore::renew_heartbeat(const std::string& id) {
  auto s = db_->prepare("UPDATE workers SET heartbeat_at = " + db_->clock_sql() + " WHERE id = ?");
  s->bind(1, id);
  s->step();
}

void StudyStore::remove_worker(const std::string& id) {
  auto s = db_->prepare("DELETE FROM workers WHERE id = ?");
  s->bind(1, id);
  s->step();
}

int64_t StudyStore::live_slots(double expiry_s) const {
  auto s = db_->prepare("SELECT COALESCE(SUM(slots), 0) FROM workers WHERE heartbeat_at >= " +
                        db_->clock_sql() + " - ?");
  s->bind(1, expiry_s);
  s->step();
  return s->int_at(0);
}

std::vector<TrialRecord> StudyStore::orphaned_trials(double expiry_s) const {
  std::vector<TrialRecord> out;
  auto s = db_->prepare("SELECT " + trial_columns() +
                        " FROM trials WHERE state = 'RUNNING' AND owner NOT IN "
                        "(SELECT id FROM workers WHERE heartbeat_at >= " + db_->clock_sql() +
                        " - (CASE WHEN expiry_s > 0 THEN expiry_s ELSE ? END)) ORDER BY number");
  s->bind(1, expiry_s);
  while (s->step()) out.push_back(read_trial(*s));
  return out;
}

void StudyStore::add_intermediate(int64_t trial, const Intermediate& v) {
  auto s = db_->prepare(
      "INSERT INTO intermediate (trial, step, value, at, metrics) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (trial, step) DO UPDATE SET value = excluded.value, at = excluded.at, "
      "metrics = excluded.metrics");
  s->bind(1, trial).bind(2, v.step).bind_optional(3, std::isfinite(v.value) ? std::optional(v.value)
                                                                             : std::nullopt);
  s->bind(4, now_seconds()).bind(5, v.metrics.dump());
  s->step();
}

// A study of an older schema opened read-only lacks the newer columns: they read as defaults.
std::string StudyStore::metrics_column() const { return schema_version_ >= 2 ? "metrics" : "'{}'"; }
std::string StudyStore::trial_columns() const {
  return std::string(kTrialColumnsV2) + (schema_version_ >= 3 ? ", owner" : ", ''");
}

void StudyStore::clear_intermediate(int64_t trial) {
  auto s = db_->prepare("DELETE FROM intermediate WHERE trial = ?");
  s->bind(1, trial);
  s->step();
}

void StudyStore::save_sampler_state(int64_t trial, const Json& state) {
  auto s = db_->prepare("INSERT INTO sampler_state (trial, state) VALUES (?, ?) "
                        "ON CONFLICT (trial) DO UPDATE SET state = excluded.state");
  s->bind(1, trial).bind(2, state.dump());
  s->step();
}

std::optional<Json> StudyStore::sampler_state(int64_t trial) const {
  auto s = db_->prepare("SELECT state FROM sampler_state WHERE trial = ?");
  s->bind(1, trial);
  if (!s->step()) return std::nullopt;
  return Json::parse(s->text_at(0));
}

void StudyStore::add_event(int64_t trial, const std::string& kind, const std::string& detail) {
  auto s = db_->prepare("INSERT INTO events (at, trial, kind, detail) VALUES (?, ?, ?, ?)");
  s->bind(1, now_seconds()).bind(2, trial).bind(3, kind).bind(4, detail);
  s->step();
}

std::vector<Event> StudyStore::events() const {
  std::vector<Event> out;
  auto s = db_->prepare("SELECT at, trial, kind, detail FROM events ORDER BY id");
  while (s->step()) out.push_back({s->real_at(0), s->int_at(1), s->text_at(2), s->text_at(3)});
  return out;
}

}  // namespace autonet::hpsearch
