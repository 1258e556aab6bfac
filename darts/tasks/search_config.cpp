// The search's field table, validation and the configs it derives (search_config.h).
#include "darts/tasks/search_config.h"

#include "darts/cnn/cell_layout.h"
#include "darts/cnn/imagenet_model.h"
#include "runtime/error.h"

namespace autonet::darts {

using nlohmann::json;

const ConfigTable<SearchRunConfig>& SearchRunConfig::table() {
  using C = SearchRunConfig;
  using F = ConfigField<C>;
  static const ConfigTable<C> table({
      {"Data", image_data_fields<C>()},
      {"Data",
       {F{"train_portion", &C::train_portion,
          "share of the training images that train the weights; the rest train α", open(0, 1)}}},
      {"Network",
       {F{"method", &C::method,
          "darts, or pc-darts (partial channels and edge normalisation, Xu et al. 2020)"},
        F{"partial_channels", &C::partial_channels,
          "pc-darts: 1/K of each edge's channels go through its candidate ops", at_least(1)},
        F{"channels", &C::channels, "C: channels of the first cells", positive()},
        F{"layers", &C::layers, "L: cells",
          at_least(3, "reduction cells sit at ⌊L/3⌋ and ⌊2L/3⌋ and must be distinct")},
        F{"nodes", &C::nodes, "intermediate nodes per cell", at_least(1)},
        F{"multiplier", &C::multiplier, "last nodes concatenated into a cell's output (≤ nodes)",
          at_least(1)},
        F{"stem_multiplier", &C::stem_multiplier, "the stem outputs stem_multiplier · C channels",
          at_least(1)},
        F{"stem", &C::stem,
          "cifar (one 3×3 conv, cells at the input's size), imagenet (the official ImageNet "
          "search's three stride-2 convs, cells at 1/8 of it: for 224×224 image folders), or "
          "auto: imagenet for images of 128 pixels and more"}}},
      {"Weights", sgd_fields<C>("batch size of the weight and of the α batches")},
      {"Architecture",
       {F{"unrolled", &C::unrolled, "second-order (unrolled) DARTS; --first-order for ξ = 0"}
            .off_flag("--first-order"),
        F{"arch_learning_rate", &C::arch_learning_rate, "Adam learning rate of α", positive()},
        F{"arch_beta1", &C::arch_beta1, "Adam β1 of α", half_open(0, 1)},
        F{"arch_beta2", &C::arch_beta2, "Adam β2 of α", half_open(0, 1)},
        F{"arch_weight_decay", &C::arch_weight_decay, "Adam weight decay (L2) of α",
          non_negative()},
        F{"arch_frozen_epochs", &C::arch_frozen_epochs,
          "train the weights only in the first N epochs (< --epochs)", non_negative()}}},
      {"Run", image_run_fields<C>("seed of weights, α, data order and augmentation")},
      {"GPU",
       {F{"cuda_graph", &C::cuda_graph,
          "on a GPU, replay the search step's two passes from CUDA graphs, first or second order "
          "(same values bit for bit; first order 2.7x the images/s on an H200); --no-cuda-graph "
          "for eager steps; ignored on CPU"}
            .fixed(),
        F{"side_stream", &C::side_stream,
          "on a GPU, run backward's weight gradients on a second stream beside the input "
          "gradients (same values bit for bit); --no-side-stream for one stream; ignored on CPU"}
            .fixed()}},
  },
  // The official PC-DARTS CIFAR search (train_search.py of yuhuixu1993/PC-DARTS, checked field by
  // field; docs/darts.md says where the run differs). Only --method selects it: the data set
  // stays the user's choice.
  {{"--method pc-darts",
    [](const C& c) { return c.method == "pc-darts"; },
    {{"partial_channels", 4},
     {"epochs", 50},
     {"batch_size", 256},
     {"learning_rate", 0.1},
     {"learning_rate_min", 0.0},
     {"momentum", 0.9},
     {"weight_decay", 3e-4},
     {"grad_clip", 5.0},
     {"train_portion", 0.5},
     {"unrolled", false},
     {"arch_learning_rate", 6e-4},
     {"arch_beta1", 0.5},
     {"arch_beta2", 0.999},
     {"arch_weight_decay", 1e-3},
     {"arch_frozen_epochs", 15}}}});
  return table;
}

void to_json(json& j, const SearchRunConfig& c) { j = config_to_json(c); }
void from_json(const json& j, SearchRunConfig& c) { c = config_from_json(j, "search", c); }

void SearchRunConfig::validate() const {
  check_fields(*this);
  AN_CHECK(multiplier <= nodes) << "--multiplier must be in [1, nodes = " << nodes << "], got "
                                << multiplier;
  check_learning_rate_min(learning_rate_min, learning_rate);
  AN_CHECK(subset == 0 || subset >= 2)
      << "--subset must be 0 (all images) or at least 2, got " << subset;
  AN_CHECK(!cutout || cutout_length > 0)
      << "--cutout-length must be positive with --cutout, got " << cutout_length;
  check_stem_choice("--stem", stem);
  AN_CHECK(method == "darts" || method == "pc-darts")
      << "--method must be darts or pc-darts, got '" << method << "'";
  // A search whose α never trains derives its genotype from the random initial α.
  AN_CHECK(arch_frozen_epochs < epochs)
      << "--arch-frozen-epochs (" << arch_frozen_epochs << ") must be less than --epochs ("
      << epochs << "): α would never train"
      << (method == "pc-darts" ? " (--method pc-darts sets the official recipe's value unless "
                                 "--arch-frozen-epochs is given)"
                               : "");
  AN_CHECK(method != "pc-darts" || channels % partial_channels == 0)
      << "--partial-channels (" << partial_channels << ") must divide --channels (" << channels
      << ")";
  if (device != "auto") parse_device(device);  // throws on a malformed name
}

SearchConfig search_network_config(const SearchRunConfig& c, const data::ImageData& data) {
  SearchConfig s;
  s.channels = c.channels;
  s.layers = c.layers;
  s.nodes = static_cast<int>(c.nodes);
  s.multiplier = static_cast<int>(c.multiplier);
  s.stem_multiplier = c.stem_multiplier;
  s.classes = data.num_classes;
  s.input_channels = data.train.channels();
  s.imagenet_stem = uses_imagenet_stem(c.stem, data.train.height());
  if (c.method == "pc-darts") {
    s.partial_channels = c.partial_channels;
    s.edge_normalization = true;
  }
  return s;
}

ArchitectConfig architect_config(const SearchRunConfig& c) {
  ArchitectConfig arch;
  arch.unrolled = c.unrolled;
  arch.learning_rate = c.arch_learning_rate;
  arch.beta1 = c.arch_beta1;
  arch.beta2 = c.arch_beta2;
  arch.weight_decay = c.arch_weight_decay;
  return arch;
}

}  // namespace autonet::darts
