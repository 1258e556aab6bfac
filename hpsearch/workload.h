// Trial workloads: what one trial runs. A workload receives the trial's parameters, its seed and
// device, reports a value per epoch (the reporter says when to stop: pruned or diverged) and
// returns the objective. Workloads are registered by name; the study's "workload" object is
// handed to the factory as is. They run inside worker processes (worker.h), never in the
// coordinator.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hpsearch/json.h"
#include "hpsearch/space.h"

namespace autonet::hpsearch {

struct TrialContext {
  int64_t number = 0;
  uint64_t seed = 0;
  int attempt = 1;             // 1 for the first start, 2 after one re-queue, ...
  std::string device = "cpu";  // as the workload should use it ("cuda:0" inside CUDA_VISIBLE_DEVICES)
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  // Records the value after `step` (1-based epoch) and the metrics beside it; true means stop now
  // and return. `last_step` is the trial's final step when the workload knows it (0: unknown):
  // the pruner never stops a trial at its last step.
  virtual bool report(int64_t step, double value, const Json& metrics = Json::object(),
                      int64_t last_step = 0) = 0;
};

struct TrialResult {
  double value = 0;
  Json metrics = Json::object();
};

class TrialWorkload {
 public:
  virtual ~TrialWorkload() = default;
  virtual TrialResult run(const Json& params, const TrialContext& context, Reporter& reporter) = 0;
};

using WorkloadFactory = std::function<std::unique_ptr<TrialWorkload>(const Json& config)>;
// Checks a workload config against the study's space before any trial runs (throws naming the
// parameter and the problem); optional.
using WorkloadChecker = std::function<void(const Json& config, const Space& space)>;

// Registration is explicit (static registrars get dropped from static libraries): the built-in
// "synthetic" workload is always there; apps/ registers the training workloads.
void register_workload(const std::string& name, WorkloadFactory factory,
                       WorkloadChecker checker = {});
std::unique_ptr<TrialWorkload> make_workload(const Json& config);
// Throws for an unregistered workload name, or when the workload's checker rejects the space.
void check_workload(const Json& config, const Space& space);
std::vector<std::string> workload_names();

// A deterministic analytic objective with per-epoch reports, for testing the machinery:
//   final = base + Σ_p term_p (+ noise·(U − ½), U from the trial seed)
//   term_p = ((x − t)/max(|t|, 1))² for a number target t, (log₁₀(x/t))² for {"value": t,
//   "log": true}, ((x − t)/s)² for {"value": t, "scale": s}, 0/1 for categoricals
//   epoch e of E reports final·(1 + (E − e)/E), and metrics {"accuracy": 1/(1 + value)}.
// Config: {"name": "synthetic", "epochs": 5, "base": 0.1, "target": {"x": 0.3}, "noise": 0,
//          "sleep_ms": 0,
//          "crash": {"trial": 3, "attempts": 1, "step": 2},   SIGKILLs its own worker
//          "nan":   {"trial": 4, "step": 2},                  reports NaN from that step
//          "throw": {"trial": 5}}                             throws (a FAILED trial)
std::unique_ptr<TrialWorkload> make_synthetic_workload(const Json& config);

}  // namespace autonet::hpsearch
