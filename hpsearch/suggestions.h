// Where a study's new trials come from, for every process that creates them (the coordinator,
// a worker of a shared study, `hpsearch ask`): the sampler, told the finished trials strictly in
// trial-number order, asked for trial n only once exactly trials 0 … horizon(n) − 1 are told
// (sync_horizon.h), so trial n's parameters depend on the seed and those trials alone.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "hpsearch/study.h"
#include "hpsearch/sync_horizon.h"
#include "hpsearch/trial.h"

namespace autonet::hpsearch {

class StudyStore;

class Suggestions {
 public:
  explicit Suggestions(const StudyConfig& config);

  // Trial number trials.size() (WAITING, not yet stored) when the trial budget, the sampler and
  // the horizon allow it; nullopt when not now (an earlier trial must finish first) or never
  // (budget spent, or exhausted()).
  std::optional<TrialRecord> next(StudyStore& store, const std::vector<TrialRecord>& trials,
                                  const SyncHorizon& horizon, int64_t budget_trials);
  // Tells the sampler the finished trials numbered below `limit` it has not seen, in number
  // order, stopping at the first unfinished one. A stored sampler state (from an earlier run or
  // another process) must equal the replay's; a missing one is stored.
  void tell_up_to(StudyStore& store, const std::vector<TrialRecord>& trials, int64_t limit);
  bool exhausted() const { return exhausted_; }

 private:
  StudyConfig config_;
  std::unique_ptr<Sampler> sampler_;
  int64_t told_ = 0, enqueued_ = 0;
  bool exhausted_ = false;
};

}  // namespace autonet::hpsearch
