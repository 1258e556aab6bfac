#include <gtest/gtest.h>

#include <fstream>

#include "hpsearch/store.h"
#include "runtime/error.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

TEST(StudyStore, KeepsConfigTrialsReportsSamplerStateAndEvents) {
  testing::ScratchDir dir;
  const std::string path = dir.file("s.db");
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

}  // namespace
}  // namespace autonet::hpsearch
