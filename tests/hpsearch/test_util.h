// Shared helpers for the hpsearch tests: scratch folders and study files.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "hpsearch/postgres_connection.h"
#include "hpsearch/runner.h"
#include "hpsearch/store.h"
#include "hpsearch/study.h"

namespace autonet::hpsearch::testing {

// A fresh folder per test, removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("autonet-hp-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A COMPLETE trial as a sampler is told it.
inline TrialRecord complete_trial(int64_t number, Json params, double value) {
  TrialRecord t;
  t.number = number;
  t.state = TrialState::Complete;
  t.params = std::move(params);
  t.value = value;
  return t;
}

inline Json synthetic_config(const Json& workload_extra = Json::object(), int64_t trials = 6) {
  Json c = Json::parse(R"({
    "name": "t", "seed": 7,
    "space": {"x": {"type": "float", "low": 0, "high": 1},
              "y": {"type": "float", "low": 0.01, "high": 1, "log": true},
              "c": {"type": "categorical", "choices": ["p", "q", "r"]}},
    "workload": {"name": "synthetic", "epochs": 3, "target": {"x": 0.3, "c": "q"}}})");
  for (const auto& [k, v] : workload_extra.items()) c["workload"][k] = v;
  c["budget"] = {{"trials", trials}};
  return c;
}

inline RunOptions worker_options(int workers = 1) {
  RunOptions o;
  o.worker_command = {self_executable(), "--hpsearch-worker"};
  o.slots.assign(static_cast<size_t>(workers), "cpu");
  return o;
}

inline std::string create_study(const std::string& path, const Json& config) {
  StudyStore::create(path, StudyConfig::from_json(config).to_json());
  return path;
}

// Creates a study at `path` (a file or a server URL), writes every kind of record, reads them
// back (test_store.cpp).
void expect_round_trip(const std::string& path);

// A fresh PostgreSQL database per test on the server the test run was given
// (AUTONET_TEST_POSTGRES, set by scripts/with-postgres), dropped at the end. Tests that need it
// skip when no server is given: GTEST_SKIP() if (!ScratchDatabase::server()) ...
class ScratchDatabase {
 public:
  static const char* server() { return std::getenv("AUTONET_TEST_POSTGRES"); }
  ScratchDatabase();
  ~ScratchDatabase();
  const std::string& url() const { return url_; }

 private:
  std::string name_, url_;
};
std::string error_of(const std::function<void()>& body);
// A coordinator in a child process (this binary in --hpsearch-run mode, one worker).
pid_t start_coordinator(const std::string& path);
// Waits (up to 5 s) until trial `number` is RUNNING and has reported an epoch.
bool wait_for_report(const std::string& path, int64_t number);  // the Error's message, or "(no error)"
inline constexpr const char* kNoServer =
    "no PostgreSQL server given (AUTONET_TEST_POSTGRES; scripts/with-postgres starts one)";

// One study per test on either store: TEST_P(StoreStudy, ...) and
// INSTANTIATE_TEST_SUITE_P(Stores, StoreStudy, ::testing::Values("sqlite", "postgres")).
class StoreStudy : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (!postgres_supported()) GTEST_SKIP() << "built without libpq";
      if (!ScratchDatabase::server()) GTEST_SKIP() << kNoServer;
      database_.emplace();
      path_ = database_->url();
    } else {
      path_ = dir_.file("s.db");
    }
  }
  std::string create(const Json& config) { return create_study(path_, config); }

  ScratchDir dir_;
  std::optional<ScratchDatabase> database_;
  std::string path_;
};

}  // namespace autonet::hpsearch::testing
