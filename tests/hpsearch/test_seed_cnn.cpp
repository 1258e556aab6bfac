// End to end on real data: a small study of the seed's CNN on the embedded Fashion-MNIST, two
// CPU workers, report and all. Sized to take seconds; examples/hpsearch/fashion-cnn.json is the
// few-minutes version the README shows.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hpsearch/report.h"
#include "test_util.h"
#include "tests/optional_data.h"

namespace autonet::hpsearch {
namespace {

TEST(SeedCnnWorkload, ShortStudyOnFashionMnistFinishesAndWritesItsReport) {
  AN_SKIP_WITHOUT_FASHION_MNIST();
  testing::ScratchDir dir;
  Json config = StudyConfig::from_json(Json::parse(R"({
    "name": "fmnist-smoke", "seed": 3, "objective": "val_loss",
    "space": {"lr": {"type": "float", "low": 0.003, "high": 0.1, "log": true},
              "dropout": {"type": "float", "low": 0.01, "high": 0.5, "log": true},
              "l2": {"type": "float", "low": 1e-5, "high": 1e-2, "log": true}},
    "workload": {"name": "seed-cnn", "epochs": 2, "train_size": 384, "valid_size": 256,
                 "width": 0.25},
    "budget": {"trials": 3}})")).to_json();
  const std::string path = testing::create_study(dir.file("s.db"), config);
  const RunSummary summary = run_study(path, testing::worker_options(2));
  EXPECT_EQ(summary.complete, 3);
  const StudySnapshot snap = StudySnapshot::load(StudyStore::open(path, true));
  for (const TrialRecord& t : snap.trials) {
    ASSERT_EQ(t.state, TrialState::Complete) << t.reason;
    EXPECT_EQ(t.intermediate.size(), 2u);
    // A validation cross-entropy (no L2 term) of a 10-class problem, and a sane accuracy.
    EXPECT_GT(*t.value, 0.0);
    EXPECT_LT(*t.value, 3.0);
    EXPECT_GT(t.metrics["accuracy"].get<double>(), 0.15);
    // width 0.25: convs 1→8→8→16→16→32→32 (3×3, biases) = 18040; 28→14→7→3 after the pools,
    // so dense 32·3·3 → 32 = 9248 and 32 → 10 = 330.
    EXPECT_EQ(t.metrics["parameters"], 18040 + 9248 + 330);
  }
  const std::string html = html_report(snap);
  std::ofstream(dir.file("report.html")) << html;
  EXPECT_NE(html.find("accuracy by trial"), std::string::npos);
}

}  // namespace
}  // namespace autonet::hpsearch
