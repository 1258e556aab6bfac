// Pruners decide, at each per-epoch report, whether a running trial should stop. Whatever the
// pruner, a non-finite value (or one above `diverge_above` when set) stops the trial at once as
// "diverged". Pruners compare with `peers`: the finished trials the runner lets them see (those
// numbered below the trial's own visibility horizon, so decisions are reproducible).
//
//   {"name": "none"}
//   {"name": "median", "startup_trials": 5, "warmup_steps": 0}
//   {"name": "asha", "min_resource": 1, "reduction_factor": 3}
//   optional in any: "diverge_above": 1e3
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/trial.h"

namespace autonet::hpsearch {

struct PruneDecision {
  bool prune = false;
  std::string reason;  // "diverged: ..." or the rule that fired
};

class Pruner {
 public:
  explicit Pruner(const Json& config);
  virtual ~Pruner() = default;
  // `losses` are the trial's reported values so far (direction applied: lower is better), the
  // last one at `step`. `peers` are finished trials with their intermediate values (raw values).
  PruneDecision decide(const std::vector<Intermediate>& losses,
                       const std::vector<const TrialRecord*>& peers, Direction direction) const;
  Json config() const { return config_; }

 protected:
  virtual PruneDecision rule(const std::vector<Intermediate>& losses,
                             const std::vector<const TrialRecord*>& peers,
                             Direction direction) const = 0;
  Json config_;
  std::optional<double> diverge_above_;
};

std::unique_ptr<Pruner> make_pruner(const Json& config);

// Median stopping (Golovin et al. 2017; Optuna's MedianPruner): stop when the trial's best value
// so far is worse than the median of the peers' values at the same step. Only once
// `startup_trials` peers completed and from step `warmup_steps` + 1 on.
class MedianPruner : public Pruner {
 public:
  explicit MedianPruner(const Json& config);

 protected:
  PruneDecision rule(const std::vector<Intermediate>& losses,
                     const std::vector<const TrialRecord*>& peers, Direction direction) const override;

 private:
  int startup_trials_ = 5;
  int warmup_steps_ = 0;
};

// Asynchronous successive halving (Li et al. 2020): rungs at steps r·η^k; at a rung a trial goes
// on only if its value is among the best max(1, ⌊n/η⌋) of the n values recorded at that rung
// (its own included).
class AshaPruner : public Pruner {
 public:
  explicit AshaPruner(const Json& config);
  bool is_rung(int64_t step) const;

 protected:
  PruneDecision rule(const std::vector<Intermediate>& losses,
                     const std::vector<const TrialRecord*>& peers, Direction direction) const override;

 private:
  int64_t min_resource_ = 1;
  int64_t reduction_factor_ = 3;
};

class NopPruner : public Pruner {
 public:
  explicit NopPruner(const Json& config) : Pruner(config) {}

 protected:
  PruneDecision rule(const std::vector<Intermediate>&, const std::vector<const TrialRecord*>&,
                     Direction) const override {
    return {};
  }
};

}  // namespace autonet::hpsearch
