#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "hpsearch/report.h"
#include "hpsearch/store.h"
#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {

// Writes a study with every kind of record and reads it back (read-only): both engines.
void testing::expect_round_trip(const std::string& path) {
  {
    StudyStore s = StudyStore::create(path, Json{{"name", "x"}});
    TrialRecord t;
    t.number = 0;
    t.params = Json::parse(R"({"b": 1, "a": "z"})");  // key order survives
    t.seed = 0x7FFFFFFFFFFFFFFFull;
    t.state = TrialState::Running;
    s.insert_trial(t);
    s.add_intermediate(0, {1, 0.5});
    s.add_intermediate(0, {2, NAN});
    t.state = TrialState::Complete;
    t.value = 0.25;
    t.metrics = {{"accuracy", 0.9}};
    t.reason = "r";
    t.attempts = 2;
    t.device = "cuda:1";
    s.update_trial(t);
    s.save_sampler_state(0, {{"told", 1}});
    s.add_event(0, "worker_died", "signal 9");
    s.set_meta("sync_lag", "1");
  }
  StudyStore s = StudyStore::open(path, /*read_only=*/true);
  EXPECT_EQ(s.config()["name"], "x");
  EXPECT_EQ(*s.meta("sync_lag"), "1");
  const auto trials = s.trials();
  ASSERT_EQ(trials.size(), 1u);
  const TrialRecord& t = trials[0];
  EXPECT_EQ(t.params.dump(), R"({"b":1,"a":"z"})");
  EXPECT_EQ(t.seed, 0x7FFFFFFFFFFFFFFFull);
  EXPECT_EQ(t.state, TrialState::Complete);
  EXPECT_EQ(*t.value, 0.25);
  EXPECT_EQ(t.metrics["accuracy"], 0.9);
  EXPECT_EQ(t.attempts, 2);
  EXPECT_EQ(t.device, "cuda:1");
  ASSERT_EQ(t.intermediate.size(), 2u);
  EXPECT_EQ(t.intermediate[0].value, 0.5);
  EXPECT_TRUE(std::isnan(t.intermediate[1].value));
  EXPECT_EQ((*s.sampler_state(0))["told"], 1);
  EXPECT_FALSE(s.sampler_state(1));
  ASSERT_EQ(s.events().size(), 1u);
  EXPECT_EQ(s.events()[0].kind, "worker_died");
  EXPECT_EQ(s.trial(0)->intermediate.size(), 2u);
}

namespace {

TEST(StudyStore, KeepsConfigTrialsReportsSamplerStateAndEvents) {
  testing::ScratchDir dir;
  testing::expect_round_trip(dir.file("s.db"));
}

TEST(StudyStore, RefusesToOverwriteAndRejectsForeignFiles) {
  testing::ScratchDir dir;
  const std::string path = dir.file("s.db");
  StudyStore::create(path, Json::object());
  EXPECT_THROW(StudyStore::create(path, Json::object()), Error);
  EXPECT_NO_THROW(StudyStore::create(path, Json::object(), /*overwrite=*/true));
  EXPECT_THROW(StudyStore::open(dir.file("missing.db")), Error);
  std::ofstream(dir.file("text.db")) << "not a database";
  EXPECT_THROW(StudyStore::open(dir.file("text.db")), Error);
}

// A file that is not a study gets one clear error (not a raw SQLite message), and looking at it
// leaves nothing behind.
TEST(StudyStore, NonStudyFilesGetAClearErrorAndNoLockFile) {
  testing::ScratchDir dir;
  std::ofstream(dir.file("text.db")) << "not a database, just some text that is long enough\n";
  for (const bool read_only : {false, true}) {
    try {
      StudyStore::open(dir.file("text.db"), read_only);
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + dir.file("text.db") + "' is not an autonet study"),
                std::string::npos)
          << e.what();
    }
  }
  try {
    run_study(dir.file("text.db"), testing::worker_options());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not an autonet study"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("text.db.lock")));
  {  // An SQLite file of another program, and a study from a newer autonet.
    StudyStore s = StudyStore::create(dir.file("foreign.db"), Json::object());
    s.exec("DROP TABLE meta");
    StudyStore::create(dir.file("newer.db"), Json::object()).set_meta("schema_version", "99");
  }
  EXPECT_THROW(StudyStore::open(dir.file("foreign.db")), Error);
  try {
    StudyStore::open(dir.file("newer.db"), true);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

// A study on storage this process cannot write (a read-only mount, another user's folder) is
// still readable by status/best/export/plot. The reader runs in a child process without write
// permission (as `nobody` when the test runs as root, which ignores file modes).
TEST(StudyStore, ReadOnlyStudiesCanBeRead) {
  testing::ScratchDir dir;
  const std::string path = testing::create_study(dir.file("s.db"), testing::synthetic_config({}, 2));
  run_study(path, testing::worker_options());
  const std::string folder = std::filesystem::path(path).parent_path().string();
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  ASSERT_EQ(::chmod(folder.c_str(), 0555), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::geteuid() == 0 && ::setuid(65534) != 0) ::_exit(3);
    try {
      const StudySnapshot snap = StudySnapshot::load(StudyStore::open(path, /*read_only=*/true));
      const bool ok = snap.trials.size() == 2 && best_trial(snap) && !export_csv(snap).empty() &&
                      !status_text(snap).empty() && !html_report(snap).empty();
      ::_exit(ok ? 0 : 2);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "read-only study: %s\n", e.what());
      ::_exit(1);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::chmod(folder.c_str(), 0755);
  ::chmod(path.c_str(), 0644);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
}

// A version-1 study (before per-epoch metrics, trial owners and workers) is read as it is, and
// upgraded to the current version when written.
TEST(StudyStore, UpgradesAVersionOneStudy) {
  testing::ScratchDir dir;
  const std::string path = dir.file("old.db");
  {
    StudyStore s = StudyStore::create(path, Json{{"name", "old"}});
    s.exec("DROP TABLE workers; DROP TABLE trials; DROP TABLE intermediate;"  // version 1's tables
           "CREATE TABLE trials (number INTEGER PRIMARY KEY, state TEXT NOT NULL, params TEXT NOT NULL,"
           " seed INTEGER NOT NULL, value REAL, metrics TEXT NOT NULL DEFAULT '{}',"
           " reason TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
           " device TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',"
           " created_at REAL NOT NULL DEFAULT 0, started_at REAL NOT NULL DEFAULT 0,"
           " finished_at REAL NOT NULL DEFAULT 0);"
           "INSERT INTO trials (number, state, params, seed) VALUES (0, 'RUNNING', '{}', 5);"
           "CREATE TABLE intermediate (trial INTEGER NOT NULL, "
           "step INTEGER NOT NULL, value REAL, at REAL NOT NULL, PRIMARY KEY (trial, step));"
           "INSERT INTO intermediate VALUES (0, 1, 0.5, 0)");
    s.set_meta("schema_version", "1");
  }
  EXPECT_EQ(StudyStore::open(path, true).trials()[0].intermediate.at(0).value, 0.5);
  StudyStore s = StudyStore::open(path);
  EXPECT_EQ(*s.meta("schema_version"), "4");
  s.add_intermediate(0, {2, 0.25, {{"accuracy", 0.8}}});
  EXPECT_EQ(s.trial(0)->intermediate.at(1).metrics["accuracy"], 0.8);
  s.heartbeat({"w", "host", 1, 1, 60});  // the shared-study parts work too, expiry column and all
  EXPECT_EQ(s.orphaned_trials(30).size(), 1u);
}

}  // namespace
}  // namespace autonet::hpsearch
