#include "hpsearch/postgres_connection.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/error.h"

#ifdef AUTONET_HAVE_LIBPQ
#include <libpq-fe.h>
#endif

namespace autonet::hpsearch {

bool is_server_url(const std::string& where) {
  return where.rfind("postgresql://", 0) == 0 || where.rfind("postgres://", 0) == 0;
}

#ifdef AUTONET_HAVE_LIBPQ

namespace {

// The URL without its password, for messages.
std::string shown(const std::string& url) {
  const size_t scheme = url.find("://") + 3, at = url.find('@', scheme);
  const size_t colon = url.find(':', scheme);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

// `?` placeholders → `$1, $2, ...` (the store's SQL has no `?` inside string literals).
std::string numbered(const std::string& sql) {
  std::string out;
  int n = 0;
  for (const char c : sql) {
    if (c == '?') {
      out += "$" + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

class PostgresConnection;
bool retry_after_reconnect(PostgresConnection& connection);

class PostgresQuery : public SqlQuery {
 public:
  PostgresQuery(PostgresConnection& owner, PGconn* conn, const std::string& sql)
      : owner_(owner), conn_(conn), sql_(numbered(sql)) {}
  ~PostgresQuery() override { PQclear(result_); }
  SqlQuery& bind(int i, int64_t v) override { return set(i, std::to_string(v)); }
  SqlQuery& bind(int i, double v) override {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", v);  // round-trips every double
    return set(i, text);
  }
  SqlQuery& bind(int i, const std::string& v) override { return set(i, v); }
  SqlQuery& bind_null(int i) override {
    grow(i);
    null_[static_cast<size_t>(i - 1)] = true;
    return *this;
  }
  bool step() override {
    if (!result_) {
      std::vector<const char*> values(params_.size());
      for (size_t i = 0; i < params_.size(); ++i) values[i] = null_[i] ? nullptr : params_[i].c_str();
      result_ = PQexecParams(conn_, sql_.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
      if (failed() && retry_after_reconnect(owner_)) {
        PQclear(result_);
        result_ = PQexecParams(conn_, sql_.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
      }
      const ExecStatusType status = PQresultStatus(result_);
      AN_CHECK(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
          << "postgresql: " << PQresultErrorMessage(result_) << " in: " << sql_.substr(0, 80);
      const char* touched = PQcmdTuples(result_);
      changes_ = touched && *touched ? std::atoll(touched) : 0;
      row_ = -1;
    }
    return ++row_ < PQntuples(result_);
  }
  int64_t int_at(int c) const override { return std::atoll(PQgetvalue(result_, row_, c)); }
  double real_at(int c) const override { return std::strtod(PQgetvalue(result_, row_, c), nullptr); }
  bool null_at(int c) const override { return PQgetisnull(result_, row_, c) != 0; }
  std::string text_at(int c) const override { return PQgetvalue(result_, row_, c); }
  int64_t changes() const override { return changes_; }

 private:
  bool failed() const {
    const ExecStatusType status = PQresultStatus(result_);
    return status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK;
  }
  void grow(int i) {
    AN_CHECK(i >= 1) << "postgresql: parameter positions start at 1";
    if (params_.size() < static_cast<size_t>(i)) {
      params_.resize(static_cast<size_t>(i));
      null_.resize(static_cast<size_t>(i), false);
    }
  }
  SqlQuery& set(int i, std::string text) {
    grow(i);
    params_[static_cast<size_t>(i - 1)] = std::move(text);
    null_[static_cast<size_t>(i - 1)] = false;
    return *this;
  }
  PostgresConnection& owner_;
  PGconn* conn_;
  std::string sql_;
  std::vector<std::string> params_;
  std::vector<bool> null_;
  PGresult* result_ = nullptr;
  int row_ = -1;
  int64_t changes_ = 0;
};

// Advisory lock keys (one study per database: any constants work): the run lock, exclusive for a
// coordinator and shared among workers, and the lock that serialises creating trials.
constexpr const char* kRunLockKey = "727100112";
constexpr const char* kWriteLockKey = "727100113";

class PostgresConnection : public SqlConnection {
 public:
  explicit PostgresConnection(const std::string& url) : url_(url) {
    conn_ = PQconnectdb(url.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string why = PQerrorMessage(conn_);
      PQfinish(conn_);
      AN_THROW() << "cannot connect to the study server " << shown(url) << ": " << why;
    }
    exec("SET client_min_messages = warning");  // no NOTICEs on stderr for IF EXISTS
  }
  // The run lock is given back before the connection closes. Left to the server, it goes only as
  // the session's process ends, after PQfinish has returned: a coordinator started right after
  // the last worker closed could still find the study run by it (seen once in CI's
  // `SharedStudy.WorkersAndACoordinatorExcludeEachOther`).
  ~PostgresConnection() override {
    if (locked_ && PQstatus(conn_) == CONNECTION_OK) {
      if (in_transaction_) PQclear(PQexec(conn_, "ROLLBACK"));  // an aborted one refuses the unlock
      char unlock[96];                                          // no allocation in a destructor
      std::snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock%s(%s)",
                    *locked_ == RunLock::Worker ? "_shared" : "", kRunLockKey);
      PQclear(PQexec(conn_, unlock));
    }
    PQfinish(conn_);
  }

  std::unique_ptr<SqlQuery> prepare(const std::string& sql) override {
    return std::make_unique<PostgresQuery>(*this, conn_, sql);
  }
  void exec(const std::string& sql) override {
    for (int attempt = 0;; ++attempt) {
      PGresult* r = PQexec(conn_, sql.c_str());
      const ExecStatusType status = PQresultStatus(r);
      const std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
      if (attempt == 0 && !in_transaction_ && reconnect()) continue;
      AN_THROW() << "postgresql: " << msg << " in: " << sql.substr(0, 80);
    }
  }
  void begin() override {
    exec("BEGIN");
    in_transaction_ = true;
  }
  void commit() override {
    in_transaction_ = false;
    exec("COMMIT");
  }
  void rollback() override {
    in_transaction_ = false;
    PQclear(PQexec(conn_, "ROLLBACK"));
  }
  // A server restart ends the session: wait for the server (up to a minute), then take the
  // run lock again when this connection held it.
  bool reconnect() override {
    if (PQstatus(conn_) == CONNECTION_OK) return false;
    in_transaction_ = false;
    for (int i = 0; i < 240 && PQstatus(conn_) != CONNECTION_OK; ++i) {
      PQreset(conn_);
      if (PQstatus(conn_) != CONNECTION_OK) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    AN_CHECK(PQstatus(conn_) == CONNECTION_OK)
        << "lost the study server " << shown(url_) << " and could not reconnect: " << PQerrorMessage(conn_);
    exec("SET client_min_messages = warning");
    if (const std::optional<RunLock> held = locked_) {
      locked_.reset();
      lock_for_run(*held);
    }
    return true;
  }
  bool in_transaction() const { return in_transaction_; }
  std::string autoincrement_key() const override { return "BIGSERIAL PRIMARY KEY"; }
  bool has_table(const std::string& name) override {
    PostgresQuery q(*this, conn_, "SELECT COUNT(*) FROM information_schema.tables "
                           "WHERE table_schema = current_schema() AND table_name = ?");
    q.bind(1, name);
    q.step();
    return q.int_at(0) == 1;
  }
  void lock_for_run(RunLock kind) override {
    if (locked_) return;
    const bool worker = kind == RunLock::Worker;
    PostgresQuery q(*this, conn_, std::string("SELECT pg_try_advisory_lock") + (worker ? "_shared(" : "(") +
                                      kRunLockKey + ")");
    q.step();
    AN_CHECK(q.text_at(0) == "t") << "study '" << shown(url_) << "' is being run by another process"
                                  << (worker ? " (a coordinator: `hpsearch run`)" : "");
    locked_ = kind;
  }
  void lock_study_writes() override {
    PostgresQuery q(*this, conn_, std::string("SELECT pg_advisory_xact_lock(") + kWriteLockKey + ")");
    q.step();
  }
  std::string skip_locked() const override { return " FOR UPDATE SKIP LOCKED"; }
  std::string clock_sql() const override { return "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"; }
  void drop_study() override {
    exec("DROP TABLE IF EXISTS meta, trials, intermediate, sampler_state, events, workers");
  }

 private:
  std::string url_;
  PGconn* conn_ = nullptr;
  std::optional<RunLock> locked_;  // the run lock this session holds
  bool in_transaction_ = false;
};

// A statement outside a transaction that failed on a lost connection runs again once.
bool retry_after_reconnect(PostgresConnection& connection) {
  return !connection.in_transaction() && connection.reconnect();
}

}  // namespace

std::unique_ptr<SqlConnection> connect_postgres(const std::string& url) {
  return std::make_unique<PostgresConnection>(url);
}

bool postgres_supported() { return true; }

#else

std::unique_ptr<SqlConnection> connect_postgres(const std::string& url) {
  AN_THROW() << "this autonet was built without PostgreSQL support (libpq-dev): cannot open "
             << url.substr(0, url.find("://") + 3) << "...";
}

bool postgres_supported() { return false; }

#endif

}  // namespace autonet::hpsearch
