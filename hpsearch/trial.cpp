#include "hpsearch/trial.h"

#include <chrono>
#include <cmath>

#include "runtime/error.h"

namespace autonet::hpsearch {

const char* trial_state_name(TrialState state) {
  switch (state) {
    case TrialState::Waiting: return "WAITING";
    case TrialState::Running: return "RUNNING";
    case TrialState::Complete: return "COMPLETE";
    case TrialState::Pruned: return "PRUNED";
    case TrialState::Failed: return "FAILED";
  }
  return "?";
}

TrialState parse_trial_state(const std::string& name) {
  for (TrialState s : {TrialState::Waiting, TrialState::Running, TrialState::Complete,
                       TrialState::Pruned, TrialState::Failed})
    if (name == trial_state_name(s)) return s;
  AN_THROW() << "unknown trial state '" << name << "'";
}

Direction parse_direction(const std::string& name) {
  if (name == "minimize") return Direction::Minimize;
  if (name == "maximize") return Direction::Maximize;
  AN_THROW() << "direction must be \"minimize\" or \"maximize\", got \"" << name << "\"";
}

const char* direction_name(Direction d) { return d == Direction::Minimize ? "minimize" : "maximize"; }

std::optional<double> loss_of(const TrialRecord& trial, Direction direction) {
  if (trial.state != TrialState::Complete || !trial.value || !std::isfinite(*trial.value))
    return std::nullopt;
  return direction == Direction::Minimize ? *trial.value : -*trial.value;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t trial_seed(uint64_t study_seed, int64_t number) {
  return splitmix64(splitmix64(study_seed) ^ static_cast<uint64_t>(number)) >> 1;  // fits int64
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace autonet::hpsearch
