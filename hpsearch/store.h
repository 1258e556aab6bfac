// One SQLite file per study (WAL journal; one writer: the coordinator, which holds a RunLock
// while it runs). Tables:
//   meta(key, value)                       study config (space, sampler, pruner, workload, budget,
//                                          seed, direction), schema version, creation time
//   trials(number, state, params, seed, value, metrics, reason, attempts, device, version,
//          created_at, started_at, finished_at)
//   intermediate(trial, step, value, at, metrics)   per-epoch reports
//   sampler_state(trial, state)            the sampler's state after it was told `trial`
//   events(id, at, trial, kind, detail)    worker deaths, re-queues, budget stops, resumes
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/trial.h"

struct sqlite3;

namespace autonet::hpsearch {

struct Event {
  double at = 0;
  int64_t trial = -1;
  std::string kind, detail;
};

// One coordinator per study: an exclusive flock on the study file itself, held for the object's
// lifetime. Keyed by the file's identity, so a symlink, a hard link or another spelling of the
// path meets the same lock, and no lock file is left behind. Destroy it after the store closes
// (closing another descriptor of the file while SQLite holds its own POSIX locks on it would
// drop those).
class RunLock {
 public:
  explicit RunLock(const std::string& path);  // throws when another process holds it
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

class StudyStore {
 public:
  // Creates a new study file (refuses to overwrite an existing one unless `overwrite`, and one
  // that a coordinator is running in any case).
  static StudyStore create(const std::string& path, const Json& config, bool overwrite = false);
  static StudyStore open(const std::string& path, bool read_only = false);
  StudyStore(StudyStore&& other) noexcept;
  StudyStore& operator=(StudyStore&& other) noexcept;
  StudyStore(const StudyStore&) = delete;
  ~StudyStore();

  const std::string& path() const { return path_; }
  Json config() const;
  std::optional<std::string> meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);

  // All trials in number order, with their intermediate values.
  std::vector<TrialRecord> trials() const;
  std::optional<TrialRecord> trial(int64_t number) const;
  int64_t trial_count() const;
  void insert_trial(const TrialRecord& trial);
  void update_trial(const TrialRecord& trial);  // everything but the intermediate values
  void add_intermediate(int64_t trial, const Intermediate& value);
  void clear_intermediate(int64_t trial);

  void save_sampler_state(int64_t trial, const Json& state);
  std::optional<Json> sampler_state(int64_t trial) const;

  void add_event(int64_t trial, const std::string& kind, const std::string& detail);
  std::vector<Event> events() const;

  // Runs `body` inside one transaction (committed when it returns, rolled back if it throws).
  template <class F>
  void transaction(F&& body) {
    exec("BEGIN IMMEDIATE");
    try {
      body();
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
    exec("COMMIT");
  }
  void exec(const std::string& sql);

 private:
  StudyStore(const std::string& path, sqlite3* db) : path_(path), db_(db) {}
  std::string metrics_column() const;
  std::string path_;
  sqlite3* db_ = nullptr;
  int schema_version_ = 2;
};

}  // namespace autonet::hpsearch
