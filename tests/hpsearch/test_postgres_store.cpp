// The study store on a PostgreSQL server (scripts/with-postgres starts a throwaway one): the
// same records as the SQLite file, the same study results, one coordinator per study, clear
// errors for what is not a study.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>

#include "hpsearch/postgres_connection.h"
#include "hpsearch/sql.h"
#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {

namespace {

using testing::ScratchDatabase;

#define SKIP_WITHOUT_SERVER()                                        \
  if (!postgres_supported()) GTEST_SKIP() << "built without libpq"; \
  if (!ScratchDatabase::server()) GTEST_SKIP() << testing::kNoServer

TEST(PostgresStore, KeepsEverythingTheSqliteFileKeeps) {
  SKIP_WITHOUT_SERVER();
  ScratchDatabase db;
  testing::expect_round_trip(db.url());
}

// One study, two stores: the same trials, values and seeds (the store does not change results).
TEST(PostgresStore, RunsAStudyExactlyAsTheSqliteFile) {
  SKIP_WITHOUT_SERVER();
  ScratchDatabase db;
  testing::ScratchDir dir;
  Json config = testing::synthetic_config({{"crash", {{"trial", 2}, {"attempts", 1}, {"step", 2}}}}, 6);
  config["pruner"] = {{"name", "median"}, {"startup_trials", 2}};
  const std::string file = testing::create_study(dir.file("s.db"), config);
  const std::string server = testing::create_study(db.url(), config);
  run_study(file, testing::worker_options(2));
  const RunSummary summary = run_study(server, testing::worker_options(2));
  EXPECT_EQ(summary.complete + summary.pruned, 6);
  const auto a = StudyStore::open(file, true).trials(), b = StudyStore::open(server, true).trials();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].params, b[i].params) << i;
    EXPECT_EQ(a[i].seed, b[i].seed) << i;
    EXPECT_EQ(a[i].state, b[i].state) << i;
    EXPECT_EQ(a[i].value, b[i].value) << i;  // doubles round-trip exactly through the server
    EXPECT_EQ(a[i].attempts, b[i].attempts) << i;
    ASSERT_EQ(a[i].intermediate.size(), b[i].intermediate.size()) << i;
    for (size_t k = 0; k < a[i].intermediate.size(); ++k)
      EXPECT_EQ(a[i].intermediate[k].metrics, b[i].intermediate[k].metrics);
  }
}

TEST(PostgresStore, OneCoordinatorPerStudyAndNoReplacingItUnderIt) {
  SKIP_WITHOUT_SERVER();
  ScratchDatabase db;
  const Json config = testing::synthetic_config({}, 2);
  testing::create_study(db.url(), config);
  {
    StudyStore running = StudyStore::open(db.url());
    running.lock_for_run();  // as a coordinator on another machine would
    EXPECT_NE(testing::error_of([&] { run_study(db.url(), testing::worker_options()); })
                  .find("is being run by another process"),
              std::string::npos);
    EXPECT_NE(testing::error_of([&] { StudyStore::create(db.url(), config, /*overwrite=*/true); })
                  .find("is being run by another process"),
              std::string::npos);
  }  // its connection closes: the lock goes with it
  EXPECT_EQ(run_study(db.url(), testing::worker_options()).complete, 2);
  EXPECT_NE(testing::error_of([&] { StudyStore::create(db.url(), config); }).find("exists"), std::string::npos);
  StudyStore::create(db.url(), config, /*overwrite=*/true);
  EXPECT_EQ(StudyStore::open(db.url(), true).trial_count(), 0);
}

// The server restarts while a trial runs: the coordinator reconnects (and re-takes its run
// lock), and the study finishes with nothing lost or run twice.
TEST(PostgresStore, AStudySurvivesAServerRestart) {
  SKIP_WITHOUT_SERVER();
  const char* restart = std::getenv("AUTONET_TEST_POSTGRES_RESTART");
  if (!restart) GTEST_SKIP() << "no restart command for the server (AUTONET_TEST_POSTGRES_RESTART)";
  ScratchDatabase db;
  testing::create_study(db.url(), testing::synthetic_config({{"sleep_ms", 80}, {"epochs", 3}}, 5));
  const pid_t coordinator = testing::start_coordinator(db.url());
  ASSERT_TRUE(testing::wait_for_report(db.url(), 1));
  ASSERT_EQ(std::system(restart), 0);
  int status = 0;
  ::waitpid(coordinator, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "coordinator status " << status;
  const auto trials = StudyStore::open(db.url(), true).trials();
  ASSERT_EQ(trials.size(), 5u);
  for (const TrialRecord& t : trials) {
    EXPECT_EQ(t.state, TrialState::Complete) << t.number;
    EXPECT_EQ(t.attempts, 1) << t.number;
    EXPECT_EQ(t.intermediate.size(), 3u) << t.number;
  }
}

TEST(PostgresStore, ClearErrorsForWhatIsNotAStudy) {
  SKIP_WITHOUT_SERVER();
  ScratchDatabase db;
  EXPECT_NE(testing::error_of([&] { StudyStore::open(db.url(), true); }).find("is not an autonet study"),
            std::string::npos);
  StudyStore::create(db.url(), Json::object()).set_meta("schema_version", "99");
  EXPECT_NE(testing::error_of([&] { StudyStore::open(db.url()); }).find("schema version 99"), std::string::npos);
  const std::string nowhere = "postgresql://postgres@/autonet_no_such_db?host=/nonexistent";
  EXPECT_NE(testing::error_of([&] { StudyStore::open(nowhere); }).find("cannot connect to the study server"),
            std::string::npos);
}

}  // namespace
}  // namespace autonet::hpsearch
