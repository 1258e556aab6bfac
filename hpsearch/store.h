// A study's store: an SQLite file (`STUDY.db`, the embedded default; WAL journal) or a
// PostgreSQL database (`postgresql://user@host/db`, for studies shared by many machines), chosen
// by the study argument; both through the SQL of sql.h, with one schema:
//   meta(key, value)                       study config (space, sampler, pruner, workload, budget,
//                                          seed, direction), schema version, creation time
//   trials(number, state, params, seed, value, metrics, reason, attempts, device, version,
//          created_at, started_at, finished_at, owner)
//   intermediate(trial, step, value, at, metrics)   per-epoch reports
//   sampler_state(trial, state)            the sampler's state after it was told `trial`
//   events(id, at, trial, kind, detail)    worker deaths, re-queues, budget stops, resumes
//   workers(id, host, pid, slots, started_at, heartbeat_at)   the live workers of a shared study
// Writers: one coordinator (`hpsearch run`, exclusive run lock), or any number of workers on any
// hosts (`hpsearch worker`, shared run lock) that claim trials and heartbeat (claims.h).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/sql.h"
#include "hpsearch/trial.h"

namespace autonet::hpsearch {

class SqlConnection;

// The prefix of the owner of a trial that `hpsearch ask` handed to a script ("ask:" + an id):
// its heartbeat row is renewed by each `hpsearch tell` (claims.h).
inline constexpr const char* kAskOwner = "ask";

// A worker process of a shared study (or an asked trial), as its heartbeat row records it.
struct WorkerInfo {
  std::string id, host;
  int64_t pid = 0, slots = 1;
  double expiry_s = 0;  // silent longer, its trials are re-queued (0: the sweeper's expiry)
};

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
  // One coordinator per study, or any number of workers: held until the store closes; throws when
  // another process holds it the other way.
  void lock_for_run(RunLock kind = RunLock::Coordinator);
  // Inside a transaction: serialises it with the other writers that call this (creating trials).
  void lock_study_writes();
  Json config() const;
  std::optional<std::string> meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);

  // All trials in number order, with their intermediate values.
  std::vector<TrialRecord> trials() const;
  // Those numbered `first` and above (below `end`).
  std::vector<TrialRecord> trials_from(int64_t first, int64_t end = INT64_MAX) const;
  std::optional<TrialRecord> trial(int64_t number) const;
  int64_t trial_count() const;
  void insert_trial(const TrialRecord& trial);
  void update_trial(const TrialRecord& trial);  // everything but the intermediate values
  // The same, but only while `owner` holds the trial RUNNING; false when it lost it (re-queued
  // after its heartbeat expired).
  bool update_owned_trial(const TrialRecord& trial, const std::string& owner);

  // Shared studies. Inside a transaction: the lowest-numbered WAITING trial becomes RUNNING for
  // `owner` (one attempt more); concurrent claimers skip each other's rows.
  std::optional<int64_t> claim_waiting(const std::string& owner, const std::string& device,
                                       const std::string& version);
  // Registers the worker or renews its heartbeat (the store's clock).
  void heartbeat(const WorkerInfo& worker);
  // Renews the heartbeat of an existing row (an asked trial's, at each tell).
  void renew_heartbeat(const std::string& id);
  void remove_worker(const std::string& id);
  // Trial slots of the workers that heartbeat within the last `expiry_s` seconds.
  int64_t live_slots(double expiry_s) const;
  // RUNNING trials whose owner has not heartbeat within its row's expiry (`expiry_s` seconds
  // for a row without one), or has no row at all.
  std::vector<TrialRecord> orphaned_trials(double expiry_s) const;
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
  std::string trial_columns() const;
  std::string path_;
  std::unique_ptr<SqlConnection> db_;
  int schema_version_ = 3;
};

}  // namespace autonet::hpsearch
