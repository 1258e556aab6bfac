// A shared study: many processes work on it at once — workers on any host (`hpsearch worker`,
// runner.h) and scripts (`hpsearch ask` / `tell`) — with no coordinator. Each holds the run lock
// shared (a coordinator's `hpsearch run` takes it exclusively, so the two never mix).
//
// Claiming. A process takes the lowest-numbered WAITING trial (PostgreSQL: SELECT ... FOR UPDATE
// SKIP LOCKED, so concurrent claimers skip each other's rows; SQLite: inside its write lock).
// When none waits, it creates the next trial itself: under the study's write lock it reads the
// trials, replays the sampler (suggestions.h) and asks it — the same rule as a coordinator's, so
// trial n's parameters depend on the seed, the stored horizon segments and trials 0 … horizon(n)−1
// only, whichever process asks.
//
// Heartbeats. A worker renews its row in `workers` every interval (the store's clock); a RUNNING
// trial whose owner has not heartbeat within the expiry goes back to WAITING with the same
// parameters and seed (or FAILED after budget.retries losses), re-queued by whichever worker
// notices first. A worker that lost its trial that way finds out when it writes: its late result
// is dropped.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hpsearch/store.h"
#include "hpsearch/suggestions.h"

namespace autonet::hpsearch {

struct Claimant {
  std::string owner;     // worker id, or an asked trial's (ask_heartbeat_row)
  std::string device = "cpu";
  std::string version = "dev";
  int64_t parallel = 1;  // trials meant to run at once (the horizon's lag is parallel − 1 at least)
};

// In one transaction: the claimed trial's number (RUNNING for the claimant), or nullopt when
// nothing can run now (budget spent, sampler exhausted, or waiting for earlier trials).
// `trials`: the claimant's copy of the study's trials, brought up to date (reread_unfinished).
std::optional<int64_t> claim_trial(StudyStore& store, Suggestions& suggestions, const Claimant& who,
                                   int64_t budget_trials, std::vector<TrialRecord>& trials);

// Brings a copy of the study's trials (indexed by number) up to date: finished trials never
// change, so only those from the first unfinished one on are read again — up to `end`
// (exclusive) when given, the copy's later trials then left as they were.
void reread_unfinished(const StudyStore& store, std::vector<TrialRecord>& trials, int64_t end = INT64_MAX);

// Back to WAITING with its reports dropped, in one transaction; with `owner` only while that
// owner still holds it. False when it did not.
bool requeue_trial(StudyStore& store, TrialRecord trial, const std::string& why,
                   const std::optional<std::string>& owner = std::nullopt);

// Re-queues the RUNNING trials whose workers stopped heartbeating (each row's own expiry, else
// `expiry_s`) — asked trials with no tell for their ask's expiry alike —, recording a
// `worker_died` event for each; a trial lost more than `retries` times is FAILED. Returns their
// numbers.
std::vector<int64_t> requeue_orphans(StudyStore& store, double expiry_s, int retries);

// How many times trial `number`'s worker died (its `worker_died` events).
int worker_deaths(const StudyStore& store, int64_t number);

// An id for this process as a worker: host:pid:random.
std::string worker_id();

// An asked trial's heartbeat row: id "ask:" + worker_id(), no slots (it does not widen the
// horizon's lag), its own expiry. Whether a trial owner is such a row (or the "ask" of a study
// from before asked trials expired).
WorkerInfo ask_heartbeat_row(double expiry_s);
bool is_ask_owner(const std::string& owner);

}  // namespace autonet::hpsearch
