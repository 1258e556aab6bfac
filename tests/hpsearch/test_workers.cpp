// Shared studies (claims.h): worker processes of this test binary (--hpsearch-work) and scripts
// (ask/tell) working on one study with no coordinator, on the SQLite file and on the PostgreSQL
// server (scripts/with-postgres): every trial claimed once, a killed worker's trial re-queued when
// its heartbeat expires, workers that outlive a server restart, ask/tell reproducing `run`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "hpsearch/ask_tell.h"
#include "hpsearch/claims.h"
#include "hpsearch/postgres_connection.h"
#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

using SharedStudy = testing::StoreStudy;


// A worker of the study in a child process (this binary, --hpsearch-work).
pid_t start_worker(const std::string& study, double heartbeat_s, double expiry_s) {
  const std::string beat = std::to_string(heartbeat_s), expiry = std::to_string(expiry_s);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string exe = self_executable();
    ::execl(exe.c_str(), exe.c_str(), "--hpsearch-work", study.c_str(), beat.c_str(), expiry.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The child's exit status, or -1 (and the child killed) when it runs past `seconds`.
int wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Several processes claim at once until nothing is left, each writing the numbers it got to its
// own file; returns every process's list.
std::vector<std::vector<int64_t>> claim_concurrently(const std::string& study, const std::string& folder,
                                                     int processes) {
  std::vector<pid_t> pids;
  for (int p = 0; p < processes; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        StudyStore store = StudyStore::open(study);
        store.lock_for_run(RunLock::Worker);
        const StudyConfig config = StudyConfig::from_json(store.config());
        Suggestions suggestions(config);
        std::ofstream out(folder + "/claims-" + std::to_string(p));
        const Claimant who{"claimer-" + std::to_string(p), "cpu", "test", config.budget.trials};
        std::vector<TrialRecord> trials;
        while (const auto n = claim_trial(store, suggestions, who, config.budget.trials, trials)) out << *n << "\n";
      } catch (const std::exception& e) {
        std::fprintf(stderr, "claimer %d: %s\n", p, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  for (const pid_t pid : pids) EXPECT_EQ(wait_exit(pid, 60), 0) << "a claimer failed";
  std::vector<std::vector<int64_t>> claims(static_cast<size_t>(processes));
  for (int p = 0; p < processes; ++p) {
    std::ifstream in(folder + "/claims-" + std::to_string(p));
    for (int64_t n; in >> n;) claims[static_cast<size_t>(p)].push_back(n);
  }
  return claims;
}

void expect_each_claimed_once(const std::vector<std::vector<int64_t>>& claims, int64_t trials) {
  std::multiset<int64_t> all;
  for (const auto& c : claims) all.insert(c.begin(), c.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(trials));
  for (int64_t n = 0; n < trials; ++n) EXPECT_EQ(all.count(n), 1u) << "trial " << n;
}

// Processes racing for the same trials: each is created once (numbers in order, the same
// parameters as one process would create) and, once re-queued, claimed again by exactly one.
TEST_P(SharedStudy, RacingClaimersEachWinADifferentTrial) {
  const int64_t n = 24;
  Json config = testing::synthetic_config({}, n);
  config["sampler"] = {{"name", "random"}};
  create(config);
  expect_each_claimed_once(claim_concurrently(path_, dir_.file(""), 4), n);
  // The same suggestions as one claimer alone makes (they depend on the trial number only here).
  const std::string alone = testing::create_study(dir_.file("alone.db"), config);
  claim_concurrently(alone, dir_.file(""), 1);
  const auto raced = StudyStore::open(path_, true).trials(), serial = StudyStore::open(alone, true).trials();
  ASSERT_EQ(raced.size(), serial.size());
  for (size_t i = 0; i < raced.size(); ++i) EXPECT_EQ(raced[i].params, serial[i].params) << i;
  {  // Back to WAITING, then claimed again: the claim of a waiting trial.
    StudyStore store = StudyStore::open(path_);
    for (const TrialRecord& t : store.trials()) ASSERT_TRUE(requeue_trial(store, t, "test"));
  }
  expect_each_claimed_once(claim_concurrently(path_, dir_.file(""), 4), n);
  for (const TrialRecord& t : StudyStore::open(path_, true).trials()) EXPECT_EQ(t.attempts, 2) << t.number;
}

// Two workers start on a study of one trial: one runs it; the other, heartbeating meanwhile,
// neither runs it too nor takes it from the live worker, and both end when it is done.
TEST_P(SharedStudy, TwoWorkersForOneTrialRunItOnce) {
  create(testing::synthetic_config({{"sleep_ms", 100}}, 1));
  const pid_t a = start_worker(path_, 0.05, 2), b = start_worker(path_, 0.05, 2);
  EXPECT_EQ(wait_exit(a, 60), 0);
  EXPECT_EQ(wait_exit(b, 60), 0);
  const auto trials = StudyStore::open(path_, true).trials();
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].state, TrialState::Complete);
  EXPECT_EQ(trials[0].attempts, 1);
  EXPECT_EQ(trials[0].intermediate.size(), 3u);
}

// kill -9 of a worker in the middle of a trial: its heartbeat stops, another worker re-queues the
// trial once it expires and runs it again with the same parameters and seed; nothing is lost.
TEST_P(SharedStudy, AKilledWorkersTrialIsRequeuedWhenItsHeartbeatExpires) {
  create(testing::synthetic_config({{"sleep_ms", 60}, {"epochs", 3}}, 3));
  const pid_t victim = start_worker(path_, 0.1, 1.0);
  ASSERT_TRUE(testing::wait_for_report(path_, 0));
  ::kill(victim, SIGKILL);
  ::waitpid(victim, nullptr, 0);
  const TrialRecord before = *StudyStore::open(path_, true).trial(0);
  ASSERT_EQ(before.state, TrialState::Running);
  const pid_t rescuer = start_worker(path_, 0.1, 1.0);
  ASSERT_EQ(wait_exit(rescuer, 60), 0) << "the surviving worker did not finish the study";
  StudyStore store = StudyStore::open(path_, true);
  const auto trials = store.trials();
  ASSERT_EQ(trials.size(), 3u);
  for (const TrialRecord& t : trials) {
    EXPECT_EQ(t.state, TrialState::Complete) << t.number;
    EXPECT_EQ(t.intermediate.size(), 3u) << t.number;
  }
  EXPECT_EQ(trials[0].attempts, 2);
  EXPECT_EQ(trials[0].params, before.params);
  EXPECT_EQ(trials[0].seed, before.seed);
  int lost = 0;
  for (const Event& e : store.events())
    lost += e.trial == 0 && e.kind == "worker_died" && e.detail.find("stopped heartbeating") != std::string::npos;
  EXPECT_EQ(lost, 1);
}

// ask/tell with one trial out at a time asks exactly what `run` with one worker runs.
TEST_P(SharedStudy, AskAndTellReproduceARun) {
  Json config = testing::synthetic_config({}, 5);
  const std::string reference = testing::create_study(dir_.file("ref.db"), config);
  run_study(reference, testing::worker_options());
  const auto expected = StudyStore::open(reference, true).trials();
  create(config);
  for (const TrialRecord& want : expected) {
    const AskedTrial t = ask_trial(path_);
    ASSERT_EQ(t.number, want.number);
    EXPECT_EQ(t.params, want.params) << t.number;
    EXPECT_EQ(t.seed, want.seed);
    if (t.number + 1 < 5)
      EXPECT_NE(testing::error_of([&] { ask_trial(path_); }).find("waits for the trials before it"), std::string::npos);
    for (const Intermediate& r : want.intermediate) EXPECT_FALSE(tell_report(path_, t.number, r.step, r.value).prune);
    tell_result(path_, t.number, TrialState::Complete, want.value, want.metrics);
    EXPECT_NE(testing::error_of([&] { tell_result(path_, t.number, TrialState::Complete, 1.0); })
                  .find("is not waiting for a tell (it is COMPLETE)"),
              std::string::npos);
  }
  EXPECT_NE(testing::error_of([&] { ask_trial(path_); }).find("budget of 5 trials is spent"), std::string::npos);
  const auto told = StudyStore::open(path_, true).trials();
  ASSERT_EQ(told.size(), expected.size());
  for (size_t i = 0; i < told.size(); ++i) {
    EXPECT_EQ(told[i].value, expected[i].value);
    EXPECT_EQ(told[i].intermediate.size(), expected[i].intermediate.size());
  }
}

// Several asked trials out at once (--parallel), a report the pruner stops, a failed trial.
TEST_P(SharedStudy, AskedTrialsCanRunSideBySideAndBePruned) {
  Json config = testing::synthetic_config({}, 4);
  config["pruner"] = {{"name", "median"}, {"startup_trials", 1}};
  create(config);
  const AskedTrial a = ask_trial(path_, 2), b = ask_trial(path_, 2);
  EXPECT_EQ(b.number, a.number + 1);
  tell_report(path_, a.number, 1, 0.5);
  tell_result(path_, a.number, TrialState::Complete, 0.4);
  tell_result(path_, b.number, TrialState::Failed, std::nullopt, Json::object(), "out of memory");
  const AskedTrial c = ask_trial(path_, 2);
  const PruneDecision d = tell_report(path_, c.number, 1, 50.0);  // far worse than trial a's 0.5
  EXPECT_TRUE(d.prune);
  const auto trials = StudyStore::open(path_, true).trials();
  EXPECT_EQ(trials[static_cast<size_t>(b.number)].reason, "out of memory");
  EXPECT_EQ(trials[static_cast<size_t>(c.number)].state, TrialState::Pruned);
  EXPECT_EQ(trials[static_cast<size_t>(c.number)].value, 50.0);
}

// A coordinator and workers never share a study.
TEST_P(SharedStudy, WorkersAndACoordinatorExcludeEachOther) {
  create(testing::synthetic_config({}, 2));
  {
    StudyStore worker = StudyStore::open(path_);
    worker.lock_for_run(RunLock::Worker);
    EXPECT_NE(testing::error_of([&] { run_study(path_, testing::worker_options()); }).find("is being run by another process"),
              std::string::npos);
    StudyStore second = StudyStore::open(path_);
    second.lock_for_run(RunLock::Worker);  // workers share it
  }
  StudyStore coordinator = StudyStore::open(path_);
  coordinator.lock_for_run(RunLock::Coordinator);
  EXPECT_NE(testing::error_of([&] { ask_trial(path_); }).find("a coordinator"), std::string::npos);
}

// An asked trial whose script never tells it does not block the study: once its ask's expiry
// passes, a worker re-queues it (same parameters and seed) and runs it, and the study ends.
TEST_P(SharedStudy, AnAskedTrialThatIsNeverToldExpires) {
  create(testing::synthetic_config({{"epochs", 1}}, 3));
  const AskedTrial lost = ask_trial(path_, 1, "test", /*expiry_s=*/1.0);
  const pid_t worker = start_worker(path_, 0.2, 5);
  ASSERT_EQ(wait_exit(worker, 60), 0) << "the worker waited for the untold trial";
  const auto trials = StudyStore::open(path_, true).trials();
  ASSERT_EQ(trials.size(), 3u);
  for (const TrialRecord& t : trials) EXPECT_EQ(t.state, TrialState::Complete) << t.number;
  EXPECT_EQ(trials[static_cast<size_t>(lost.number)].seed, lost.seed);
  EXPECT_EQ(trials[static_cast<size_t>(lost.number)].params, lost.params);
  EXPECT_EQ(trials[static_cast<size_t>(lost.number)].attempts, 2);
  EXPECT_NE(testing::error_of([&] { tell_result(path_, lost.number, TrialState::Complete, 1.0); })
                .find("is not waiting for a tell (it is COMPLETE, run by worker"),
            std::string::npos);
}

// Each tell renews an asked trial's heartbeat; silent past its expiry, the next ask re-queues it
// and hands it out again.
TEST_P(SharedStudy, TellsKeepAnAskedTrialAndSilenceExpiresIt) {
  create(testing::synthetic_config({}, 4));
  const AskedTrial a = ask_trial(path_, 2, "test", /*expiry_s=*/1.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  tell_report(path_, a.number, 1, 0.5);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // 1.2 s since the ask, 0.6 since the tell
  const AskedTrial b = ask_trial(path_, 2, "test", 1.0);
  EXPECT_EQ(b.number, a.number + 1) << "a trial told 0.6 s ago expired";
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // both silent past 1 s now
  const AskedTrial again = ask_trial(path_, 2, "test", 1.0);
  EXPECT_EQ(again.number, a.number);
  EXPECT_EQ(again.seed, a.seed);
  EXPECT_EQ(again.params, a.params);
  const TrialRecord t = *StudyStore::open(path_, true).trial(a.number);
  EXPECT_TRUE(t.intermediate.empty()) << "the lost attempt's reports stay behind";
  EXPECT_NE(testing::error_of([&] { tell_report(path_, b.number, 1, 0.5); }).find("it is WAITING; re-queued"),
            std::string::npos);
}

// A report's re-read stops at the given end: trials above it keep the copy's state.
TEST_P(SharedStudy, RereadingStopsAtTheGivenEnd) {
  create(testing::synthetic_config({}, 4));
  StudyStore store = StudyStore::open(path_);
  for (int64_t n = 0; n < 4; ++n) {
    TrialRecord t;
    t.number = n;
    t.state = TrialState::Running;
    store.insert_trial(t);
  }
  std::vector<TrialRecord> copy = store.trials();
  for (int64_t n : {1, 3}) {
    TrialRecord t = copy[static_cast<size_t>(n)];
    t.state = TrialState::Complete;
    t.value = 0.5;
    store.update_trial(t);
  }
  reread_unfinished(store, copy, 2);
  ASSERT_EQ(copy.size(), 4u);
  EXPECT_EQ(copy[1].state, TrialState::Complete);
  EXPECT_EQ(copy[3].state, TrialState::Running) << "trial 3 lies above the end: it must not be read";
  reread_unfinished(store, copy);
  EXPECT_EQ(copy[3].state, TrialState::Complete);
}

INSTANTIATE_TEST_SUITE_P(Stores, SharedStudy, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// The server restarts while two workers run trials: they reconnect and finish the study, each
// trial run once.
TEST(SharedStudyServer, WorkersSurviveAServerRestart) {
  if (!postgres_supported()) GTEST_SKIP() << "built without libpq";
  if (!testing::ScratchDatabase::server()) GTEST_SKIP() << testing::kNoServer;
  const char* restart = std::getenv("AUTONET_TEST_POSTGRES_RESTART");
  if (!restart) GTEST_SKIP() << "no restart command for the server (AUTONET_TEST_POSTGRES_RESTART)";
  testing::ScratchDatabase db;
  testing::create_study(db.url(), testing::synthetic_config({{"sleep_ms", 80}, {"epochs", 3}}, 6));
  const pid_t a = start_worker(db.url(), 0.2, 20), b = start_worker(db.url(), 0.2, 20);
  ASSERT_TRUE(testing::wait_for_report(db.url(), 1));
  ASSERT_EQ(std::system(restart), 0);
  EXPECT_EQ(wait_exit(a, 120), 0);
  EXPECT_EQ(wait_exit(b, 120), 0);
  const auto trials = StudyStore::open(db.url(), true).trials();
  ASSERT_EQ(trials.size(), 6u);
  for (const TrialRecord& t : trials) {
    EXPECT_EQ(t.state, TrialState::Complete) << t.number;
    EXPECT_EQ(t.attempts, 1) << t.number;
    EXPECT_EQ(t.intermediate.size(), 3u) << t.number;
  }
}

}  // namespace
}  // namespace autonet::hpsearch
