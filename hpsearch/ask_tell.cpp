#include "hpsearch/ask_tell.h"

#include <cmath>

#include "hpsearch/claims.h"
#include "hpsearch/store.h"
#include "hpsearch/study.h"
#include "hpsearch/suggestions.h"
#include "runtime/error.h"

namespace autonet::hpsearch {

namespace {

StudyStore open_shared(const std::string& study) {
  StudyStore store = StudyStore::open(study);
  store.lock_for_run(RunLock::Worker);  // never while a coordinator runs it
  return store;
}

// The asked trial `number` while it waits for its tell; throws naming its state otherwise.
TrialRecord asked(const StudyStore& store, int64_t number) {
  const std::optional<TrialRecord> t = store.trial(number);
  AN_CHECK(t) << "study '" << store.path() << "' has no trial " << number;
  AN_CHECK(t->state == TrialState::Running && is_ask_owner(t->owner))
      << "trial " << number << " is not waiting for a tell (it is " << trial_state_name(t->state)
      << (t->owner.empty() || is_ask_owner(t->owner) ? "" : ", run by worker " + t->owner)
      << (t->state == TrialState::Waiting ? "; re-queued after no tell came within its ask's --expiry-s" : "")
      << ")";
  return *t;
}

void record(StudyStore& store, const TrialRecord& t) {
  AN_CHECK(store.update_owned_trial(t, t.owner)) << "trial " << t.number << " was told by someone else meanwhile";
}

}  // namespace

AskedTrial ask_trial(const std::string& study, int64_t parallel, const std::string& version, double expiry_s) {
  AN_CHECK(parallel >= 1) << "--parallel must be >= 1, got " << parallel;
  AN_CHECK(expiry_s > 0) << "--expiry-s must be > 0, got " << expiry_s;
  StudyStore store = open_shared(study);
  const StudyConfig config = StudyConfig::from_json(store.config());
  requeue_orphans(store, expiry_s, config.budget.retries);
  // The heartbeat row comes before the claim: a claimed trial never lacks its owner's row.
  const WorkerInfo row = ask_heartbeat_row(expiry_s);
  store.heartbeat(row);
  Suggestions suggestions(config);
  const Claimant who{row.id, "cpu", version, parallel};
  std::vector<TrialRecord> trials;
  const std::optional<int64_t> n = claim_trial(store, suggestions, who, config.budget.trials, trials);
  if (!n) {
    store.remove_worker(row.id);
    AN_CHECK(!suggestions.exhausted()) << "nothing to ask: the sampler has no more suggestions";
    AN_CHECK(static_cast<int64_t>(trials.size()) < config.budget.trials)
        << "nothing to ask: the study's budget of " << config.budget.trials << " trials is spent";
    AN_THROW() << "nothing to ask yet: trial " << trials.size() << " waits for the trials before it to be told "
               << "(ask --parallel N keeps N trials out at once)";
  }
  const TrialRecord t = *store.trial(*n);
  return {t.number, t.seed, t.params};
}

PruneDecision tell_report(const std::string& study, int64_t number, int64_t step, double value,
                          const Json& metrics, int64_t last_step) {
  StudyStore store = open_shared(study);
  const StudyConfig config = StudyConfig::from_json(store.config());
  TrialRecord t = asked(store, number);
  AN_CHECK(metrics.is_object()) << "tell: metrics must be a JSON object, got " << metrics.dump();
  store.renew_heartbeat(t.owner);
  const Intermediate report{step, value, metrics};
  store.add_intermediate(number, report);
  std::vector<Intermediate> losses;
  for (Intermediate r : t.intermediate) {
    if (r.step == step) continue;  // told again: the new value counts
    r.value = config.direction == Direction::Minimize ? r.value : -r.value;
    losses.push_back(r);
  }
  losses.push_back({step, config.direction == Direction::Minimize ? value : -value});
  // The pruner's peers are the finished trials below this one's horizon: only those are read.
  const SyncHorizon horizon = SyncHorizon::load(store, store.trial_count(), 1);
  const std::vector<TrialRecord> trials = store.trials_from(0, horizon.of(number));
  const PruneDecision d = config.make_pruner()->decide(losses, horizon.peers(trials, number),
                                                       config.direction, last_step, number);
  if (d.prune) {
    t.state = TrialState::Pruned;
    t.value = std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
    t.reason = d.reason;
    t.finished_at = now_seconds();
    record(store, t);
    store.remove_worker(t.owner);
  }
  return d;
}

TrialRecord tell_result(const std::string& study, int64_t number, TrialState state,
                        std::optional<double> value, const Json& metrics, const std::string& reason) {
  AN_CHECK(is_finished(state)) << "tell: the state must be complete, pruned or failed";
  AN_CHECK(metrics.is_object()) << "tell: metrics must be a JSON object, got " << metrics.dump();
  StudyStore store = open_shared(study);
  TrialRecord t = asked(store, number);
  if (state == TrialState::Pruned && !value && !t.intermediate.empty()) value = t.intermediate.back().value;
  if (state == TrialState::Complete) {
    AN_CHECK(value) << "tell: a complete trial needs its --value";
    if (!std::isfinite(*value)) {
      state = TrialState::Failed;
      t.reason = "the objective is not finite";
    }
  }
  t.state = state;
  t.value = value && std::isfinite(*value) ? value : std::nullopt;
  t.metrics = metrics;
  if (!reason.empty()) t.reason = reason;
  t.finished_at = now_seconds();
  record(store, t);
  store.remove_worker(t.owner);
  return t;
}

}  // namespace autonet::hpsearch
