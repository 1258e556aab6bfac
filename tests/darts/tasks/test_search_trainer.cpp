// The search loop over a run folder: what a run writes, exact resumption (also from version-1
// checkpoints), a NaN stop that writes no checkpoint, and the errors of bad configs and bad or
// damaged checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "darts/tasks/search_trainer.h"
#include "run/run_folder.h"
#include "runtime/error.h"
#include "tests/autograd/version1_checkpoint.h"
#include "tests/darts/tasks/tiny_search_run.h"
#include "tests/darts/tiny_data.h"

namespace autonet::darts {
namespace {

namespace fs = std::filesystem;

SearchRunConfig tiny_search(bool unrolled) {
  SearchRunConfig c = test::tiny_search_run();
  c.unrolled = unrolled;
  c.log_every = 2;
  return c;
}

TEST(SearchTrainer, WritesTheRunFolder) {
  test::TempDir tmp("search-folder");
  const data::ImageData data = test::tiny_images(20, 4, 8);
  SearchRunConfig c = tiny_search(false);
  c.subset = 16;  // 8 images for w, 8 for α: 2 steps per epoch
  const SearchOutcome out = run_search(c, data, tmp / "run", RunOptions::quiet());
  EXPECT_TRUE(out.finished);
  EXPECT_EQ(out.epochs_done, 2);
  for (const char* f : {"config.json", "log.jsonl", "checkpoint.safetensors", "run.lock",
                        "genotype.txt", "genotype.json",
                        "genotype_last_epoch_start.txt", "normal.dot", "reduce.dot",
                        "report.html"})
    EXPECT_TRUE(fs::exists(tmp / "run" / f)) << f;

  // The resolved config holds every flag and what the run derived from the data.
  const nlohmann::json config = run::read_json_file(tmp / "run" / "config.json");
  EXPECT_EQ(config["channels"], 4);
  EXPECT_EQ(config["learning_rate"], 0.025);
  EXPECT_EQ(config["run"]["train_images"], 16);
  EXPECT_EQ(config["run"]["steps_per_epoch"], 2);
  EXPECT_EQ(config["run"]["device"], "cpu");

  // One step summary per 2 steps, one record per epoch with softmax(α) and the genotype.
  int steps = 0, epochs = 0;
  for (const nlohmann::json& r : test::log_without_timing(tmp / "run" / "log.jsonl")) {
    if (r["kind"] == "step") ++steps;
    if (r["kind"] != "epoch") continue;
    ++epochs;
    EXPECT_EQ(r["alpha_normal"].size(), 5u);  // 2 + 3 edges
    EXPECT_EQ(r["alpha_normal"][0].size(), 8u);
    double row = 0;
    for (double v : r["alpha_normal"][0]) row += v;
    EXPECT_NEAR(row, 1.0, 1e-5);
    EXPECT_NO_THROW(parse_cnn_genotype(r["genotype"].get<std::string>()));
    EXPECT_GE(r["valid_acc"].get<double>(), 0.0);
  }
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(epochs, 2);
  EXPECT_EQ(parse_cnn_genotype(test::read_file(tmp / "run" / "genotype.txt")), out.genotype);
  const std::string report = test::read_file(tmp / "run" / "report.html");
  EXPECT_NE(report.find("<svg"), std::string::npos);
  EXPECT_NE(report.find("normal after epoch 2"), std::string::npos);
  EXPECT_EQ(report.find("β per epoch"), std::string::npos);  // DARTS has no edge normalisation
}

// 2 epochs in one go equal 1 epoch + resume + 1 epoch, bit for bit: weights, α, both
// optimizers' state, BN statistics and the logged losses (second order: every pass is covered).
TEST(SearchTrainer, ResumeIsBitIdentical) {
  test::TempDir tmp("search-resume");
  const data::ImageData data = test::tiny_images(16, 4, 8);
  const SearchRunConfig c = tiny_search(true);
  run_search(c, data, tmp / "whole", RunOptions::quiet());
  const SearchOutcome first = run_search(c, data, tmp / "split", RunOptions::quiet(1));
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.epochs_done, 1);
  // A crash after more steps had been logged: the resumed run drops those records.
  {
    std::ofstream log(tmp / "split" / "log.jsonl", std::ios::app);
    log << R"({"kind":"step","epoch":1,"step":99,"loss":1})" << "\n";
  }
  const SearchOutcome second = resume_search(tmp / "split", data, RunOptions::quiet());
  EXPECT_TRUE(second.finished);
  EXPECT_EQ(second.genotype, run_search(c, data, tmp / "again", RunOptions::quiet()).genotype);
  test::expect_same_checkpoint_tensors(tmp / "whole" / "checkpoint.safetensors",
                                       tmp / "split" / "checkpoint.safetensors");
  EXPECT_EQ(test::log_without_timing(tmp / "whole" / "log.jsonl"),
            test::log_without_timing(tmp / "split" / "log.jsonl"));
}

TEST(SearchTrainer, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  test::TempDir tmp("search-nan");
  const data::ImageData good = test::tiny_images(16, 4, 8);
  const SearchRunConfig c = tiny_search(false);
  run_search(c, good, tmp / "run", RunOptions::quiet(1));
  const std::string checkpoint = test::read_file(tmp / "run" / "checkpoint.safetensors");

  // The same images normalised with a NaN mean: the loss turns NaN at the first step.
  data::ImageData poisoned = good;
  poisoned.mean.assign(1, std::nanf(""));
  // In a new run, before its first checkpoint: the message says how to start again.
  try {
    run_search(c, poisoned, tmp / "new", RunOptions::quiet());
    FAIL() << "a NaN loss must stop the run";
  } catch (const Error& e) {
    const std::string way_out = "holds no checkpoint, so --resume cannot continue it: to start "
                                "the run again, delete " + (tmp / "new").string();
    EXPECT_NE(std::string(e.what()).find(way_out), std::string::npos) << e.what();
  }
  try {
    resume_search(tmp / "run", poisoned, RunOptions::quiet());
    FAIL() << "a NaN loss must stop the run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("became nan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("without writing a checkpoint"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(test::read_file(tmp / "run" / "checkpoint.safetensors"), checkpoint);
  // The stored state still resumes and finishes with good data.
  EXPECT_TRUE(resume_search(tmp / "run", good, RunOptions::quiet()).finished);
}

// Run folders of earlier builds hold version-1 checkpoints; one killed between the two renames
// of its save (the sidecar still in checkpoint.safetensors.json.tmp) resumes exactly as well.
TEST(SearchTrainer, ResumesAVersion1CheckpointLeftBetweenItsTwoRenames) {
  test::TempDir tmp("search-version1");
  const data::ImageData data = test::tiny_images(16, 4, 8);
  const SearchRunConfig c = tiny_search(false);
  run_search(c, data, tmp / "whole", RunOptions::quiet());
  run_search(c, data, tmp / "split", RunOptions::quiet(1));
  test::rewrite_as_version1(tmp / "split" / "checkpoint.safetensors", "00c0ffee",
                            tmp / "split" / "checkpoint.safetensors.json.tmp");
  EXPECT_TRUE(resume_search(tmp / "split", data, RunOptions::quiet()).finished);
  test::expect_same_checkpoint_tensors(tmp / "whole" / "checkpoint.safetensors",
                                       tmp / "split" / "checkpoint.safetensors");
}

// Damage that would otherwise resume silently into another computation: flipped bytes fail the
// checksum, a NaN weight (in a version-1 file, which has no checksums) is named as such.
TEST(SearchTrainer, ADamagedCheckpointIsRefusedNamingTheTensor) {
  test::TempDir tmp("search-damaged");
  const data::ImageData data = test::tiny_images(16, 4, 8);
  run_search(tiny_search(false), data, tmp / "run", RunOptions::quiet(1));
  const fs::path path = tmp / "run" / "checkpoint.safetensors";
  const std::string good = test::read_file(path);
  const auto message = [&] {
    try {
      resume_search(tmp / "run", data, RunOptions::quiet());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };

  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, good.data(), 8);
  std::string bad = good;  // 16 bytes of the first tensor, a weight
  for (size_t i = 8 + header_bytes; i < 8 + header_bytes + 16; ++i) bad[i] = static_cast<char>(~bad[i]);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
  EXPECT_NE(message().find("fails its checksum"), std::string::npos) << message();
  EXPECT_NE(message().find("tensor 'model."), std::string::npos) << message();

  std::ofstream(path, std::ios::binary | std::ios::trunc) << good;
  Checkpoint c = read_checkpoint(path);
  std::vector<NamedTensor> tensors;
  for (auto& [name, t] : c.tensors) tensors.push_back({name, t});
  const auto weight = std::find_if(tensors.begin(), tensors.end(),
                                   [](const NamedTensor& t) { return t.name.rfind("model.", 0) == 0; });
  weight->tensor.data<float>()[0] = std::nanf("");
  test::write_version1_checkpoint(path, tensors, c.state, "0000bad0");
  EXPECT_NE(message().find("tensor '" + weight->name + "' holds nan"), std::string::npos)
      << message();
  EXPECT_EQ(message().find("good"), std::string::npos) << message();
}

TEST(SearchTrainer, ResumeErrorsAreClear) {
  test::TempDir tmp("search-resume-errors");
  const data::ImageData data = test::tiny_images(16, 4, 8);
  auto message = [&](const fs::path& dir) {
    try {
      resume_search(dir, data, RunOptions::quiet());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(tmp / "absent").find("does not exist"), std::string::npos);
  fs::create_directories(tmp / "empty");
  EXPECT_NE(message(tmp / "empty").find("no config.json"), std::string::npos);

  // A run stopped before its first checkpoint.
  SearchRunConfig c = tiny_search(false);
  run_search(c, data, tmp / "fresh", RunOptions::quiet(0));
  EXPECT_NE(message(tmp / "fresh").find("holds no checkpoint"), std::string::npos);

  // A checkpoint of another architecture (C = 6) in the folder of a C = 4 run.
  SearchRunConfig wide = c;
  wide.channels = 6;
  run_search(wide, data, tmp / "wide", RunOptions::quiet(1));
  fs::copy_file(tmp / "wide" / "checkpoint.safetensors", tmp / "fresh" / "checkpoint.safetensors");
  const std::string shape = message(tmp / "fresh");
  EXPECT_NE(shape.find("cannot resume"), std::string::npos) << shape;
  EXPECT_NE(shape.find("shape"), std::string::npos) << shape;

  // A new run refuses a folder that holds one.
  EXPECT_THROW(run_search(c, data, tmp / "wide", RunOptions::quiet()), Error);
}

// An odd C is valid: every FactorizedReduce of the network gets the doubled (even) channel count
// of a reduction cell, so nothing needs C itself to be even.
TEST(SearchTrainer, OddChannelCountsRun) {
  test::TempDir tmp("search-odd");
  SearchRunConfig c = tiny_search(false);
  c.channels = 3;
  c.epochs = 1;
  EXPECT_TRUE(run_search(c, test::tiny_images(8, 4, 8), tmp / "r", RunOptions::quiet()).finished);
}

TEST(SearchTrainer, BadConfigsAreRejected) {
  const data::ImageData data = test::tiny_images(16, 4, 8);
  auto message = [](SearchRunConfig c) {
    try {
      c.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  SearchRunConfig c = tiny_search(false);
  c.layers = 2;
  EXPECT_NE(message(c).find("--layers must be at least 3"), std::string::npos);
  c = tiny_search(false);
  c.train_portion = 1.0;
  EXPECT_NE(message(c).find("--train-portion"), std::string::npos);
  c = tiny_search(false);
  c.multiplier = 5;
  EXPECT_NE(message(c).find("--multiplier"), std::string::npos);
  c = tiny_search(false);
  c.device = "gpu";
  EXPECT_NE(message(c).find("bad device"), std::string::npos);

  // Images whose size the two reductions cannot halve.
  test::TempDir tmp("search-bad-size");
  EXPECT_THROW(run_search(tiny_search(false), test::tiny_images(16, 4, 10), tmp / "r", RunOptions::quiet()),
               Error);
  EXPECT_FALSE(fs::exists(tmp / "r" / "config.json")) << "no folder for a run that cannot start";
  // A subset larger than the data is refused, not silently shrunk to it.
  SearchRunConfig big = tiny_search(false);
  big.subset = 1000;
  try {
    run_search(big, data, tmp / "r", RunOptions::quiet());
    ADD_FAILURE() << "a subset of 1000 of 16 images ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--subset 1000 asks for more images than the 16"),
              std::string::npos)
        << e.what();
  }

  // Config files: unknown keys and wrong types are errors, absent keys take the defaults.
  EXPECT_THROW(config_from_json<SearchRunConfig>({{"chanels", 8}}, "search"), Error);
  EXPECT_THROW(config_from_json<SearchRunConfig>({{"channels", "eight"}}, "search"), Error);
  const SearchRunConfig from_file = config_from_json<SearchRunConfig>({{"channels", 8}}, "search");
  EXPECT_EQ(from_file.channels, 8);
  EXPECT_EQ(from_file.layers, 8);
}

}  // namespace
}  // namespace autonet::darts
