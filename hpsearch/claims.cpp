#include "hpsearch/claims.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "runtime/error.h"

namespace autonet::hpsearch {

std::optional<int64_t> claim_trial(StudyStore& store, Suggestions& suggestions, const Claimant& who,
                                   int64_t budget_trials, std::vector<TrialRecord>& trials) {
  std::optional<int64_t> claimed;
  store.transaction([&] {
    claimed = store.claim_waiting(who.owner, who.device, who.version);
    if (claimed) return;
    store.lock_study_writes();  // one creator at a time: trial numbers and sampler tells in order
    claimed = store.claim_waiting(who.owner, who.device, who.version);
    if (claimed) return;
    reread_unfinished(store, trials);
    const SyncHorizon horizon =
        SyncHorizon::load(store, static_cast<int64_t>(trials.size()), std::max<int64_t>(1, who.parallel));
    std::optional<TrialRecord> t = suggestions.next(store, trials, horizon, budget_trials);
    if (!t) return;
    t->state = TrialState::Running;
    t->owner = who.owner;
    t->device = who.device;
    t->version = who.version;
    t->attempts = 1;
    t->started_at = now_seconds();
    store.insert_trial(*t);
    claimed = t->number;
  });
  return claimed;
}

void reread_unfinished(const StudyStore& store, std::vector<TrialRecord>& trials, int64_t end) {
  size_t settled = 0;
  while (settled < trials.size() && is_finished(trials[settled].state)) ++settled;
  if (end == INT64_MAX) {
    trials.resize(settled);
    for (TrialRecord& t : store.trials_from(static_cast<int64_t>(settled))) trials.push_back(std::move(t));
    return;
  }
  for (TrialRecord& t : store.trials_from(static_cast<int64_t>(settled), end)) {
    const size_t n = static_cast<size_t>(t.number);
    if (n >= trials.size()) trials.resize(n + 1);
    trials[n] = std::move(t);
  }
}

bool requeue_trial(StudyStore& store, TrialRecord t, const std::string& why,
                   const std::optional<std::string>& owner) {
  t.state = TrialState::Waiting;
  t.owner.clear();
  t.intermediate.clear();
  bool done = false;
  store.transaction([&] {
    done = owner ? store.update_owned_trial(t, *owner) : (store.update_trial(t), true);
    if (!done) return;
    store.clear_intermediate(t.number);
    store.add_event(t.number, "requeued", why);
  });
  return done;
}

std::vector<int64_t> requeue_orphans(StudyStore& store, double expiry_s, int retries) {
  std::vector<int64_t> out;
  for (const TrialRecord& lost : store.orphaned_trials(expiry_s)) {
    const std::string why =
        is_ask_owner(lost.owner)
            ? std::string("its script sent no tell within its ask's expiry")
            : (lost.owner.empty() ? std::string("its process") : "worker " + lost.owner) +
                  " stopped heartbeating (none for longer than its expiry)";
    const int deaths = worker_deaths(store, lost.number) + 1;
    TrialRecord next = lost;
    next.owner.clear();
    if (deaths > retries) {
      next.state = TrialState::Failed;
      next.reason = "worker died " + std::to_string(deaths) + " times (last: " + why + ")";
      next.finished_at = now_seconds();
    } else {
      next.state = TrialState::Waiting;
    }
    bool done = false;
    store.transaction([&] {
      done = store.update_owned_trial(next, lost.owner);  // unless another worker was first
      if (!done) return;
      if (is_ask_owner(lost.owner)) store.remove_worker(lost.owner);
      store.add_event(lost.number, "worker_died", why);
      if (next.state != TrialState::Waiting) return;
      store.clear_intermediate(lost.number);
      store.add_event(lost.number, "requeued", "after " + why + "; same parameters and seed");
    });
    if (done) out.push_back(lost.number);
  }
  return out;
}

int worker_deaths(const StudyStore& store, int64_t number) {
  int deaths = 0;
  for (const Event& e : store.events()) deaths += e.trial == number && e.kind == "worker_died";
  return deaths;
}

std::string worker_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device entropy;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", entropy());
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
}

WorkerInfo ask_heartbeat_row(double expiry_s) {
  WorkerInfo row{std::string(kAskOwner) + ":" + worker_id(), "", static_cast<int64_t>(::getpid()), 0, expiry_s};
  row.host = row.id.substr(4, row.id.find(':', 4) - 4);
  return row;
}

bool is_ask_owner(const std::string& owner) {
  return owner == kAskOwner || owner.rfind(std::string(kAskOwner) + ":", 0) == 0;
}

}  // namespace autonet::hpsearch
