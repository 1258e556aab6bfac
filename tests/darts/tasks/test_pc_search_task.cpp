// The PC-DARTS search (--method pc-darts) on the run engine: β in the checkpoint and the log,
// the frozen-architecture warm-up, exact resume.
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cstring>

#include "autograd/checkpoint.h"
#include "darts/cnn/search_model.h"
#include "darts/tasks/search_trainer.h"
#include "datasets/image_folder.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "tests/darts/tasks/tiny_search_run.h"
#include "tests/darts/tiny_data.h"

namespace autonet::darts {
namespace {

SearchRunConfig tiny_pc_search(int64_t frozen_epochs) {
  SearchRunConfig c = test::tiny_search_run();
  c.method = "pc-darts";
  c.partial_channels = 2;
  c.arch_frozen_epochs = frozen_epochs;
  return c;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

const char* const kArch[] = {"arch.alphas_normal", "arch.alphas_reduce", "arch.betas_normal",
                             "arch.betas_reduce"};

// α and β keep their initial values through the frozen epochs and train afterwards.
TEST(PcSearchTask, ArchitectureIsFrozenInTheWarmUpEpochs) {
  test::TempDir tmp("pc-frozen");
  const data::ImageData data = test::tiny_images(16, 4, 8);
  // Frozen for two epochs (of three; stopped after two), for the first only, and not at all
  // (stopped after one epoch).
  SearchRunConfig frozen_for_two = tiny_pc_search(2);
  frozen_for_two.epochs = 3;
  run_search(frozen_for_two, data, tmp / "frozen", RunOptions::quiet(2));
  run_search(tiny_pc_search(1), data, tmp / "warm", RunOptions::quiet());
  run_search(tiny_pc_search(0), data, tmp / "trained", RunOptions::quiet(1));
  const Checkpoint frozen = read_checkpoint(tmp / "frozen" / "checkpoint.safetensors");
  const Checkpoint warm = read_checkpoint(tmp / "warm" / "checkpoint.safetensors");
  const Checkpoint trained = read_checkpoint(tmp / "trained" / "checkpoint.safetensors");
  for (const char* name : kArch) {
    ASSERT_TRUE(frozen.tensors.count(name)) << name;
    // Trained for one epoch from the same start either way: differs from the frozen values.
    EXPECT_FALSE(same_bytes(frozen.tensors.at(name), trained.tensors.at(name))) << name;
    EXPECT_FALSE(same_bytes(frozen.tensors.at(name), warm.tensors.at(name))) << name;
  }
  // The frozen run's α equals the untrained network's: rebuild it from the same seeds.
  ParameterStore weights(2), alphas(3);
  SearchConfig net_config;
  net_config.channels = 4, net_config.layers = 3, net_config.nodes = 2, net_config.multiplier = 2;
  net_config.classes = 3, net_config.input_channels = 1;
  net_config.partial_channels = 2, net_config.edge_normalization = true;
  SearchNetwork initial(net_config, weights, alphas);
  for (const auto& [name, value] : alphas.named_tensors())
    EXPECT_TRUE(same_bytes(frozen.tensors.at("arch." + name), value)) << name;

  // β is logged per epoch as softmax over each node's edges (2 + 3 edges).
  for (const nlohmann::json& r : test::log_without_timing(tmp / "warm" / "log.jsonl")) {
    if (r["kind"] != "epoch") continue;
    ASSERT_EQ(r["beta_normal"].size(), 5u);
    EXPECT_NEAR(r["beta_reduce"][0].get<double>() + r["beta_reduce"][1].get<double>(), 1.0, 1e-5);
  }
}

// report.html shows β as a heat map per cell with a column per epoch: each cell's hover text
// names its edge, its epoch and the value logged for them times the node's number of edges (its
// share against an even split).
TEST(PcSearchTask, ReportHasBetaHeatMapsPerEpoch) {
  test::TempDir tmp("pc-report");
  run_search(tiny_pc_search(1), test::tiny_images(16, 4, 8), tmp / "run", RunOptions::quiet());
  const std::string report = test::read_file(tmp / "run" / "report.html");
  for (const char* cell : {"normal", "reduce"})
    EXPECT_NE(report.find(std::string(cell) + " cell: β per epoch"), std::string::npos) << cell;
  int epochs = 0;
  for (const nlohmann::json& r : test::log_without_timing(tmp / "run" / "log.jsonl")) {
    if (r["kind"] != "epoch") continue;
    ++epochs;
    const int epoch = r["epoch"].get<int>() + 1;
    // Edges of a 2-node cell: n2←c0, n2←c1 (node 2: 2 edges), n3←c0, n3←c1, n3←n2 (3 edges).
    struct Tip {
      const char* edge;
      int row, siblings;
    };
    for (const Tip& t : {Tip{"n2←c0", 0, 2}, Tip{"n3←n2", 4, 3}})
      for (const char* key : {"beta_normal", "beta_reduce"}) {
        const std::string tip = fmt::format("{} / {}: {:.4f}", t.edge, epoch,
                                            t.siblings * r[key][t.row].get<double>());
        EXPECT_NE(report.find(tip), std::string::npos) << key << ": " << tip;
      }
  }
  EXPECT_EQ(epochs, 2);
}

// An image folder read at 128×128 (--dataset folder --image-size 128) searches with the ImageNet
// stem by --stem auto; --stem cifar keeps the CIFAR stem; the ImageNet stem refuses sizes it
// cannot halve five times.
TEST(PcSearchTask, ImageFolderAt128PixelsSearchesWithTheImageNetStem) {
  test::TempDir tmp("pc-stem");
  data::write_image_folder(test::tiny_images(16, 4, 32, 3), tmp / "images");
  data::FolderOptions options;
  options.image_size = 128;
  const data::ImageData folder = data::read_image_folder(tmp / "images", options);
  SearchRunConfig c = tiny_pc_search(0);
  c.dataset = "folder";
  c.data_dir = (tmp / "images").string();
  c.image_size = 128;
  c.epochs = 1;
  run_search(c, folder, tmp / "auto", RunOptions::quiet());
  const run::RunFolder run = run::RunFolder::open(tmp / "auto");
  EXPECT_EQ(run.config().at("run").at("stem"), "imagenet");
  const Checkpoint ckpt = read_checkpoint(tmp / "auto" / "checkpoint.safetensors");
  ASSERT_TRUE(ckpt.tensors.count("model.stem0.0.weight"));
  EXPECT_EQ(ckpt.tensors.at("model.stem0.0.weight").shape(), (Shape{6, 3, 3, 3}));  // 3·4 / 2
  EXPECT_EQ(ckpt.tensors.count("model.stem.0.weight"), 0u);

  c.stem = "cifar";
  c.batch_size = 8;  // one step: the full-size cells are slower
  run_search(c, folder, tmp / "cifar", RunOptions::quiet());
  EXPECT_EQ(run::RunFolder::open(tmp / "cifar").config().at("run").at("stem"), "cifar");

  c = tiny_pc_search(0);
  c.stem = "imagenet";
  try {
    run_search(c, test::tiny_images(16, 4, 8), tmp / "small", RunOptions::quiet());
    ADD_FAILURE() << "8×8 images were accepted by the ImageNet stem";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.message()).find("multiples of 32"), std::string::npos) << e.message();
  }
  c.stem = "imagenets";
  EXPECT_THROW(c.validate(), Error);
}

// 2 epochs in one go equal 1 (frozen) epoch + resume + 1 epoch, bit for bit, β included.
TEST(PcSearchTask, ResumeIsBitIdentical) {
  test::TempDir tmp("pc-resume");
  const data::ImageData data = test::tiny_images(16, 4, 8);
  const SearchRunConfig c = tiny_pc_search(1);
  run_search(c, data, tmp / "whole", RunOptions::quiet());
  EXPECT_FALSE(run_search(c, data, tmp / "split", RunOptions::quiet(1)).finished);
  EXPECT_TRUE(resume_search(tmp / "split", data, RunOptions::quiet()).finished);
  test::expect_same_checkpoint_tensors(tmp / "whole" / "checkpoint.safetensors",
                                       tmp / "split" / "checkpoint.safetensors");
  EXPECT_EQ(test::log_without_timing(tmp / "whole" / "log.jsonl"),
            test::log_without_timing(tmp / "split" / "log.jsonl"));
}

TEST(PcSearchTask, BadFlagsAreRejected) {
  SearchRunConfig c = tiny_pc_search(0);
  c.partial_channels = 3;  // does not divide 4 channels
  EXPECT_THROW(c.validate(), Error);
  c = tiny_pc_search(-1);
  EXPECT_THROW(c.validate(), Error);
  c = tiny_pc_search(2);  // as many frozen epochs as epochs: α would never train
  EXPECT_THROW(c.validate(), Error);
  c = tiny_pc_search(0);
  c.method = "pcdarts";
  EXPECT_THROW(c.validate(), Error);
}

}  // namespace
}  // namespace autonet::darts
