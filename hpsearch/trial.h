// One trial of a study as the store keeps it, and the states it passes through:
//   WAITING → RUNNING → COMPLETE | PRUNED | FAILED
// A RUNNING trial whose worker died (or whose coordinator was killed) goes back to WAITING with the
// same parameters and seed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"

namespace autonet::hpsearch {

enum class Direction { Minimize, Maximize };
Direction parse_direction(const std::string& name);
const char* direction_name(Direction d);

enum class TrialState { Waiting, Running, Complete, Pruned, Failed };
const char* trial_state_name(TrialState state);
TrialState parse_trial_state(const std::string& name);
inline bool is_finished(TrialState s) {
  return s == TrialState::Complete || s == TrialState::Pruned || s == TrialState::Failed;
}

struct Intermediate {
  int64_t step = 0;  // 1-based epoch (or any increasing resource count)
  double value = 0;
  Json metrics = Json::object();  // what the workload reported beside the value
};

struct TrialRecord {
  int64_t number = 0;
  TrialState state = TrialState::Waiting;
  Json params = Json::object();
  uint64_t seed = 0;
  std::optional<double> value;  // objective; for PRUNED the last reported value
  Json metrics = Json::object();  // e.g. {"accuracy": 0.91, "train_loss": ...}
  std::string reason;            // why PRUNED or FAILED
  int attempts = 0;              // how many times a worker started it
  std::string device;
  std::string version;           // binary version that ran it
  std::string owner;             // the worker that holds it RUNNING in a shared study ("ask": a script)
  double created_at = 0, started_at = 0, finished_at = 0;  // seconds since the epoch
  std::vector<Intermediate> intermediate;
};

// The value samplers and pruners minimise: the objective, negated when maximising. Empty for a
// trial that did not complete or whose value is not finite.
std::optional<double> loss_of(const TrialRecord& trial, Direction direction);

// Trial seeds: a hash of (study seed, trial number), the same however and whenever it runs.
uint64_t trial_seed(uint64_t study_seed, int64_t number);
uint64_t splitmix64(uint64_t x);

double now_seconds();

}  // namespace autonet::hpsearch
