// The `command` workload (command_workload.h): small Python programs as trials — what they
// receive (stdin, the params file, environment), their reports and results, pruning that
// terminates them (and their children), crashes, timeouts and broken lines as FAILED trials with
// a reason, and whole studies under `run` and `worker` on both stores.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "hpsearch/command_workload.h"
#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

// Records the reports; asks to stop at `prune_at` (0: never).
class RecordingReporter : public Reporter {
 public:
  explicit RecordingReporter(int64_t prune_at = 0) : prune_at_(prune_at) {}
  bool report(int64_t step, double value, const Json& metrics, int64_t last_step) override {
    reports.push_back({step, value, metrics});
    last_steps.push_back(last_step);
    return step == prune_at_;
  }
  std::vector<Intermediate> reports;
  std::vector<int64_t> last_steps;

 private:
  int64_t prune_at_;
};

class CommandWorkloadTest : public ::testing::Test {
 protected:
  // A Python program in the scratch folder; `{dir}` in its text becomes that folder.
  std::string script(const std::string& name, std::string text) {
    for (size_t at; (at = text.find("{dir}")) != std::string::npos;) text.replace(at, 5, dir_.file(""));
    const std::string path = dir_.file(name);
    std::ofstream(path) << text;
    return path;
  }
  Json command(const std::string& path, const Json& extra = Json::object()) {
    Json c = {{"name", "command"}, {"argv", {"python3", path}}, {"grace_s", 0.5}};
    for (const auto& [k, v] : extra.items()) c[k] = v;
    return c;
  }
  TrialResult run(const Json& config, Reporter& reporter, const Json& params = {{"x", 0.25}}) {
    TrialContext ctx;
    ctx.number = 7;
    ctx.seed = 12345;
    ctx.attempt = 2;
    return make_workload(config)->run(params, ctx, reporter);
  }
  std::string error_of(const Json& config, int64_t prune_at = 0) {
    RecordingReporter reporter(prune_at);
    return testing::error_of([&] { run(config, reporter); });
  }
  bool exists(const std::string& name) const { return std::ifstream(dir_.file(name)).good(); }
  // Whether the process whose id the program wrote to `pid_file` still runs 2 s from now
  // (a SIGKILLed process takes a moment to go; a zombie waiting for its reaper counts as gone).
  bool alive(const std::string& pid_file) const {
    int64_t pid = 0;
    std::ifstream(dir_.file(pid_file)) >> pid;
    if (pid <= 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
      std::string stat;
      std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), stat);
      const size_t paren = stat.rfind(')');
      if (stat.empty() || (paren != std::string::npos && stat.substr(paren + 2, 1) == "Z")) return false;
      if (std::chrono::steady_clock::now() > deadline) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  testing::ScratchDir dir_;
};

TEST_F(CommandWorkloadTest, ReceivesItsParametersAndReportsEachStep) {
  const std::string path = script("train.py", R"(
import json, os, sys
params = json.load(sys.stdin)
with open(os.environ["AUTONET_TRIAL_PARAMS"]) as f:
    assert json.load(f) == params
print("a log line, not a report")
x = float(os.environ["AUTONET_PARAM_X"])
env = {"x": x, "opt": os.environ["AUTONET_PARAM_MY_OPT"], "number": os.environ["AUTONET_TRIAL_NUMBER"],
       "seed": os.environ["AUTONET_TRIAL_SEED"], "attempt": os.environ["AUTONET_TRIAL_ATTEMPT"],
       "device": os.environ["AUTONET_DEVICE"], "extra": os.environ["EXTRA"], "stdin_x": params["x"]}
for step in range(1, 4):
    print(json.dumps({"step": step, "value": x * step, "metrics": {"acc": step / 10}, "last_step": 3}))
print(json.dumps({"final": x + 1, "metrics": env}))
)");
  RecordingReporter reporter;
  const TrialResult r = run(command(path, {{"env", {{"EXTRA", "yes"}}}}), reporter,
                            {{"x", 0.25}, {"my-opt", "adam"}});
  ASSERT_EQ(reporter.reports.size(), 3u);
  for (int64_t s = 1; s <= 3; ++s) {
    EXPECT_EQ(reporter.reports[s - 1].step, s);
    EXPECT_DOUBLE_EQ(reporter.reports[s - 1].value, 0.25 * s);
    EXPECT_DOUBLE_EQ(reporter.reports[s - 1].metrics["acc"].get<double>(), s / 10.0);
    EXPECT_EQ(reporter.last_steps[s - 1], 3);
  }
  EXPECT_DOUBLE_EQ(r.value, 1.25);
  const Json expected = {{"x", 0.25},       {"opt", "adam"},    {"number", "7"},  {"seed", "12345"},
                         {"attempt", "2"},  {"device", "cpu"},  {"extra", "yes"}, {"stdin_x", 0.25}};
  EXPECT_EQ(r.metrics, expected);
}

TEST_F(CommandWorkloadTest, WithoutAFinalLineTheLastReportIsTheResult) {
  const std::string path = script("train.py", R"(
import json
for step in range(1, 3):
    print(json.dumps({"step": step, "value": 1.0 / step, "metrics": {"acc": step}}), flush=True)
)");
  RecordingReporter reporter;
  const TrialResult r = run(command(path), reporter);
  EXPECT_DOUBLE_EQ(r.value, 0.5);
  EXPECT_EQ(r.metrics, Json({{"acc", 2}}));
}

// Pruned after step 1: SIGTERM reaches the program and the child it started, long before the
// program would have finished on its own.
TEST_F(CommandWorkloadTest, PruningTerminatesTheProgramAndItsChildren) {
  const std::string path = script("train.py", R"(
import json, signal, subprocess, sys, time
def on_term(*_):
    open("{dir}terminated", "w").close()
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
child = subprocess.Popen(["sleep", "60"])
with open("{dir}child.pid", "w") as f:
    f.write(str(child.pid))
for step in range(1, 100):
    print(json.dumps({"step": step, "value": 0.5}), flush=True)
    time.sleep(0.2)
open("{dir}finished", "w").close()
)");
  RecordingReporter reporter(/*prune_at=*/1);
  const auto start = std::chrono::steady_clock::now();
  const TrialResult r = run(command(path, {{"grace_s", 5}}), reporter);  // it exits on SIGTERM at once
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10);
  EXPECT_EQ(reporter.reports.size(), 1u);
  EXPECT_DOUBLE_EQ(r.value, 0.5);
  EXPECT_TRUE(exists("terminated"));
  EXPECT_FALSE(exists("finished"));
  EXPECT_FALSE(alive("child.pid")) << "the program's child outlived the pruned trial";
}

// A program that ignores SIGTERM is killed after the grace period.
TEST_F(CommandWorkloadTest, PruningKillsAProgramThatIgnoresSigterm) {
  const std::string path = script("train.py", R"(
import json, os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open("{dir}program.pid", "w") as f:
    f.write(str(os.getpid()))
print(json.dumps({"step": 1, "value": 2.0}), flush=True)
time.sleep(60)
)");
  RecordingReporter reporter(/*prune_at=*/1);
  const auto start = std::chrono::steady_clock::now();
  run(command(path, {{"grace_s", 0.3}}), reporter);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10);
  EXPECT_GE(seconds, 0.3) << "SIGKILL came before the grace period ended";
  EXPECT_FALSE(alive("program.pid"));
}

TEST_F(CommandWorkloadTest, ACrashFailsTheTrialWithItsStderrTail) {
  const std::string path = script("train.py", R"(
import json, sys
print(json.dumps({"step": 1, "value": 0.3}), flush=True)
print("loading data", file=sys.stderr)
print("RuntimeError: out of memory", file=sys.stderr)
sys.exit(3)
)");
  const std::string e = error_of(command(path));
  EXPECT_NE(e.find("exited with status 3"), std::string::npos) << e;
  EXPECT_NE(e.find("RuntimeError: out of memory"), std::string::npos) << e;
  EXPECT_NE(e.find("loading data"), std::string::npos) << e;

  const std::string killed = script("killed.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n");
  EXPECT_NE(error_of(command(killed)).find("killed by signal 9"), std::string::npos);
}

TEST_F(CommandWorkloadTest, ATimeoutFailsTheTrial) {
  const std::string path = script("train.py", R"(
import sys, time
print("still warming up", file=sys.stderr, flush=True)
time.sleep(60)
)");
  const auto start = std::chrono::steady_clock::now();
  const std::string e = error_of(command(path, {{"timeout_s", 0.5}, {"grace_s", 0.2}}));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10);
  EXPECT_NE(e.find("timeout"), std::string::npos) << e;
  EXPECT_NE(e.find("still warming up"), std::string::npos) << e;
}

TEST_F(CommandWorkloadTest, ABrokenLineIsAnErrorNamingItsNumber) {
  const std::string broken = script("broken.py", R"(
print("hello")
print('{"step": 1, "value": 0.5}')
print('{"step": 2, "value": ')
)");
  std::string e = error_of(command(broken));
  EXPECT_NE(e.find("stdout line 3: not valid JSON"), std::string::npos) << e;

  auto program = [&](const std::string& line) {
    return command(script("one.py", "print('" + line + "')\n"));
  };
  EXPECT_NE(error_of(program(R"({"value": 1})")).find("stdout line 1: a report needs \"step\" and \"value\""),
            std::string::npos);
  EXPECT_NE(error_of(program(R"({"step": 0, "value": 1})")).find("\"step\" must be an integer >= 1"),
            std::string::npos);
  EXPECT_NE(error_of(program(R"({"step": 1, "value": "low"})")).find("\"value\" must be a number"),
            std::string::npos);
  EXPECT_NE(error_of(program(R"({"final": 1, "epoch": 3})")).find("unknown field \"epoch\""), std::string::npos);
  const std::string backwards = script("back.py", R"(
print('{"step": 2, "value": 1}')
print('{"step": 1, "value": 1}')
)");
  EXPECT_NE(error_of(command(backwards)).find("stdout line 2: step 1 after step 2"), std::string::npos);
  const std::string silent = script("silent.py", "print('done')\n");
  EXPECT_NE(error_of(command(silent)).find("exited without a value"), std::string::npos);
}

TEST_F(CommandWorkloadTest, BadConfigsAreErrorsNamingTheField) {
  const Space space = Space::from_json(Json::parse(R"({"x": {"type": "float", "low": 0, "high": 1}})"));
  auto check = [&](const Json& config, const Space& s) {
    return testing::error_of([&] { check_workload(config, s); });
  };
  EXPECT_NE(check({{"name", "command"}}, space).find("\"argv\" must name the program"), std::string::npos);
  EXPECT_NE(check({{"name", "command"}, {"argv", "python3 x.py"}}, space).find("must be an array of strings"),
            std::string::npos);
  EXPECT_NE(check({{"name", "command"}, {"argv", {"x"}}, {"grace", 1}}, space).find("unknown option \"grace\""),
            std::string::npos);
  EXPECT_NE(check({{"name", "command"}, {"argv", {"x"}}, {"env", {{"A", 1}}}}, space).find("\"env.A\" must be a string"),
            std::string::npos);
  const Space clash = Space::from_json(Json::parse(
      R"({"lr-a": {"type": "float", "low": 0, "high": 1}, "lr_a": {"type": "float", "low": 0, "high": 1}})"));
  EXPECT_NE(check({{"name", "command"}, {"argv", {"x"}}}, clash).find("would both be AUTONET_PARAM_LR_A"),
            std::string::npos);
  EXPECT_EQ(check({{"name", "command"}, {"argv", {"x"}}}, space), "(no error)");
  EXPECT_NE(error_of({{"name", "command"}, {"argv", {"no-such-program-here"}}}).find(
                "cannot run `no-such-program-here`: No such file or directory"),
            std::string::npos);
}

// A whole study on each store, under a coordinator and then under two shared workers: reports
// and metrics stored per step, a diverging trial pruned, a crashing one FAILED with its stderr.
const char* kStudyProgram = R"(
import json, os, sys
x = float(os.environ["AUTONET_PARAM_X"])
n = int(os.environ["AUTONET_TRIAL_NUMBER"])
if n == 2:
    print("cannot open data", file=sys.stderr)
    sys.exit(5)
for step in range(1, 4):
    value = 1e6 if n == 1 else (x - 0.3) ** 2 + 1.0 / step
    print(json.dumps({"step": step, "value": value, "metrics": {"epoch": step}}), flush=True)
print(json.dumps({"final": (x - 0.3) ** 2, "metrics": {"x_seen": x}}))
)";

Json command_study(const std::string& program, int64_t trials) {
  Json c = Json::parse(R"({"name": "cmd", "seed": 3, "space": {"x": {"type": "float", "low": 0, "high": 1}},
                           "sampler": {"name": "random"}, "pruner": {"name": "none", "diverge_above": 1000}})");
  c["workload"] = {{"name", "command"}, {"argv", {"python3", program}}, {"grace_s", 0.5}};
  c["budget"] = {{"trials", trials}, {"retries", 0}};
  return c;
}

void expect_command_study(const std::string& study, int64_t trials) {
  const std::vector<TrialRecord> all = StudyStore::open(study, /*read_only=*/true).trials();
  ASSERT_EQ(static_cast<int64_t>(all.size()), trials);
  for (const TrialRecord& t : all) {
    const double x = t.params["x"].get<double>();
    if (t.number == 1) {
      EXPECT_EQ(t.state, TrialState::Pruned);
      EXPECT_NE(t.reason.find("diverged"), std::string::npos) << t.reason;
      EXPECT_EQ(t.intermediate.size(), 1u);
    } else if (t.number == 2) {
      EXPECT_EQ(t.state, TrialState::Failed);
      EXPECT_NE(t.reason.find("exited with status 5"), std::string::npos) << t.reason;
      EXPECT_NE(t.reason.find("cannot open data"), std::string::npos) << t.reason;
    } else {
      ASSERT_EQ(t.state, TrialState::Complete) << "trial " << t.number << ": " << t.reason;
      EXPECT_DOUBLE_EQ(*t.value, (x - 0.3) * (x - 0.3));
      EXPECT_DOUBLE_EQ(t.metrics["x_seen"].get<double>(), x);
      ASSERT_EQ(t.intermediate.size(), 3u);
      for (const Intermediate& r : t.intermediate) {
        EXPECT_DOUBLE_EQ(r.value, (x - 0.3) * (x - 0.3) + 1.0 / r.step);
        EXPECT_EQ(r.metrics, Json({{"epoch", r.step}}));
      }
    }
  }
}

using CommandStudy = testing::StoreStudy;

TEST_P(CommandStudy, RunsUnderACoordinatorAndUnderWorkers) {
  const std::string program = dir_.file("train.py");
  std::ofstream(program) << kStudyProgram;
  const std::string study = create(command_study(program, 5));
  run_study(study, testing::worker_options(2));
  expect_command_study(study, 5);

  RunOptions more = testing::worker_options(2);
  more.max_trials = 7;
  work_on_study(study, more, Heartbeat{0.5, 5});
  expect_command_study(study, 7);
}

// examples/hpsearch/python-logreg.toml, shortened: a few trials of the Python example.
TEST(CommandExample, PythonLogregStudyRuns) {
  testing::ScratchDir dir;
  Json config = load_study_config(AUTONET_SOURCE_DIR "/examples/hpsearch/python-logreg.toml").to_json();
  config["workload"]["cwd"] = AUTONET_SOURCE_DIR;  // the example's paths are the repository's
  config["workload"]["env"]["LOGREG_EPOCHS"] = "3";
  config["budget"]["trials"] = 4;
  const std::string study = testing::create_study(dir.file("logreg.db"), config);
  check_workload(config["workload"], StudyConfig::from_json(config).space);
  const RunSummary summary = run_study(study, testing::worker_options(2));
  EXPECT_EQ(summary.failed, 0);
  EXPECT_EQ(summary.complete + summary.pruned, 4);
  for (const TrialRecord& t : StudyStore::open(study, true).trials()) {
    ASSERT_TRUE(t.value) << "trial " << t.number << ": " << t.reason;
    EXPECT_GT(*t.value, 0);
    EXPECT_FALSE(t.intermediate.empty());
    EXPECT_TRUE(t.intermediate.back().metrics.contains("accuracy"));
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, CommandStudy, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace autonet::hpsearch
