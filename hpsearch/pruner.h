// Pruners decide, at each per-epoch report, whether a running trial should stop. Whatever the
// pruner, a non-finite value — or, when set, a minimised objective above `diverge_above` or a
// maximised one below `diverge_below` — stops the trial at once as "diverged". The rule itself
// never fires at the trial's last step (nothing is left to save by stopping). Pruners compare
// with `peers`: the finished trials the runner lets them see (those numbered below the trial's
// own visibility horizon, so decisions are reproducible).
//
//   {"name": "none"}
//   {"name": "median", "startup_trials": 5, "warmup_steps": 0}
//   {"name": "asha", "min_resource": 1, "reduction_factor": 3, "min_early_stopping_rate": 0}
//   {"name": "hyperband", "min_resource": 1, "max_resource": "auto", "reduction_factor": 3}
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

// What a rule decides on.
struct PruneQuery {
  const std::vector<Intermediate>& losses;       // the trial's reports (direction applied)
  const std::vector<const TrialRecord*>& peers;  // finished trials (raw values)
  Direction direction;
  int64_t last_step = 0;  // the trial's final step when its workload said so (0: unknown)
  int64_t trial = 0;      // the trial's number
};

class Pruner {
 public:
  // Reads the divergence thresholds; the subclass reads its own options.
  explicit Pruner(OptionReader& options);
  virtual ~Pruner() = default;
  // `losses` are the trial's reported values so far (direction applied: lower is better), the
  // last one at `step`. `peers` are finished trials with their intermediate values (raw values).
  // `last_step` is the trial's final step when its workload said so (0: unknown); `trial` its
  // number.
  PruneDecision decide(const std::vector<Intermediate>& losses,
                       const std::vector<const TrialRecord*>& peers, Direction direction,
                       int64_t last_step = 0, int64_t trial = 0) const;

 protected:
  virtual PruneDecision rule(const PruneQuery& query) const = 0;
  std::optional<double> diverge_above_, diverge_below_;
};

// {"name": ..., options} of a registered pruner (none, median, asha, hyperband, or
// register_pruner's);
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
  PruneDecision rule(const PruneQuery& query) const override;

 private:
  int startup_trials_ = 5;
  int warmup_steps_ = 0;
};

// Successive halving's rule (Optuna's SuccessiveHalvingPruner): rungs at steps r·η^(s+k), k ≥ 0,
// with r = min_resource, η = reduction_factor, s = min_early_stopping_rate; at a rung a trial goes
// on only if its value is among the best max(1, ⌊n/η⌋) of the n values recorded at that rung by
// `peers` and itself.
struct SuccessiveHalving {
  int64_t min_resource = 1;
  int64_t reduction_factor = 3;
  int64_t min_early_stopping_rate = 0;
  bool is_rung(int64_t step) const;
  PruneDecision decide(const PruneQuery& query, const std::vector<const TrialRecord*>& peers) const;
};

// Asynchronous successive halving (Li et al. 2020): one successive halving over all trials.
class AshaPruner : public Pruner {
 public:
  explicit AshaPruner(OptionReader& options);
  explicit AshaPruner(const Json& config);  // direct use; unknown options are not checked
  bool is_rung(int64_t step) const { return halving_.is_rung(step); }

 protected:
  PruneDecision rule(const PruneQuery& query) const override;

 private:
  SuccessiveHalving halving_;
};

// Hyperband (Li et al. 2018) as Optuna's HyperbandPruner: B = ⌊log_η(R / r)⌋ + 1 brackets of
// successive halving, bracket b with min_early_stopping_rate b (its first rung at r·η^b), each
// comparing only with the trials of its own bracket. Bracket b takes a share
// ⌈B·η^(B−1−b) / (B − b)⌉ of the trials; a trial's bracket is a fixed function of its number
// (bracket_of). R = max_resource: a number, or "auto": the trial's last step as its workload
// reports it, else the largest last step of the complete peers (no pruning before there is one).
class HyperbandPruner : public Pruner {
 public:
  explicit HyperbandPruner(OptionReader& options);
  explicit HyperbandPruner(const Json& config);  // direct use; unknown options are not checked
  // Trials per bracket (one cycle of the assignment) for a maximal resource R.
  std::vector<int64_t> bracket_budgets(int64_t max_resource) const;
  // The bracket of trial `number`: splitmix64(number) modulo the budgets' sum, counted off
  // bracket by bracket.
  int64_t bracket_of(int64_t number, int64_t max_resource) const;

 protected:
  PruneDecision rule(const PruneQuery& query) const override;

 private:
  int64_t min_resource_ = 1;
  int64_t max_resource_ = 0;  // 0: "auto"
  int64_t reduction_factor_ = 3;
};

class NopPruner : public Pruner {
 public:
  explicit NopPruner(OptionReader& options) : Pruner(options) {}

 protected:
  PruneDecision rule(const PruneQuery&) const override { return {}; }
};

}  // namespace autonet::hpsearch
