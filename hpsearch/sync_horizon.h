// Which finished trials a new trial may depend on: trial n is suggested (and pruned) from trials
// 0 … of(n)−1 only, so its parameters do not depend on how fast the trials before it ran.
//
// With one segment, of(n) = n − lag where lag = workers − 1 of the study's first run (one
// worker: the plain serial sequence). A later run with more workers opens a new segment at the
// next new trial number with the larger lag; the horizon never moves back (the sampler cannot
// forget a tell), so across the boundary it holds still until n − lag catches up. The segments
// are stored in the study (meta `sync_lag`, then `sync_lag_changes` = [[first trial, lag], ...])
// and replayed on every run, so a resumed study asks the same questions.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "hpsearch/trial.h"

namespace autonet::hpsearch {

class StudyStore;

class SyncHorizon {
 public:
  struct Segment {
    int64_t first_trial = 0;
    int64_t lag = 0;
  };
  SyncHorizon() = default;
  explicit SyncHorizon(std::vector<Segment> segments) : segments_(std::move(segments)) {}

  // The study's segments; a run with `workers` workers whose next new trial is `next_trial`
  // opens a new segment when it allows more parallelism than the last one (and stores it).
  static SyncHorizon load(StudyStore& store, int64_t next_trial, int64_t workers);

  int64_t of(int64_t trial) const;
  // The finished trials below trial n's horizon (`trials` indexed by number): its pruner's peers.
  std::vector<const TrialRecord*> peers(const std::vector<TrialRecord>& trials, int64_t n) const;
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  std::vector<Segment> segments_{{0, 0}};
};

}  // namespace autonet::hpsearch
