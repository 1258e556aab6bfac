// The training's field table, validation, ImageNet recipe and network config (train_config.h).
#include "darts/tasks/train_config.h"

#include <fmt/core.h>

#include <algorithm>

#include "darts/cnn/cell_layout.h"
#include "datasets/registry.h"
#include "runtime/error.h"

namespace autonet::darts {

using nlohmann::json;

const ConfigTable<TrainRunConfig>& TrainRunConfig::table() {
  using C = TrainRunConfig;
  using F = ConfigField<C>;
  static const ConfigTable<C> table({
      {"Network",
       {F{"genotype", &C::genotype,
          "NASNet, AmoebaNet, DARTS_V1, DARTS_V2, DARTS, a genotype.txt/.json file (e.g. a "
          "search run's), or the genotype text"},
        F{"channels", &C::channels, "C: channels of the first cells", positive()},
        F{"layers", &C::layers, "L: cells",
          at_least(3, "reduction cells sit at ⌊L/3⌋ and ⌊2L/3⌋ and must be distinct")},
        F{"network", &C::network,
          "cifar (NetworkCIFAR), imagenet (NetworkImageNet: two stride-2 stems, the ImageNet "
          "auxiliary head), or auto: imagenet for images of 128 pixels and more"},
        F{"stem_multiplier", &C::stem_multiplier,
          "the stem outputs stem_multiplier · C channels (CIFAR network only)", at_least(1)},
        F{"auxiliary", &C::auxiliary,
          "auxiliary head after cell ⌊2L/3⌋ (the paper's recipe; needs 32×32 images, 224×224 "
          "with the ImageNet network: off by itself for other sizes unless asked for)"},
        F{"auxiliary_weight", &C::auxiliary_weight, "weight of the auxiliary loss",
          non_negative()},
        F{"drop_path_prob", &C::drop_path_prob,
          "drop-path probability, ramped linearly from 0 over the epochs", half_open(0, 1)}}},
      {"Data", image_data_fields<C>()},
      {"Data",
       {F{"test_subset", &C::test_subset, "evaluate on the first N test images (0: all)",
          non_negative()},
        F{"valid_portion", &C::valid_portion,
          "hold out this part of the training images (drawn from the seed) and evaluate on it "
          "instead of the test set, which is then never read (0: evaluate on the test set)",
          half_open(0, 1)}}},
      {"Optimisation", sgd_fields<C>("batch size")},
      {"Optimisation",
       {F{"lr_schedule", &C::lr_schedule,
          "cosine (to --learning-rate-min over the epochs, as train.py) or step (×--lr-gamma "
          "every --lr-decay-period epochs, as train_imagenet.py)"},
        F{"lr_gamma", &C::lr_gamma, "--lr-schedule step: the factor of each decay",
          Bounds{.low = 0, .high = 1, .low_open = true, .high_open = false, .why = ""}},
        F{"lr_decay_period", &C::lr_decay_period, "--lr-schedule step: epochs between decays",
          at_least(1)},
        F{"label_smoothing", &C::label_smoothing,
          "label smoothing ε of the training loss (targets (1−ε)·one-hot + ε/classes; the "
          "evaluation's loss is plain cross-entropy)",
          half_open(0, 1)}}},
      {"Run", image_run_fields<C>("seed of weights, data order, augmentation, drop path")},
      {"GPU",
       {F{"side_stream", &C::side_stream,
          "on a GPU, run backward's weight gradients on a second stream beside the input "
          "gradients (same values bit for bit); --no-side-stream for one stream; ignored on CPU"}
            .fixed()}},
  }, {imagenet_recipe()});
  return table;
}

void to_json(json& j, const TrainRunConfig& c) { j = config_to_json(c); }
void from_json(const json& j, TrainRunConfig& c) { c = config_from_json(j, "train", c); }

void TrainRunConfig::validate() const {
  check_fields(*this);
  AN_CHECK(!genotype.empty()) << "--genotype is empty";
  check_stem_choice("--network", network);
  check_learning_rate_min(learning_rate_min, learning_rate);
  AN_CHECK(lr_schedule == "cosine" || lr_schedule == "step")
      << "--lr-schedule must be cosine or step, got '" << lr_schedule << "'";
  AN_CHECK(valid_portion == 0 || test_subset == 0)
      << "--test-subset has no effect with --valid-portion (the test set is not used); drop one";
  AN_CHECK(!cutout || cutout_length > 0)
      << "--cutout-length must be positive with --cutout, got " << cutout_length;
  if (device != "auto") parse_device(device);
}

AugmentConfig augment_config(const TrainRunConfig& c, const data::ImageData& data) {
  AugmentConfig a;
  a.channels = c.channels;
  a.layers = c.layers;
  a.stem_multiplier = c.stem_multiplier;
  a.classes = data.num_classes;
  a.input_channels = data.train.channels();
  a.auxiliary = c.auxiliary;
  a.imagenet = uses_imagenet_network(c, data.train.height());
  a.seed = static_cast<uint64_t>(c.seed);
  return a;
}

std::unique_ptr<LrSchedule> lr_schedule(const TrainRunConfig& c) {
  if (c.lr_schedule == "step") return std::make_unique<StepLr>(c.learning_rate, c.lr_decay_period, c.lr_gamma);
  return std::make_unique<CosineAnnealingLr>(c.learning_rate, c.epochs, c.learning_rate_min);
}

bool uses_imagenet_network(const TrainRunConfig& config, int64_t image_height) {
  return uses_imagenet_stem(config.network, image_height);
}

bool auxiliary_head_fits(int64_t image_height, bool imagenet) {
  if (imagenet) return imagenet_auxiliary_fits(image_height / 32);
  const int64_t at_head = image_height / 4;
  return at_head >= 8 && at_head <= 10;
}

void check_images_fit(const data::ImageSet& set, const std::string& dataset,
                      const AugmentConfig& network) {
  check_image_size(set, dataset);
  const bool imagenet = network.imagenet;
  // The ImageNet network halves the images three more times in its stems.
  AN_CHECK(!imagenet || (set.height() % 32 == 0 && set.width() % 32 == 0))
      << "the ImageNet network needs height and width that are multiples of 32; " << dataset
      << " has " << set.height() << "×" << set.width() << " images";
  AN_CHECK(!network.auxiliary || auxiliary_head_fits(set.height(), imagenet))
      << "--auxiliary: the head expects "
      << (imagenet ? "7×7 maps (224×224 images)" : "8×8 maps (32×32 images, as CIFAR-10)")
      << " at cell ⌊2L/3⌋; " << dataset << " has " << set.height() << "×" << set.width()
      << " images: pass --no-auxiliary";
}

const ConfigPreset<TrainRunConfig>& imagenet_recipe() {
  static const ConfigPreset<TrainRunConfig> recipe{
      "ImageNet network",
      [](const TrainRunConfig& c) { return uses_imagenet_network(c, configured_image_height(c)); },
      {{"channels", 48},
       {"layers", 14},
       {"batch_size", 128},
       {"epochs", 250},
       {"learning_rate", 0.1},
       {"lr_schedule", "step"},
       {"lr_gamma", 0.97},
       {"lr_decay_period", 1},
       {"weight_decay", 3e-5},
       {"label_smoothing", 0.1},
       {"grad_clip", 5.0},
       {"auxiliary_weight", 0.4},
       {"drop_path_prob", 0.0},
       {"cutout", false}}};
  return recipe;
}

int64_t configured_image_height(const TrainRunConfig& c) {
  return data::canonical_dataset_name(c.dataset) == "folder" ? c.image_size : 0;
}

std::vector<std::string> settle_for_images(TrainRunConfig& c,
                                           const std::vector<std::string>& keys_set,
                                           int64_t image_height) {
  std::vector<std::string> notes;
  const bool imagenet = uses_imagenet_network(c, image_height);
  if (imagenet) {
    const std::vector<std::string> applied = apply_preset(c, imagenet_recipe(), keys_set);
    if (!applied.empty()) {
      std::string keys;
      for (const std::string& k : applied) keys += (keys.empty() ? "" : ", ") + flag_of(k);
      notes.push_back("the ImageNet network trains with train_imagenet.py's recipe where no flag "
                      "says otherwise: " + keys);
    }
  }
  // The head is the paper's recipe on the images it was made for; elsewhere it is off unless
  // asked for (then the trainer explains why it cannot run).
  const bool head_set = std::find(keys_set.begin(), keys_set.end(), "auxiliary") != keys_set.end();
  if (image_height > 0 && c.auxiliary && !head_set &&
      !auxiliary_head_fits(image_height, imagenet)) {
    c.auxiliary = false;
    notes.push_back(fmt::format("no auxiliary head for {}-pixel images (it needs {})",
                                image_height, imagenet ? "224×224" : "32×32"));
  }
  return notes;
}

}  // namespace autonet::darts
