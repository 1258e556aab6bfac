// The training's hyperparameters (reference darts.md §5): one field table from which its flags,
// config files, config.json and validation derive (darts/tasks/config_table.h), the ImageNet
// recipe preset, and the network a run trains, built from them.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/lr_schedule.h"
#include "darts/cnn/augment_model.h"
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
  // cosine: to learning_rate_min over the epochs (train.py); step: ×lr_gamma every
  // lr_decay_period epochs (train_imagenet.py's StepLR)
  std::string lr_schedule = "cosine";
  double lr_gamma = 0.97;
  int64_t lr_decay_period = 1;
  double label_smoothing = 0;  // of the training loss (main and auxiliary); evaluation is plain
  // run
  int64_t seed = 0;
  std::string device = "auto";
  int64_t workers = 2;
  int64_t log_every = 50;
  bool side_stream = true;  // on a GPU, weight gradients on a second stream (side_stream.h)

  static const ConfigTable<TrainRunConfig>& table();
  void validate() const;
};

// The official train_imagenet.py recipe, the defaults of a run that trains the ImageNet network:
// C=48, 14 cells, batch 128, 250 epochs, SGD lr 0.1 ×0.97 every epoch, weight decay 3e-5,
// label smoothing 0.1, grad clip 5, auxiliary weight 0.4, no drop path, no cutout. A preset of
// the table: the flags resolve it when the config alone tells the network (--network imagenet,
// or auto with --image-size S ≥ 128 on an image folder); settle_for_images() when only the
// images tell it.
const ConfigPreset<TrainRunConfig>& imagenet_recipe();

// A new run's config settled on images of `image_height` pixels (0: not known yet, as for
// --print-config with an explicit --network), for the fields neither the config file nor a flag
// set (`keys_set`): the ImageNet recipe when the run trains the ImageNet network, and no
// auxiliary head on images it does not fit. Returns a note for the user per change.
std::vector<std::string> settle_for_images(TrainRunConfig& c,
                                           const std::vector<std::string>& keys_set,
                                           int64_t image_height);
// The image height the config alone fixes: --image-size for an image folder read from files;
// 0 when only the images tell.
int64_t configured_image_height(const TrainRunConfig& c);

void to_json(nlohmann::json& j, const TrainRunConfig& c);
void from_json(const nlohmann::json& j, TrainRunConfig& c);

// The network a run trains (and `autonet eval` rebuilds): the config's sizes on the data's
// images and classes.
AugmentConfig augment_config(const TrainRunConfig& config, const data::ImageData& data);
// The weights' learning-rate schedule: cosine to learning_rate_min, or step (×lr_gamma every
// lr_decay_period epochs).
std::unique_ptr<LrSchedule> lr_schedule(const TrainRunConfig& config);
// Whether the run's network is the ImageNet one (config.network, or auto by the image size).
bool uses_imagenet_network(const TrainRunConfig& config, int64_t image_height);

// Whether the auxiliary head fits images of this height: the CIFAR head pools the output of cell
// ⌊2L/3⌋ (H/4 pixels) 5×5 with stride 3 to 2×2 and needs H/4 in [8, 10] (CIFAR's 32 → 8); the
// ImageNet head pools H/32 pixels 5×5 with stride 2 and needs 7 or 8 (ImageNet's 224 → 7).
bool auxiliary_head_fits(int64_t image_height, bool imagenet = false);
// Throws, naming the data set, unless `network` can take the images of `set`: sizes its
// reductions (and the ImageNet stems) can halve, and with the auxiliary head the size it expects.
void check_images_fit(const data::ImageSet& set, const std::string& dataset,
                      const AugmentConfig& network);

}  // namespace autonet::darts
