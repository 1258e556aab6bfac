// A study's store: an SQLite file (`STUDY.db`, the embedded default; WAL journal) or a
// PostgreSQL database (`postgresql://user@host/db`, for studies shared by many machines), chosen
// by the study argument; both through the SQL of sql.h, with one schema:
//   meta(key, value)                       study config (space, sampler, pruner, workload, budget,
//                                          seed, direction), schema version, creation time
//   trials(number, state, params, seed, value, metrics, reason, attempts, device, version,
//          created_at, started_at, finished_at)
//   intermediate(trial, step, value, at, metrics)   per-epoch reports
//   sampler_state(trial, state)            the sampler's state after it was told `trial`
//   events(id, at, trial, kind, detail)    worker deaths, re-queues, budget stops, resumes
// One writer per study: the coordinator, which holds the run lock (lock_for_run) while it runs.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/trial.h"

namespace autonet::hpsearch {

class SqlConnection;

struct Event {
  double at = 0;
  int64_t trial = -1;
  std::string kind, detail;
};

class StudyStore {
 public:
  // Creates a new study (refuses to replace an existing one unless `overwrite`, and one that a
  // coordinator is running in any case). `where`: a file path or a postgresql:// URL.
  static StudyStore create(const std::string& where, const Json& config, bool overwrite = false);
  // Opens a study; throws for a missing one, one that is not a study, or a newer schema.
  static StudyStore open(const std::string& where, bool read_only = false);
  StudyStore(StudyStore&& other) noexcept;
  StudyStore& operator=(StudyStore&& other) noexcept;
  StudyStore(const StudyStore&) = delete;
  ~StudyStore();

  const std::string& path() const { return path_; }
  // One coordinator per study: held until the store closes; throws when another process runs it.
  void lock_for_run();
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
  // When the server connection was lost on the way (a restart), the body runs once more on the
  // new connection: it must only write (the store's writes are idempotent).
  template <class F>
  void transaction(F&& body) {
    for (int attempt = 0;; ++attempt) {
      begin();
      try {
        body();
        commit();
        return;
      } catch (...) {
        if (attempt == 0 && reconnected()) continue;
        rollback();
        throw;
      }
    }
  }
  void exec(const std::string& sql);

 private:
  StudyStore(const std::string& path, std::unique_ptr<SqlConnection> db);
  void begin();
  void commit();
  void rollback();
  bool reconnected();
  std::string metrics_column() const;
  std::string path_;
  std::unique_ptr<SqlConnection> db_;
  int schema_version_ = 2;
};

}  // namespace autonet::hpsearch
