// The little SQL a study store needs, behind one interface with two engines: an SQLite file
// (sqlite_connection.cpp, the embedded default) and a PostgreSQL server (postgres_connection.cpp,
// for studies shared by many machines). Statements use `?` placeholders and the SQL both engines
// speak (INSERT ... ON CONFLICT, BIGINT, DOUBLE PRECISION); only the schema's autoincrement
// column differs, which each engine writes itself.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace autonet::hpsearch {

class SqlQuery {
 public:
  virtual ~SqlQuery() = default;
  // 1-based positions.
  virtual SqlQuery& bind(int i, int64_t v) = 0;
  virtual SqlQuery& bind(int i, double v) = 0;
  virtual SqlQuery& bind(int i, const std::string& v) = 0;
  virtual SqlQuery& bind_null(int i) = 0;
  SqlQuery& bind_optional(int i, const std::optional<double>& v) { return v ? bind(i, *v) : bind_null(i); }
  // Runs the statement on the first call; true while a row is available.
  virtual bool step() = 0;
  virtual int64_t int_at(int column) const = 0;
  virtual double real_at(int column) const = 0;
  virtual bool null_at(int column) const = 0;
  virtual std::string text_at(int column) const = 0;
  virtual int64_t changes() const = 0;  // rows an INSERT/UPDATE/DELETE touched
};

// Who may work on a study at once: one coordinator (`hpsearch run`) alone, or any number of
// workers (`hpsearch worker`, on any host) together, never both.
enum class RunLock { Coordinator, Worker };

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual std::unique_ptr<SqlQuery> prepare(const std::string& sql) = 0;
  virtual void exec(const std::string& sql) = 0;  // statements without results, ';'-separated
  virtual void begin() = 0;  // a write transaction
  virtual void commit() = 0;
  virtual void rollback() = 0;  // never throws
  // A server engine whose connection broke connects again (waiting for a restarting server) and
  // re-takes its run lock; true when it did. Statements outside a transaction retry by themselves.
  virtual bool reconnect() { return false; }
  // The engine's spelling of an autoincrementing 64-bit primary key column.
  virtual std::string autoincrement_key() const = 0;
  // Whether a table exists.
  virtual bool has_table(const std::string& name) = 0;
  // Takes the study's run lock for the connection's lifetime: exclusive for a coordinator,
  // shared among workers; throws naming the study when a process holds it the other way.
  virtual void lock_for_run(RunLock kind = RunLock::Coordinator) = 0;
  // Serialises the rest of this transaction with every other one that calls it (PostgreSQL: a
  // transaction advisory lock; SQLite's write transactions are serial already).
  virtual void lock_study_writes() {}
  // What a row-locking SELECT appends so that concurrent claimers skip each other's rows
  // (PostgreSQL: FOR UPDATE SKIP LOCKED; nothing for SQLite, whose write lock serialises).
  virtual std::string skip_locked() const { return ""; }
  // An SQL expression for the store's own clock in seconds since the epoch (the server's, so
  // that heartbeats from machines with skewed clocks compare correctly).
  virtual std::string clock_sql() const = 0;
  // Removes the study's data (create --force); the caller holds the run lock.
  virtual void drop_study() = 0;
};

// A PostgreSQL connection string (postgresql://... or postgres://...) rather than a file.
bool is_server_url(const std::string& where);

}  // namespace autonet::hpsearch
