// Training a genotype from scratch (reference darts.md §5): the augment network with drop path
// and the auxiliary head, SGD with a cosine schedule to learning_rate_min, gradient clipping, the
// test set evaluated after every epoch. A task of the run engine (run/engine.h), as the search:
// same run folder, checkpoints, resume and report.
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
#include <nlohmann/json.hpp>
#include <string>

#include "darts/cnn/augment_model.h"
#include "darts/genotype/genotype.h"
#include "darts/tasks/config_table.h"
#include "darts/tasks/trainer_common.h"
#include "datasets/image_dataset.h"

namespace autonet::darts {

// Every field is a flag (--batch-size for batch_size) and a config-file key, through its line in
// table() (darts/tasks/config_table.h). Defaults: the paper's recipe (§5.5): auxiliary head and
// cutout on, which the official train.py leaves off unless asked (--auxiliary --cutout); on the
// embedded data set.
struct TrainRunConfig {
  std::string genotype = "DARTS_V2";  // published name, a .txt/.json file, or the text
  // data
  std::string dataset = "fashion-mnist";
  std::string data_dir;
  int64_t subset = 0;        // use only the first N training images (0: all)
  int64_t test_subset = 0;   // evaluate on the first N test images (0: all)
  double valid_portion = 0;  // > 0: evaluate on this part of the training images, not the test set
  // --dataset folder only (datasets/image_folder.h)
  int64_t image_size = 0;         // 0: images in memory at their own size; S: files, S×S crops
  bool skip_bad_images = false;   // leave unreadable images out (listed in the run folder)
  bool compute_mean_std = false;  // normalise with the training images' statistics
  bool cutout = true;
  int64_t cutout_length = 16;
  // network
  int64_t channels = 36;
  int64_t layers = 20;
  int64_t stem_multiplier = 3;  // CIFAR network only
  // cifar: NetworkCIFAR; imagenet: NetworkImageNet (two stride-2 stems,
  // darts/cnn/imagenet_model.h); auto: imagenet for images of 128 pixels and more
  std::string network = "auto";
  bool auxiliary = true;  // off by itself on images it does not fit, unless asked for
  double auxiliary_weight = 0.4;
  double drop_path_prob = 0.2;  // ramped linearly from 0: p_e = drop_path_prob · e / epochs
  // optimisation
  int64_t epochs = 600;
  int64_t batch_size = 96;
  double learning_rate = 0.025;
  double learning_rate_min = 0.0;
  double momentum = 0.9;
  double weight_decay = 3e-4;
  double grad_clip = 5;
  // run
  int64_t seed = 0;
  std::string device = "auto";
  int64_t workers = 2;
  int64_t log_every = 50;

  static const ConfigTable<TrainRunConfig>& table();
  void validate() const;
};

void to_json(nlohmann::json& j, const TrainRunConfig& c);
void from_json(const nlohmann::json& j, TrainRunConfig& c);

// The network a run trains (and `autonet eval` rebuilds): the config's sizes on the data's
// images and classes.
AugmentConfig augment_config(const TrainRunConfig& config, const data::ImageData& data);
// Whether the run's network is the ImageNet one (config.network, or auto by the image size).
bool uses_imagenet_network(const TrainRunConfig& config, int64_t image_height);

// Whether the auxiliary head fits images of this height: the CIFAR head pools the output of cell
// ⌊2L/3⌋ (H/4 pixels) 5×5 with stride 3 to 2×2 and needs H/4 in [8, 10] (CIFAR's 32 → 8); the
// ImageNet head pools H/32 pixels 5×5 with stride 2 and needs 7 or 8 (ImageNet's 224 → 7).
bool auxiliary_head_fits(int64_t image_height, bool imagenet = false);

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
