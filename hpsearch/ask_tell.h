// `autonet hpsearch ask` / `tell`: trials run by a script rather than by a worker process. `ask`
// claims a trial like a worker of a shared study (claims.h), owned by a heartbeat row of its own
// ("ask:" + an id) that every `tell` renews: it stays RUNNING until `tell` records its end, or
// until no tell came for its expiry — then, like a dead worker's trial, it is re-queued with the
// same parameters and seed (by any worker, or the next `ask`). Intermediate reports are told
// too, and answered with the pruner's verdict; a pruned trial is recorded PRUNED at once.
#pragma once
#include <optional>
#include <string>

#include "hpsearch/json.h"
#include "hpsearch/pruner.h"
#include "hpsearch/trial.h"

namespace autonet::hpsearch {

struct AskedTrial {
  int64_t number = 0;
  uint64_t seed = 0;
  Json params;
};

// How long an asked trial may go without a tell by default (`ask --expiry-s`).
inline constexpr double kAskExpiryS = 600;

// The next trial for a script: a WAITING one (asked trials silent past their expiry are
// re-queued first), else a new suggestion. `parallel`: trials the script keeps running at once
// (the horizon's lag is parallel − 1 at least). Throws, saying why, when there is none: the
// budget is spent, the sampler has no more, or earlier trials must be told first.
AskedTrial ask_trial(const std::string& study, int64_t parallel = 1, const std::string& version = "dev",
                     double expiry_s = kAskExpiryS);

// Records the value after `step` of an asked trial; the pruner's verdict on it (when it prunes,
// the trial is PRUNED with this value).
PruneDecision tell_report(const std::string& study, int64_t number, int64_t step, double value,
                          const Json& metrics = Json::object(), int64_t last_step = 0);

// Ends an asked trial: COMPLETE (a finite value required), PRUNED (the value defaults to the last
// report's) or FAILED (`reason` says why).
TrialRecord tell_result(const std::string& study, int64_t number, TrialState state,
                        std::optional<double> value, const Json& metrics = Json::object(),
                        const std::string& reason = "");

}  // namespace autonet::hpsearch
