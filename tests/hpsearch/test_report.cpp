#include <gtest/gtest.h>

#include <sstream>

#include "hpsearch/report.h"
#include "tests/test_text.h"
#include "test_util.h"

namespace autonet::hpsearch {
namespace {

using test::count_occurrences;

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // x matters (target 0.3), y and c do not: importance must say so.
    Json config = testing::synthetic_config({{"epochs", 3}, {"target", {{"x", {{"value", 0.3}, {"scale", 0.1}}}}}}, 16);
    config["sampler"] = {{"name", "random"}};
    path_ = testing::create_study(dir_.file("s.db"), config);
    run_study(path_, testing::worker_options(2));
  }
  testing::ScratchDir dir_;
  std::string path_;
};

TEST_F(ReportTest, CsvHasAHeaderAndOneRowPerTrial) {
  const auto snap = StudySnapshot::load(StudyStore::open(path_, true));
  const std::string csv = export_csv(snap);
  std::istringstream lines(csv);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header, "number,state,value,param_x,param_y,param_c,metric_accuracy,seed,attempts,device,version,duration_s,reason");
  EXPECT_EQ(count_occurrences(csv, "\n"), 17u);
  EXPECT_EQ(count_occurrences(csv, ",COMPLETE,"), 16u);
}

TEST_F(ReportTest, JsonCarriesTrialsCurvesAndTheBest) {
  const auto snap = StudySnapshot::load(StudyStore::open(path_, true));
  const Json j = export_json(snap);
  ASSERT_EQ(j["trials"].size(), 16u);
  EXPECT_EQ(j["trials"][5]["intermediate"].size(), 3u);
  EXPECT_EQ(j["study"]["sampler"]["name"], "random");
  const auto best = best_trial(snap);
  ASSERT_TRUE(best);
  EXPECT_EQ(j["best"]["number"], best->number);
  for (const TrialRecord& t : snap.trials) EXPECT_GE(*t.value, *best->value);
}

TEST_F(ReportTest, ImportanceRanksTheParameterThatMattersFirst) {
  const auto imp = parameter_importance(StudySnapshot::load(StudyStore::open(path_, true)));
  ASSERT_EQ(imp.size(), 3u);
  EXPECT_EQ(imp[0].first, "x");
  EXPECT_GT(imp[0].second, 0.6);
  double sum = 0;
  for (const auto& [_, v] : imp) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST_F(ReportTest, HtmlReportHoldsEveryPlotAsInlineSvg) {
  const std::string html = html_report(StudySnapshot::load(StudyStore::open(path_, true)));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // objective, accuracy, curves, parallel coords, importance, a slice per parameter, timeline
  EXPECT_EQ(count_occurrences(html, "<svg "), 9u);
  EXPECT_EQ(count_occurrences(html, "<svg "), count_occurrences(html, "</svg>"));
  EXPECT_NE(html.find("best so far"), std::string::npos);
  EXPECT_NE(html.find("Parallel coordinates"), std::string::npos);
  EXPECT_NE(html.find("Parameter importance"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_NE(html.find("objective by y"), std::string::npos);
  EXPECT_NE(html.find("y (log scale)"), std::string::npos);  // y is sampled in log space
  EXPECT_NE(html.find("Trials over time"), std::string::npos);
  EXPECT_NE(html.find(">cpu #2<"), std::string::npos);  // two workers ran side by side
}

// A trial pruned after one report has a one-point curve: it must still be visible, as a dot.
TEST(ReportCurves, ATrialPrunedAfterOneReportIsADot) {
  StudySnapshot study{StudyConfig::from_json(testing::synthetic_config()), {}, {}};
  TrialRecord complete, pruned;
  complete.number = 0;
  complete.params = pruned.params = Json{{"x", 0.5}, {"y", 0.1}, {"c", "p"}};
  complete.state = TrialState::Complete;
  complete.value = 0.2;
  complete.intermediate = {{1, 0.5}, {2, 0.3}, {3, 0.2}};
  pruned.number = 1;
  pruned.state = TrialState::Pruned;
  pruned.value = 0.9;
  pruned.intermediate = {{1, 0.9}};
  study.trials = {complete, pruned};
  const std::string html = html_report(study);
  EXPECT_NE(html.find("<title>trial 1 step 1: 0.9</title></circle>"), std::string::npos);
  EXPECT_EQ(html.find("<title>trial 0 step 1: 0.5</title></circle>"), std::string::npos);  // a line
}

}  // namespace
}  // namespace autonet::hpsearch
