// The coordinator with real worker processes (this test binary in --hpsearch-worker mode) and
// the synthetic workload: determinism, resume after a kill, worker crashes, pruning, budgets.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

using testing::ScratchDir;
using testing::create_study;
using testing::synthetic_config;
using testing::worker_options;

std::vector<TrialRecord> trials_of(const std::string& path) { return StudyStore::open(path, true).trials(); }

// Parameters, seeds, states and values: what must agree between two runs of one study.
void expect_same_trials(const std::vector<TrialRecord>& a, const std::vector<TrialRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].params, b[i].params) << "trial " << i;
    EXPECT_EQ(a[i].seed, b[i].seed) << "trial " << i;
    EXPECT_EQ(a[i].state, b[i].state) << "trial " << i;
    EXPECT_EQ(a[i].value, b[i].value) << "trial " << i;
  }
}

TEST(Runner, RunsAStudyToItsTrialBudgetAndRecordsEverything) {
  ScratchDir dir;
  const std::string path = create_study(dir.file("s.db"), synthetic_config({}, 6));
  RunOptions o = worker_options();
  o.version = "test-1";
  const RunSummary summary = run_study(path, o);
  EXPECT_EQ(summary.complete, 6);
  EXPECT_EQ(summary.stopped_by, "trial budget");
  StudyStore s = StudyStore::open(path, true);
  const auto trials = s.trials();
  ASSERT_EQ(trials.size(), 6u);
  for (const TrialRecord& t : trials) {
    EXPECT_EQ(t.state, TrialState::Complete);
    EXPECT_EQ(t.intermediate.size(), 3u);
    EXPECT_EQ(t.seed, trial_seed(7, t.number));
    EXPECT_EQ(t.version, "test-1");
    EXPECT_EQ(t.device, "cpu");
    EXPECT_EQ(t.attempts, 1);
    EXPECT_TRUE(t.metrics.contains("accuracy"));
    EXPECT_GE(t.finished_at, t.started_at);
    EXPECT_TRUE(s.sampler_state(t.number));
  }
  // WR2P's exact init points went to trials 0 and 1.
  EXPECT_NEAR(trials[0].params["x"].get<double>(), 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(trials[1].params["x"].get<double>(), 2.0 / 3.0, 1e-15);
  // Running it again does nothing more: the budget is spent.
  EXPECT_EQ(run_study(path, worker_options()).complete, 6);
  EXPECT_EQ(trials_of(path).size(), 6u);
}

TEST(Runner, ParallelWorkersGiveTheSameSuggestionsRunAfterRun) {
  ScratchDir dir;
  Json config = synthetic_config({{"sleep_ms", 1}}, 8);
  const std::string a = create_study(dir.file("a.db"), config);
  const std::string b = create_study(dir.file("b.db"), config);
  run_study(a, worker_options(3));
  run_study(b, worker_options(3));
  expect_same_trials(trials_of(a), trials_of(b));
  EXPECT_EQ(*StudyStore::open(a, true).meta("sync_lag"), "2");
}

// The central guarantee: kill the coordinator (and so its worker) in the middle of a trial,
// resume, and the study ends exactly as an uninterrupted run of it does.
TEST(Runner, ResumeAfterKillEqualsAnUninterruptedRun) {
  ScratchDir dir;
  const Json config = synthetic_config({{"sleep_ms", 15}, {"epochs", 4}}, 7);
  const std::string reference = create_study(dir.file("ref.db"), config);
  run_study(reference, worker_options());

  const std::string killed = create_study(dir.file("killed.db"), config);
  const pid_t pid = testing::start_coordinator(killed);
  // Wait until trial 3 has reported an epoch, then kill -9 the coordinator.
  const bool mid_trial = testing::wait_for_report(killed, 3);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(mid_trial) << "the child study never reached trial 3";
  {
    const auto before = trials_of(killed);
    ASSERT_GE(before.size(), 4u);
    EXPECT_EQ(before[3].state, TrialState::Running);  // as the killed coordinator left it
    EXPECT_EQ(before[2].state, TrialState::Complete);
  }
  const RunSummary summary = run_study(killed, worker_options());
  EXPECT_EQ(summary.complete, 7);
  const auto after = trials_of(killed);
  expect_same_trials(trials_of(reference), after);
  EXPECT_EQ(after[3].attempts, 2);  // re-run with the same parameters and seed
  EXPECT_EQ(after[3].intermediate.size(), 4u);
  bool requeued = false;
  for (const Event& e : StudyStore::open(killed, true).events()) requeued |= e.trial == 3 && e.kind == "requeued";
  EXPECT_TRUE(requeued);
}

TEST(Runner, AWorkerThatDiesIsRecordedAndItsTrialRequeued) {
  ScratchDir dir;
  // Trial 2's worker SIGKILLs itself at epoch 2 on its first attempt only.
  const std::string path = create_study(
      dir.file("s.db"), synthetic_config({{"crash", {{"trial", 2}, {"attempts", 1}, {"step", 2}}}}, 4));
  const RunSummary summary = run_study(path, worker_options(2));
  EXPECT_EQ(summary.complete, 4);
  const auto trials = trials_of(path);
  EXPECT_EQ(trials[2].state, TrialState::Complete);
  EXPECT_EQ(trials[2].attempts, 2);
  EXPECT_EQ(trials[2].intermediate.size(), 3u);  // the dead attempt's reports are gone
  int died = 0;
  for (const Event& e : StudyStore::open(path, true).events())
    if (e.kind == "worker_died") {
      ++died;
      EXPECT_EQ(e.trial, 2);
      EXPECT_NE(e.detail.find("signal 9"), std::string::npos) << e.detail;
    }
  EXPECT_EQ(died, 1);
}

TEST(Runner, ATrialWhoseWorkerKeepsDyingFailsAfterTheRetries) {
  ScratchDir dir;
  Json config = synthetic_config({{"crash", {{"trial", 1}, {"step", 1}}}}, 3);
  config["budget"]["retries"] = 1;
  const std::string path = create_study(dir.file("s.db"), config);
  const RunSummary summary = run_study(path, worker_options());
  EXPECT_EQ(summary.complete, 2);
  EXPECT_EQ(summary.failed, 1);
  const auto t = trials_of(path)[1];
  EXPECT_EQ(t.state, TrialState::Failed);
  EXPECT_EQ(t.attempts, 2);
  EXPECT_NE(t.reason.find("worker died 2 times"), std::string::npos) << t.reason;
}

TEST(Runner, NaNTrialsStopAtOnceAndErrorsAndTimeoutsFail) {
  ScratchDir dir;
  Json config = synthetic_config({{"epochs", 6},
                                  {"nan", {{"trial", 0}, {"step", 2}}},
                                  {"throw", {{"trial", 1}}},
                                  {"sleep_ms", 5},
                                  {"slow", true}},
                                 2);
  config["workload"].erase("slow");
  const std::string path = create_study(dir.file("s.db"), config);
  run_study(path, worker_options());
  const auto trials = trials_of(path);
  EXPECT_EQ(trials[0].state, TrialState::Pruned);
  EXPECT_EQ(trials[0].reason.rfind("diverged", 0), 0u) << trials[0].reason;
  EXPECT_EQ(trials[0].intermediate.size(), 2u);  // stopped at the NaN epoch, not after 6
  EXPECT_EQ(trials[1].state, TrialState::Failed);
  EXPECT_NE(trials[1].reason.find("failing trial 1 on request"), std::string::npos) << trials[1].reason;

  const std::string slow = create_study(dir.file("slow.db"), synthetic_config({{"sleep_ms", 400}}, 1));
  RunOptions o = worker_options();
  o.trial_s = 0.3;
  run_study(slow, o);
  const auto t = trials_of(slow)[0];
  EXPECT_EQ(t.state, TrialState::Failed);
  EXPECT_EQ(t.reason.rfind("timeout", 0), 0u) << t.reason;
}

TEST(Runner, WallClockBudgetStopsAndResumeFinishes) {
  ScratchDir dir;
  const std::string path = create_study(dir.file("s.db"), synthetic_config({{"sleep_ms", 40}}, 5));
  RunOptions o = worker_options();
  o.wall_s = 0.5;
  const RunSummary first = run_study(path, o);
  EXPECT_EQ(first.stopped_by, "wall-clock budget");
  EXPECT_LT(first.complete, 5);
  const RunSummary second = run_study(path, worker_options());
  EXPECT_EQ(second.complete, 5);
}

TEST(Runner, MedianPrunerStopsPoorTrials) {
  ScratchDir dir;
  Json config = synthetic_config({{"epochs", 4}}, 12);
  config["pruner"] = {{"name", "median"}, {"startup_trials", 2}};
  config["sampler"] = {{"name", "random"}};
  const std::string path = create_study(dir.file("s.db"), config);
  const RunSummary summary = run_study(path, worker_options());
  EXPECT_GT(summary.pruned, 0);
  EXPECT_EQ(summary.pruned + summary.complete, 12);
  for (const TrialRecord& t : trials_of(path))
    if (t.state == TrialState::Pruned) {
      EXPECT_LT(t.intermediate.size(), 4u);
      EXPECT_NE(t.reason.find("median rule"), std::string::npos);
    }
}

TEST(Runner, GridStudiesStopWhenTheGridIsDoneAndDefaultsCanGoFirst) {
  ScratchDir dir;
  Json config = synthetic_config({{"epochs", 1}}, 100);
  config["sampler"] = {{"name", "grid"}, {"points", 2}};
  config["enqueue_defaults"] = true;
  const std::string path = create_study(dir.file("s.db"), config);
  const RunSummary summary = run_study(path, worker_options());
  EXPECT_EQ(summary.stopped_by, "sampler exhausted");
  const auto trials = trials_of(path);
  EXPECT_EQ(trials.size(), 1u + 2 * 2 * 3);
  EXPECT_EQ(trials[0].params, StudyConfig::from_json(config).space.params_json(StudyConfig::from_json(config).space.defaults()));
}

TEST(Runner, RefusesABrokenWorkerCommandAndASecondCoordinator) {
  ScratchDir dir;
  const std::string path = create_study(dir.file("s.db"), synthetic_config({}, 2));
  RunOptions o = worker_options();
  o.worker_command = {"/nonexistent/worker"};
  try {
    run_study(path, o);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot start worker"), std::string::npos) << e.what();
  }
  EXPECT_EQ(trials_of(path)[0].attempts, 0);  // no trial was burnt
  EXPECT_EQ(run_study(path, worker_options()).complete, 2);
}

// One coordinator per study file, however the file is named: the lock is on the file itself.
// A second coordinator through a symlink, a hard link or another spelling of the path is refused
// (keyed by the path string it re-ran the first one's trial and died on a UNIQUE constraint), and
// so is `create --force` replacing the study under a running coordinator.
TEST(Runner, OneCoordinatorPerStudyFileWhateverItsPath) {
  ScratchDir dir;
  const Json config = synthetic_config({{"sleep_ms", 40}, {"epochs", 3}}, 3);
  const std::string path = create_study(dir.file("s.db"), config);
  std::filesystem::create_symlink(path, dir.file("link.db"));
  std::filesystem::create_hard_link(path, dir.file("hard.db"));
  std::filesystem::create_directories(dir.file("sub"));
  const pid_t first = testing::start_coordinator(path);
  ASSERT_TRUE(testing::wait_for_report(path, 0));
  for (const std::string& other : {path, dir.file("link.db"), dir.file("hard.db"), dir.file("sub/../s.db")}) {
    EXPECT_NE(testing::error_of([&] { run_study(other, worker_options()); }).find("is being run by another process"),
              std::string::npos)
        << other;
  }
  EXPECT_NE(testing::error_of([&] { StudyStore::create(dir.file("link.db"), config, /*overwrite=*/true); })
                .find("is being run by another process"),
            std::string::npos);
  int status = 0;
  ::waitpid(first, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const auto trials = trials_of(path);
  ASSERT_EQ(trials.size(), 3u);
  for (const TrialRecord& t : trials) {
    EXPECT_EQ(t.state, TrialState::Complete);
    EXPECT_EQ(t.attempts, 1);  // nobody else ran it
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".lock"));
  // Once it is done, the study is free for any path.
  EXPECT_EQ(run_study(dir.file("link.db"), worker_options()).complete, 3);
}

// Workers send metrics with every epoch's value; the store keeps them.
TEST(Runner, PerEpochMetricsAreStored) {
  ScratchDir dir;
  const std::string path = create_study(dir.file("s.db"), synthetic_config({}, 2));
  run_study(path, worker_options());
  for (const TrialRecord& t : trials_of(path)) {
    ASSERT_EQ(t.intermediate.size(), 3u);
    for (const Intermediate& r : t.intermediate) {
      ASSERT_TRUE(r.metrics.contains("accuracy")) << r.metrics.dump();
      EXPECT_DOUBLE_EQ(r.metrics["accuracy"].get<double>(), 1.0 / (1.0 + r.value));
    }
  }
}

// A study first run with one worker, then with three: the second run's trials overlap in time
// (the lag of the first run no longer serialises them), and the same two commands on a copy of
// the study give the same trials.
TEST(Runner, MoreWorkersOnALaterRunAddParallelism) {
  ScratchDir dir;
  const Json config = synthetic_config({{"sleep_ms", 30}, {"epochs", 2}}, 8);
  auto two_runs = [&](const std::string& path) {
    create_study(path, config);
    RunOptions first = worker_options(1);
    first.max_trials = 2;
    run_study(path, first);
    run_study(path, worker_options(3));
    return trials_of(path);
  };
  const auto a = two_runs(dir.file("a.db"));
  ASSERT_EQ(a.size(), 8u);
  int overlaps = 0;
  for (size_t i = 2; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j)
      overlaps += a[i].started_at < a[j].finished_at && a[j].started_at < a[i].finished_at;
  EXPECT_GT(overlaps, 0) << "the second run ran its trials one at a time";
  expect_same_trials(a, two_runs(dir.file("b.db")));
  EXPECT_EQ(*StudyStore::open(dir.file("a.db"), true).meta("sync_lag_changes"), "[[2,2]]");
}

// `--device cuda` without `--workers`: every GPU slot the plan gives gets a worker.
TEST(Runner, DeviceSlotsAreNotCappedUnlessWorkersIsGiven) {  // no GPU needed: device infos made up
  std::vector<CudaDeviceInfo> gpus(2);
  gpus[0].index = 0;
  gpus[1].index = 1;
  gpus[0].total_memory = gpus[1].total_memory = size_t{80} << 30;
  SlotRequest r;
  r.device = "cuda";
  r.per_device = 2;
  EXPECT_EQ(plan_slots(r, gpus), (std::vector<std::string>{"cuda:0", "cuda:0", "cuda:1", "cuda:1"}));
  r.per_device = 1;
  r.memory_gib = 30;  // two fit in 80 GiB
  EXPECT_EQ(plan_slots(r, gpus).size(), 4u);
  r.workers = 3;
  EXPECT_EQ(plan_slots(r, gpus).size(), 3u);
  r.device = "cuda:1";
  r.workers = 0;
  EXPECT_EQ(plan_slots(r, gpus), (std::vector<std::string>{"cuda:1", "cuda:1"}));
  EXPECT_EQ(plan_slots(SlotRequest{}), (std::vector<std::string>{"cpu"}));
}

}  // namespace
}  // namespace autonet::hpsearch
