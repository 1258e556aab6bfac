// `autonet eval`'s library side: a saved run evaluated again gives exactly the figures the run
// logged — a CNN training run's last and best epochs on each split, a recurrent run's validation
// and test perplexities; data, splits and checkpoints that do not fit the run are refused;
// top-k counting.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "darts/tasks/evaluation.h"
#include "darts/tasks/train_trainer.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "tests/darts/tasks/tiny_search_run.h"
#include "tests/darts/tiny_data.h"
#include "tests/darts/tiny_rnn.h"

namespace autonet::darts {
namespace {

// A tiny CIFAR network on 16×16 images, trained for `epochs`.
TrainRunConfig tiny_training(int64_t epochs) {
  TrainRunConfig c = test::tiny_image_run<TrainRunConfig>();
  c.epochs = epochs;
  c.auxiliary = false;
  return c;
}

TEST(Evaluation, ReproducesTheLastEpochsTestFigures) {
  test::TempDir tmp("eval-run");
  const data::ImageData data = test::tiny_images(8, 6, 16, 3, 7);
  const TrainRunConfig c = tiny_training(2);
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

// The epoch records of a run's log.
std::vector<nlohmann::json> epoch_records(const std::filesystem::path& dir) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& r : test::log_without_timing(dir / "log.jsonl"))
    if (r["kind"] == "epoch") out.push_back(r);
  return out;
}

// A run validating on held-out images: --checkpoint best gives the best epoch's figures (not the
// last's), --split valid the held-out images, train the rest; a run without held-out images has
// no valid split.
TEST(Evaluation, BestCheckpointAndSplitsOfACnnRun) {
  test::TempDir tmp("eval-best");
  const data::ImageData data = test::tiny_images(24, 6, 16, 3, 7);
  TrainRunConfig c = tiny_training(3);
  c.valid_portion = 0.5;
  run_training(c, data, tmp / "run", RunOptions::quiet(1));
  // A best accuracy no later epoch can beat: best.safetensors stays the first epoch's.
  test::edit_checkpoint_state(tmp / "run" / "checkpoint.safetensors", [](nlohmann::json& s) {
    s["best"]["valid_acc"] = 2.0;
  });
  resume_training(tmp / "run", data, RunOptions::quiet());
  const std::vector<nlohmann::json> epochs = epoch_records(tmp / "run");
  ASSERT_EQ(epochs.size(), 3u);
  const int64_t best = 0;
  ASSERT_NE(epochs[best]["valid_loss"], epochs[2]["valid_loss"]);

  EvalOptions options;
  options.split = "valid";
  options.checkpoint = "best";
  RunEvaluation e = evaluate_cnn_run(tmp / "run", data, options);
  EXPECT_EQ(e.epochs, best + 1);
  EXPECT_EQ(e.result.images, 12);
  EXPECT_DOUBLE_EQ(e.result.accuracy, epochs[best]["valid_acc"].get<double>());
  EXPECT_NEAR(e.result.loss, epochs[best]["valid_loss"].get<double>(), 1e-6);
  options.checkpoint = "last";
  e = evaluate_cnn_run(tmp / "run", data, options);
  EXPECT_EQ(e.epochs, 3);
  EXPECT_NEAR(e.result.loss, epochs[2]["valid_loss"].get<double>(), 1e-6);
  options.split = "train";
  EXPECT_EQ(evaluate_cnn_run(tmp / "run", data, options).result.images, 12);
  options.split = "test";  // never read by the run: all of it
  EXPECT_EQ(evaluate_cnn_run(tmp / "run", data, options).result.images, 6);

  for (const auto& [split, checkpoint, part] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"dev", "last", "unknown split 'dev'"}, {"test", "first", "unknown checkpoint"}}) {
    options.split = split;
    options.checkpoint = checkpoint;
    try {
      evaluate_cnn_run(tmp / "run", data, options);
      ADD_FAILURE() << split << " " << checkpoint << " accepted";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.message()).find(part), std::string::npos) << err.message();
    }
  }
  c.valid_portion = 0;
  c.epochs = 1;
  run_training(c, data, tmp / "no-valid", RunOptions::quiet());
  options.split = "valid";
  options.checkpoint = "last";
  try {
    evaluate_cnn_run(tmp / "no-valid", data, options);
    ADD_FAILURE() << "a valid split without held-out images";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.message()).find("held out no validation images"), std::string::npos)
        << err.message();
  }
}

// rnn/test.py's figure: the best checkpoint's test perplexity is the one rnn-train logged at its
// end; the last checkpoint's validation loss is the last epoch's; a search run is evaluated with
// its α. Another vocabulary is refused.
TEST(Evaluation, RecurrentRunsGiveTheirLoggedPerplexities) {
  test::TempDir tmp("eval-rnn");
  RnnRunConfig c = test::tiny_rnn_train();
  c.nonmono = 5;  // no ASGD switch: plain weights
  run_rnn_train(c, test::small_kjv(), tmp / "train", RunOptions::quiet());
  nlohmann::json test_record, last;
  for (const nlohmann::json& r : test::log_without_timing(tmp / "train" / "log.jsonl")) {
    if (r["kind"] == "test") test_record = r;
    if (r["kind"] == "epoch") last = r;
  }
  ASSERT_FALSE(test_record.is_null());
  EvalOptions options;
  options.checkpoint = "best";
  RnnEvaluation e = evaluate_rnn_run(tmp / "train", test::small_kjv(), options);
  EXPECT_NEAR(e.loss, test_record["test_loss"].get<double>(), 1e-9);
  EXPECT_NEAR(e.perplexity, test_record["test_ppl"].get<double>(), 1e-6);
  EXPECT_EQ(e.tokens, 3000);
  options.checkpoint = "last";
  options.split = "valid";
  e = evaluate_rnn_run(tmp / "train", test::small_kjv(), options);
  EXPECT_EQ(e.epochs, 3);
  EXPECT_NEAR(e.loss, last["valid_loss"].get<double>(), 1e-9);

  // After the switch to ASGD the run validates with the average: so does eval.
  RunOptions one = RunOptions::quiet(1);
  c.epochs = 3;
  run_rnn_train(c, test::small_kjv(), tmp / "asgd", one);
  test::edit_checkpoint_state(tmp / "asgd" / "checkpoint.safetensors", [](nlohmann::json& s) {
    s["valid_history"] = std::vector<double>{0.0, 0.0, 0.0, 0.0, 0.0, 0.0};  // switch next
  });
  resume_rnn_run(tmp / "asgd", test::small_kjv(), RunOptions::quiet());
  last = epoch_records(tmp / "asgd").back();
  ASSERT_TRUE(last["valid_averaged"].get<bool>());
  e = evaluate_rnn_run(tmp / "asgd", test::small_kjv(), options);
  EXPECT_NEAR(e.loss, last["valid_loss"].get<double>(), 1e-9);

  RnnRunConfig s = test::tiny_rnn_search();
  s.epochs = 1;
  s.max_steps = 5;
  run_rnn_search(s, test::small_kjv(), tmp / "search", RunOptions::quiet());
  last = epoch_records(tmp / "search").back();
  e = evaluate_rnn_run(tmp / "search", test::small_kjv(), options);
  EXPECT_NEAR(e.loss, last["valid_loss"].get<double>(), 1e-9);
  options.split = "train";
  EXPECT_EQ(evaluate_rnn_run(tmp / "search", test::small_kjv(), options).tokens, 24000);

  const data::TextCorpus other =
      data::corpus_from_texts("kjv", data::prepare_kjv(data::kjv_verses(), 300));
  EXPECT_THROW(evaluate_rnn_run(tmp / "train", other, options), Error);
  EXPECT_THROW(evaluate_cnn_run(tmp / "train", test::tiny_images(8, 6, 16, 3, 7), options), Error);
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
