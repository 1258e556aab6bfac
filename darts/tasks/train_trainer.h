// Training a genotype from scratch (reference darts.md §5): the augment network with drop path
// and the auxiliary head, SGD with a cosine schedule to learning_rate_min, gradient clipping, the
// test set evaluated after every epoch. A task of the run engine (run/engine.h), as the search:
// same run folder, checkpoints, resume and report; best.safetensors holds the best epoch's
// network. The ImageNet network trains with train_imagenet.py's recipe by default
// (imagenet_recipe(): step schedule, label smoothing, ...).
//
// With valid_portion > 0 the run holds out that part of its training images instead (the final
// split of datasets/splits.h, drawn from the seed), trains on the rest and evaluates on the
// held-out images after every epoch; the test set is then never read, and the log says "valid".
// That is the honest way to compare trained networks, e.g. genotypes in a hyperparameter search.
//
// Differences from train.py: the logged train loss includes the auxiliary term, as train.py's;
// drop-path masks come from Philox (docs/darts.md), so runs are reproducible from the seed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "darts/tasks/train_config.h"
#include "darts/tasks/train_images.h"
#include "darts/tasks/trainer_common.h"
#include "datasets/image_dataset.h"

namespace autonet::darts {

// The figures of the set the run evaluates on: the test fields without valid_portion, the valid
// fields with it (the others stay 0).
struct TrainOutcome {
  std::filesystem::path run_dir;
  int64_t epochs_done = 0;
  bool finished = false;
  std::string eval_set = "test";  // "valid" with valid_portion > 0
  double test_accuracy = 0;       // after the last epoch (what the paper reports)
  double best_test_accuracy = 0;  // for reference only: choosing by test accuracy is not allowed
  double valid_accuracy = 0, valid_loss = 0;  // after the last epoch
  double best_valid_accuracy = 0;
};

TrainOutcome run_training(const TrainRunConfig& config, const data::ImageData& data,
                          const std::filesystem::path& run_dir, const RunOptions& options = {});
TrainOutcome resume_training(const std::filesystem::path& run_dir, const data::ImageData& data,
                             const RunOptions& options = {});

}  // namespace autonet::darts
