#include "hpsearch/suggestions.h"

#include <algorithm>

#include "hpsearch/store.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

Suggestions::Suggestions(const StudyConfig& config)
    : config_(config), sampler_(config.make_sampler()), enqueued_(config.enqueue_defaults ? 1 : 0) {}

std::optional<TrialRecord> Suggestions::next(StudyStore& store, const std::vector<TrialRecord>& trials,
                                             const SyncHorizon& horizon, int64_t budget_trials) {
  const int64_t n = static_cast<int64_t>(trials.size());
  if (n >= budget_trials || exhausted_) return std::nullopt;
  Json params;
  if (n < enqueued_) {
    params = config_.space.params_json(config_.space.defaults());
  } else {
    // Trial n sees exactly trials 0 … n−1−lag: wait until they are finished, tell them, and no
    // more (telling a trial that finished early would make the suggestion timing-dependent).
    tell_up_to(store, trials, horizon.of(n));
    if (told_ < horizon.of(n)) return std::nullopt;
    const std::optional<Json> suggestion = sampler_->ask(n - enqueued_);
    if (!suggestion) {
      exhausted_ = true;
      return std::nullopt;
    }
    params = *suggestion;
  }
  TrialRecord t;
  t.number = n;
  t.params = params;
  t.seed = trial_seed(config_.seed, n);
  t.created_at = now_seconds();
  return t;
}

void Suggestions::tell_up_to(StudyStore& store, const std::vector<TrialRecord>& trials, int64_t limit) {
  while (told_ < std::min<int64_t>(limit, static_cast<int64_t>(trials.size())) &&
         is_finished(trials[told_].state)) {
    sampler_->tell(trials[told_]);
    const Json state = sampler_->state();
    if (const auto stored = store.sampler_state(told_)) {
      AN_CHECK(stored->dump() == state.dump())
          << "replaying the study gives a different sampler state after trial " << told_ << " (stored "
          << stored->dump() << ", now " << state.dump() << "): was it created by another version?";
    } else {
      store.save_sampler_state(told_, state);
    }
    ++told_;
  }
}

}  // namespace autonet::hpsearch
