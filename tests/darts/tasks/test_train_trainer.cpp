// Training a genotype from scratch over a run folder: what a run writes, exact resumption with
// drop path, cutout and the auxiliary head on, validation on held-out training images that never
// reads the test set, and the input checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "darts/tasks/train_trainer.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "tests/darts/tasks/tiny_search_run.h"
#include "tests/darts/tiny_data.h"

namespace autonet::darts {
namespace {

namespace fs = std::filesystem;

// 32×32 images, so the auxiliary head fits (8×8 at cell ⌊2L/3⌋), as on CIFAR-10.
TrainRunConfig tiny_train() {
  TrainRunConfig c = test::tiny_image_run<TrainRunConfig>();
  c.genotype = "DARTS_V2";
  c.drop_path_prob = 0.5;  // drops in epoch 1 (p = 0.25), so the drop-path offset matters
  c.log_every = 1;
  return c;
}

TEST(TrainTrainer, ResumeIsBitIdenticalAndTheFolderIsComplete) {
  test::TempDir tmp("train-resume");
  const data::ImageData data = test::tiny_images(8, 4, 32, 3, 10);
  const TrainRunConfig c = tiny_train();
  const TrainOutcome whole = run_training(c, data, tmp / "whole", RunOptions::quiet());
  EXPECT_TRUE(whole.finished);
  EXPECT_FALSE(run_training(c, data, tmp / "split", RunOptions::quiet(1)).finished);
  const TrainOutcome resumed = resume_training(tmp / "split", data, RunOptions::quiet());
  EXPECT_TRUE(resumed.finished);
  EXPECT_EQ(resumed.test_accuracy, whole.test_accuracy);
  test::expect_same_checkpoint_tensors(tmp / "whole" / "checkpoint.safetensors",
                                       tmp / "split" / "checkpoint.safetensors");
  EXPECT_EQ(test::log_without_timing(tmp / "whole" / "log.jsonl"),
            test::log_without_timing(tmp / "split" / "log.jsonl"));

  for (const char* f : {"config.json", "log.jsonl", "genotype.txt", "genotype.json",
                        "normal.dot", "reduce.dot", "report.html"})
    EXPECT_TRUE(fs::exists(tmp / "whole" / f)) << f;
  const nlohmann::json config = run::read_json_file(tmp / "whole" / "config.json");
  EXPECT_EQ(config["auxiliary"], true);
  EXPECT_EQ(config["run"]["genotype"], to_text(published_cnn_genotype("DARTS_V2")));
  EXPECT_GT(config["run"]["auxiliary_parameters"].get<int64_t>(), 0);
  int epochs = 0;
  for (const nlohmann::json& r : test::log_without_timing(tmp / "whole" / "log.jsonl"))
    if (r["kind"] == "epoch") {
      EXPECT_TRUE(r.contains("test_acc"));
      EXPECT_DOUBLE_EQ(r["drop_path_prob"].get<double>(), 0.5 * epochs / 2);
      ++epochs;
    }
  EXPECT_EQ(epochs, 2);
  EXPECT_NE(test::read_file(tmp / "whole" / "report.html").find("test (epoch)"), std::string::npos);
}

TEST(TrainTrainer, ValidPortionHoldsOutTrainingImagesAndNeverReadsTheTestSet) {
  test::TempDir tmp("train-valid");
  // No test images at all: a run that evaluated on the test set could not start.
  const data::ImageData data = test::tiny_images(10, 0, 32, 3, 10);
  TrainRunConfig c = tiny_train();
  EXPECT_THROW(run_training(c, data, tmp / "on-test", RunOptions::quiet()), Error);
  c.valid_portion = 0.2;  // 2 of the 10 images held out, 8 train (2 steps of 4)
  const TrainOutcome whole = run_training(c, data, tmp / "whole", RunOptions::quiet());
  ASSERT_TRUE(whole.finished);
  EXPECT_EQ(whole.eval_set, "valid");
  EXPECT_EQ(whole.test_accuracy, 0);

  // Exact resume holds with the held-out split too.
  EXPECT_FALSE(run_training(c, data, tmp / "split", RunOptions::quiet(1)).finished);
  const TrainOutcome resumed = resume_training(tmp / "split", data, RunOptions::quiet());
  EXPECT_EQ(resumed.valid_accuracy, whole.valid_accuracy);
  EXPECT_EQ(resumed.valid_loss, whole.valid_loss);
  EXPECT_EQ(resumed.best_valid_accuracy, whole.best_valid_accuracy);
  // Resuming a finished run gives its figures back from the checkpoint.
  const TrainOutcome again = resume_training(tmp / "whole", data, RunOptions::quiet());
  EXPECT_EQ(again.valid_loss, whole.valid_loss);
  EXPECT_EQ(again.valid_accuracy, whole.valid_accuracy);
  test::expect_same_checkpoint_tensors(tmp / "whole" / "checkpoint.safetensors",
                                       tmp / "split" / "checkpoint.safetensors");
  const std::vector<nlohmann::json> log = test::log_without_timing(tmp / "whole" / "log.jsonl");
  EXPECT_EQ(log, test::log_without_timing(tmp / "split" / "log.jsonl"));

  // The log and the run info speak of "valid" only; the outcome is the last epoch's figures.
  const nlohmann::json* last = nullptr;
  for (const nlohmann::json& r : log) {
    for (const auto& [key, _] : r.items())
      EXPECT_EQ(key.rfind("test", 0), std::string::npos) << key;
    if (r["kind"] == "epoch") last = &r;
  }
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(whole.valid_accuracy, (*last)["valid_acc"].get<double>());
  EXPECT_EQ(whole.valid_loss, (*last)["valid_loss"].get<double>());
  const nlohmann::json run = run::read_json_file(tmp / "whole" / "config.json")["run"];
  EXPECT_EQ(run["train_images"], 8);
  EXPECT_EQ(run["valid_images"], 2);
  EXPECT_FALSE(run.contains("test_images"));
  EXPECT_NE(test::read_file(tmp / "whole" / "report.html").find("valid (epoch)"),
            std::string::npos);
}

TEST(TrainTrainer, InputChecks) {
  test::TempDir tmp("train-checks");
  auto message = [&](const TrainRunConfig& c, const data::ImageData& d) {
    try {
      run_training(c, d, tmp / "r", RunOptions::quiet(0));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // 28×28 (Fashion-MNIST): 7×7 at the head, which needs 8×8.
  const data::ImageData small = test::tiny_images(8, 4, 28);
  EXPECT_NE(message(tiny_train(), small).find("--no-auxiliary"), std::string::npos);
  TrainRunConfig c = tiny_train();
  c.genotype = "Genotype(normal=[('sep_conv_9x9', 0)";
  EXPECT_NE(message(c, small).find("sep_conv_9x9"), std::string::npos) << message(c, small);
  c = tiny_train();
  c.layers = 1;
  EXPECT_NE(message(c, small).find("--layers"), std::string::npos);
  for (const double p : {-0.1, 1.0}) {
    c = tiny_train();
    c.auxiliary = false;
    c.valid_portion = p;
    EXPECT_NE(message(c, small).find("--valid-portion must be in [0, 1)"), std::string::npos)
        << message(c, small);
  }
  c.valid_portion = 0.1;  // ⌊0.1 · 8⌋ = 0 images held out
  EXPECT_NE(message(c, small).find("--valid-portion 0.1 of 8 training images holds out none"),
            std::string::npos)
      << message(c, small);
  c.valid_portion = 0.5;
  c.test_subset = 2;
  EXPECT_NE(message(c, small).find("--test-subset has no effect with --valid-portion"),
            std::string::npos)
      << message(c, small);
  // A subset larger than the data is refused, not silently shrunk to it.
  c = tiny_train();
  c.auxiliary = false;
  c.subset = 100;
  EXPECT_NE(message(c, small).find("--subset 100 asks for more images than the 8 there are"),
            std::string::npos)
      << message(c, small);
  c.subset = 0;
  c.test_subset = 50;
  EXPECT_NE(message(c, small).find("--test-subset 50 asks for more images than the 4 there are"),
            std::string::npos)
      << message(c, small);
  EXPECT_FALSE(fs::exists(tmp / "r" / "config.json"));

  EXPECT_TRUE(auxiliary_head_fits(32));
  EXPECT_FALSE(auxiliary_head_fits(28));
  EXPECT_FALSE(auxiliary_head_fits(64));
}

// The official train_imagenet.py defaults, checked field by field against its argparse lines, for
// a run that trains the ImageNet network (by flag, or by --network auto on large images) — and
// only for such a run, and never over a value the user gave.
TEST(TrainTrainer, TheImageNetNetworkTrainsWithTheOfficialRecipe) {
  TrainRunConfig c;
  c.network = "imagenet";
  settle_for_images(c, {}, 224);
  EXPECT_EQ(c.channels, 48);           // --init_channels 48
  EXPECT_EQ(c.layers, 14);             // --layers 14
  EXPECT_EQ(c.batch_size, 128);        // --batch_size 128
  EXPECT_EQ(c.epochs, 250);            // --epochs 250
  EXPECT_EQ(c.learning_rate, 0.1);     // --learning_rate 0.1
  EXPECT_EQ(c.momentum, 0.9);          // --momentum 0.9
  EXPECT_EQ(c.weight_decay, 3e-5);     // --weight_decay 3e-5
  EXPECT_EQ(c.lr_schedule, "step");    // StepLR(optimizer, decay_period, gamma)
  EXPECT_EQ(c.lr_gamma, 0.97);         // --gamma 0.97
  EXPECT_EQ(c.lr_decay_period, 1);     // --decay_period 1
  EXPECT_EQ(c.label_smoothing, 0.1);   // --label_smooth 0.1
  EXPECT_EQ(c.grad_clip, 5.0);         // --grad_clip 5.
  EXPECT_EQ(c.auxiliary_weight, 0.4);  // --auxiliary_weight 0.4
  EXPECT_EQ(c.drop_path_prob, 0.0);    // --drop_path_prob 0
  EXPECT_FALSE(c.cutout);              // its transforms have no cutout
  EXPECT_TRUE(c.auxiliary);            // the paper's runs pass --auxiliary; the head fits 224

  TrainRunConfig given;
  given.network = "auto";
  given.epochs = 3;
  given.label_smoothing = 0;
  const std::vector<std::string> notes =
      settle_for_images(given, {"epochs", "label_smoothing"}, 224);
  EXPECT_EQ(given.epochs, 3);
  EXPECT_EQ(given.label_smoothing, 0);
  EXPECT_EQ(given.batch_size, 128);
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("--lr-schedule"), std::string::npos) << notes[0];
  EXPECT_EQ(notes[0].find("--epochs"), std::string::npos) << notes[0];

  for (const auto& [network, height] :
       std::vector<std::pair<std::string, int64_t>>{{"auto", 32}, {"cifar", 224}}) {
    TrainRunConfig cifar;
    cifar.network = network;
    settle_for_images(cifar, {}, height);
    TrainRunConfig expected;
    expected.network = network;
    expected.auxiliary = height == 32;  // the CIFAR head fits 32×32 only
    EXPECT_EQ(nlohmann::json(cifar), nlohmann::json(expected)) << network << height;
  }
  // A head that does not fit is turned off, unless asked for.
  TrainRunConfig small;
  settle_for_images(small, {}, 28);
  EXPECT_FALSE(small.auxiliary);
  small.auxiliary = true;
  settle_for_images(small, {"auxiliary"}, 28);
  EXPECT_TRUE(small.auxiliary);
}

// The step schedule and label smoothing reach the training: the logged lr decays by γ per
// epoch, and smoothing changes the training loss of the same weights (a learning rate of 1e-30
// leaves them as they were) while the evaluation's plain cross-entropy stays the same.
TEST(TrainTrainer, StepScheduleAndLabelSmoothingReachTheTraining) {
  test::TempDir tmp("train-recipe");
  const data::ImageData data = test::tiny_images(8, 4, 32, 3, 10);
  auto epochs = [&](double smoothing, const std::string& name) {
    TrainRunConfig c = tiny_train();
    c.auxiliary = false;
    c.drop_path_prob = 0;
    c.lr_schedule = "step";
    c.lr_gamma = 0.25;  // cosine over 2 epochs would give 0.5 at epoch 1
    c.learning_rate = 1e-30;
    c.label_smoothing = smoothing;
    run_training(c, data, tmp / name, RunOptions::quiet());
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& r : test::log_without_timing(tmp / name / "log.jsonl"))
      if (r["kind"] == "epoch") out.push_back(r);
    return out;
  };
  const auto plain = epochs(0, "plain"), smoothed = epochs(0.5, "smoothed");
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0]["lr"].get<double>(), 1e-30);
  EXPECT_EQ(plain[1]["lr"].get<double>(), 0.25e-30);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_GT(std::fabs(smoothed[e]["train_loss"].get<double>() - plain[e]["train_loss"].get<double>()),
              1e-5)
        << e;
    EXPECT_EQ(smoothed[e]["test_loss"].get<double>(), plain[e]["test_loss"].get<double>()) << e;
  }
}

}  // namespace
}  // namespace autonet::darts
