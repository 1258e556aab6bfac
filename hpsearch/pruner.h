// Pruners decide, at each per-epoch report, whether a running trial should stop. Whatever the
// pruner, a non-finite value — or, when set, a minimised objective above `diverge_above` or a
// maximised one below `diverge_below` — stops the trial at once as "diverged". The rule itself
// never fires at the trial's last step (nothing is left to save by stopping). Pruners compare
// with `peers`: the finished trials the runner lets them see (those numbered below the trial's
// own visibility horizon, so decisions are reproducible).
//
//   {"name": "none"}
//   {"name": "median", "startup_trials": 5, "warmup_steps": 0}
//   {"name": "asha", "min_resource": 1, "reduction_factor": 3}
//   optional in any: "diverge_above": 1e3 (minimize) or "diverge_below": 0.05 (maximize)
#pragma once
#include <functional>
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

class OptionReader;

class Pruner {
 public:
  // Reads the divergence thresholds; the subclass reads its own options.
  explicit Pruner(OptionReader& options);
  virtual ~Pruner() = default;
  // `losses` are the trial's reported values so far (direction applied: lower is better), the
  // last one at `step`. `peers` are finished trials with their intermediate values (raw values).
  // `last_step` is the trial's final step when its workload said so (0: unknown).
  PruneDecision decide(const std::vector<Intermediate>& losses,
                       const std::vector<const TrialRecord*>& peers, Direction direction,
                       int64_t last_step = 0) const;

 protected:
  virtual PruneDecision rule(const std::vector<Intermediate>& losses,
                             const std::vector<const TrialRecord*>& peers,
                             Direction direction) const = 0;
  std::optional<double> diverge_above_, diverge_below_;
};

// {"name": ..., options} of a registered pruner (none, median, asha, or register_pruner's);
// `direction` checks the divergence threshold fits the objective.
std::unique_ptr<Pruner> make_pruner(const Json& config, Direction direction = Direction::Minimize);
using PrunerFactory = std::function<std::unique_ptr<Pruner>(OptionReader& options)>;
void register_pruner(const std::string& name, PrunerFactory factory);

// Median stopping (Golovin et al. 2017; Optuna's MedianPruner): stop when the trial's best value
// so far is worse than the median of the complete peers' values at the same step (pruned and
// failed peers stopped because they were bad, or broken: they would drag the median). Only once
// `startup_trials` peers completed and from step `warmup_steps` + 1 on.
class MedianPruner : public Pruner {
 public:
  explicit MedianPruner(OptionReader& options);

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
  explicit AshaPruner(OptionReader& options);
  explicit AshaPruner(const Json& config);  // direct use; unknown options are not checked
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
  explicit NopPruner(OptionReader& options) : Pruner(options) {}

 protected:
  PruneDecision rule(const std::vector<Intermediate>&, const std::vector<const TrialRecord*>&,
                     Direction) const override {
    return {};
  }
};

}  // namespace autonet::hpsearch
