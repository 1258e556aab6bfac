// Pieces the DARTS image tasks (search and training from scratch) share beyond the run layer
// (run/): config JSON, the weight schedule's flag checks, the weights' SGD, the training loader,
// image checks and subsets, and the genotype files.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "darts/genotype.h"
#include "datasets/image_dataset.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "run/engine.h"

// to_json and from_json of a run config from its X-macro list of fields: each field under its
// own name; keys a JSON object lacks keep the config's defaults. Used inside namespace
// autonet::darts of the trainer's .cpp:  AN_DEFINE_CONFIG_JSON(SearchRunConfig, FIELDS)
#define AN_CONFIG_FIELD_TO_JSON(field) j[#field] = c.field;
#define AN_CONFIG_FIELD_FROM_JSON(field) \
  if (j.contains(#field)) j.at(#field).get_to(c.field);
#define AN_DEFINE_CONFIG_JSON(Type, FIELDS)                    \
  void to_json(nlohmann::json& j, const Type& c) {             \
    j = nlohmann::json::object();                              \
    FIELDS(AN_CONFIG_FIELD_TO_JSON)                            \
  }                                                            \
  void from_json(const nlohmann::json& j, Type& c) { FIELDS(AN_CONFIG_FIELD_FROM_JSON) }

namespace autonet::darts {

// The trainers' entry points take the run layer's options (run/engine.h).
using RunOptions = run::RunOptions;

// The weight schedule's flags both image trainers share (--epochs … --grad-clip), each refused
// with its flag's name.
void check_sgd_flags(int64_t epochs, int64_t batch_size, double learning_rate,
                     double learning_rate_min, double momentum, double weight_decay,
                     double grad_clip);
// The first `n` images of a set (n ≤ 0: all of it), sharing the pixels.
data::ImageSet first_images(const data::ImageSet& set, int64_t n);
// Throws unless height and width are multiples of 4: the networks halve the image twice and
// each FactorizedReduce needs an even input.
void check_image_size(const data::ImageSet& set, const std::string& dataset);

// The weights' SGD of an image task, from the config's learning_rate, momentum and weight_decay.
template <class Config>
std::unique_ptr<Sgd> weight_sgd(ParameterStore& weights, const Config& c) {
  SgdOptions sgd;
  sgd.lr = c.learning_rate;
  sgd.momentum = c.momentum;
  sgd.weight_decay = c.weight_decay;
  return std::make_unique<Sgd>(weights.weights(), weights.grads(), sgd);
}

// The training loader of an image task: the config's batch size, cutout, seed and workers.
template <class Config>
data::LoaderConfig train_loader_config(const Config& c, const data::ImageData& data,
                                       Device device) {
  data::LoaderConfig l;
  l.batch_size = c.batch_size;
  l.transform = data::train_transform(data, c.cutout, c.cutout_length);
  l.seed = static_cast<uint64_t>(c.seed);
  l.workers = static_cast<int>(c.workers);
  l.device = device;
  return l;
}

// Image folders (--dataset folder): the options of a config's keys image_size, skip_bad_images
// and compute_mean_std (absent keys: the defaults) ...
data::FolderOptions folder_options(const nlohmann::json& config);
// ... and what the run folder records of them beyond the flags: in config.json's "run" the
// class names in label order, the normalisation constants and the number of skipped images
// (empty for other data sets); in log.jsonl a "skipped_images" record naming each skipped file.
nlohmann::json image_folder_info(const data::ImageData& data);
void log_skipped_images(const run::RunFolder& run, const data::ImageData& data);

// genotype.txt, genotype.json and the two cells' drawings (normal/reduce .dot, .svg).
void write_genotype_files(const run::RunFolder& folder, const CnnGenotype& genotype);

}  // namespace autonet::darts
