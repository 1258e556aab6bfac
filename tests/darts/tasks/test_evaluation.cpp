// `autonet eval`'s library side: a saved training run evaluated again gives exactly the figures
// its last epoch logged; data that does not fit the run is refused; top-k counting.
#include <gtest/gtest.h>

#include "darts/tasks/evaluation.h"
#include "darts/tasks/train_trainer.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "tests/darts/tiny_data.h"

namespace autonet::darts {
namespace {

TEST(Evaluation, ReproducesTheLastEpochsTestFigures) {
  test::TempDir tmp("eval-run");
  const data::ImageData data = test::tiny_images(8, 6, 16, 3, 7);
  TrainRunConfig c;
  c.channels = 4;
  c.layers = 3;
  c.epochs = 2;
  c.batch_size = 4;
  c.auxiliary = false;
  c.device = "cpu";
  c.workers = 1;
  run_training(c, data, tmp / "run", RunOptions::quiet());
  nlohmann::json last;
  for (const nlohmann::json& r : test::log_without_timing(tmp / "run" / "log.jsonl"))
    if (r["kind"] == "epoch") last = r;
  EvalOptions options;
  options.batch_size = 3;  // other batches: the same per-image figures
  const RunEvaluation e = evaluate_cnn_run(tmp / "run", data, options);
  EXPECT_EQ(e.epochs, 2);
  EXPECT_EQ(e.result.images, 6);
  EXPECT_DOUBLE_EQ(e.result.accuracy, last["test_acc"].get<double>());
  EXPECT_DOUBLE_EQ(e.result.top5, last["test_top5"].get<double>());
  EXPECT_NEAR(e.result.loss, last["test_loss"].get<double>(), 1e-6);

  const data::ImageData other_classes = test::tiny_images(8, 6, 16, 3, 5);
  EXPECT_THROW(evaluate_cnn_run(tmp / "run", other_classes, options), Error);
  const data::ImageData other_size = test::tiny_images(8, 6, 8, 3, 7);
  EXPECT_THROW(evaluate_cnn_run(tmp / "run", other_size, options), Error);
  EXPECT_THROW(evaluate_cnn_run(tmp / "missing", data, options), Error);
}

TEST(Evaluation, TopKCountsTheLabelsRankWithEarlierClassesWinningTies) {
  // Row 0: label 2 ranks 3rd (behind 3 and 0); row 1: all equal, label 1 ranks 2nd.
  Tensor logits = Tensor::empty({2, 4});
  const float z[8] = {5, 1, 4, 6, 0, 0, 0, 0};
  std::copy(z, z + 8, logits.data<float>());
  Tensor labels = Tensor::empty({2}, DType::i64);
  labels.data<int64_t>()[0] = 2;
  labels.data<int64_t>()[1] = 1;
  EXPECT_EQ(run::count_top_k(logits, labels, 1), 0);
  EXPECT_EQ(run::count_top_k(logits, labels, 2), 1);
  EXPECT_EQ(run::count_top_k(logits, labels, 3), 2);
  EXPECT_EQ(run::count_correct(logits, labels), 0);
}

}  // namespace
}  // namespace autonet::darts
