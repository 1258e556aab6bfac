// The search's hyperparameters (reference darts.md §3.1): one field table from which its flags,
// config files, config.json and validation derive (darts/tasks/config_table.h), and the network
// and architect configs a search builds from them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "darts/cnn/architect.h"
#include "darts/cnn/search_model.h"
#include "darts/tasks/config_table.h"
#include "darts/tasks/trainer_common.h"
#include "datasets/image_dataset.h"

namespace autonet::darts {

// Every field is a command-line flag (--batch-size for batch_size) and a key of config files and
// of the run's config.json, through its line in table() (darts/tasks/config_table.h: help, bounds).
// Defaults: train_search.py (§3.1), on the embedded data set.
struct SearchRunConfig {
  // data
  std::string dataset = "fashion-mnist";
  std::string data_dir;        // empty: the data set's default folder
  int64_t subset = 0;          // use only the first N training images (0: all)
  double train_portion = 0.5;  // first part trains w, the rest α
  // --dataset folder only (datasets/image_folder.h)
  int64_t image_size = 0;         // 0: images in memory at their own size; S: files, S×S crops
  bool skip_bad_images = false;   // leave unreadable images out (listed in the run folder)
  bool compute_mean_std = false;  // normalise with the training images' statistics
  bool cutout = false;
  int64_t cutout_length = 16;
  // method: darts, or pc-darts (partial channels + edge normalisation, darts/cnn/pc_search_model.h)
  std::string method = "darts";
  int64_t partial_channels = 4;    // pc-darts: 1/K of each edge's channels go through its ops
  int64_t arch_frozen_epochs = 0;  // α (and β) untrained in the first N epochs (PC-DARTS: 15)
  // network
  int64_t channels = 16;  // C
  int64_t layers = 8;     // L
  int64_t nodes = 4;
  int64_t multiplier = 4;
  int64_t stem_multiplier = 3;
  std::string stem = "auto";  // cifar | imagenet (three stride-2 convs) | auto: by image size
  // weights
  int64_t epochs = 50;
  int64_t batch_size = 64;
  double learning_rate = 0.025;
  double learning_rate_min = 0.001;
  double momentum = 0.9;
  double weight_decay = 3e-4;
  double grad_clip = 5;
  // architecture
  bool unrolled = false;  // second-order DARTS
  double arch_learning_rate = 3e-4;
  double arch_beta1 = 0.5;
  double arch_beta2 = 0.999;
  double arch_weight_decay = 1e-3;
  // run
  int64_t seed = 2;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int64_t workers = 2;          // data loader threads per loader
  int64_t log_every = 50;       // a step summary in log.jsonl every N steps (0: none)
  bool cuda_graph = true;       // on a GPU, replay the step's two passes from CUDA graphs
  bool side_stream = true;      // on a GPU, weight gradients on a second stream (side_stream.h)

  static const ConfigTable<SearchRunConfig>& table();
  // Throws naming the flag for a value out of its bounds or inconsistent with others.
  void validate() const;
};

void to_json(nlohmann::json& j, const SearchRunConfig& c);
void from_json(const nlohmann::json& j, SearchRunConfig& c);

// The supernet of a search on `data`'s images and classes: the config's sizes, its stem, and with
// --method pc-darts partial channels and edge normalisation.
SearchConfig search_network_config(const SearchRunConfig& config, const data::ImageData& data);
// α's Adam (and the order of its gradient) from the config's arch_* fields and --unrolled.
ArchitectConfig architect_config(const SearchRunConfig& config);

}  // namespace autonet::darts
