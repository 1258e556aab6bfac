// Pieces the DARTS image tasks (search and training from scratch) share beyond the run layer
// (run/): the config fields they share, the weights' SGD, the training loader, image checks and
// subsets, the run info, the train-then-evaluate epoch and its record, and the genotype files;
// and the entry points of every DARTS task.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/modules.h"
#include "autograd/optimizer.h"
#include "autograd/parameters.h"
#include "darts/genotype/genotype.h"
#include "darts/tasks/config_table.h"
#include "datasets/image_dataset.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "run/engine.h"
#include "run/image_epochs.h"

namespace autonet::darts {

// The trainers' entry points take the run layer's options (run/engine.h).
using RunOptions = run::RunOptions;

// The fields both image configs (search, training) share, for their tables
// (darts/tasks/config_table.h): the data (image folders included), the weights' SGD schedule, and
// how the run is carried out.
template <class C>
std::vector<ConfigField<C>> image_data_fields() {
  using F = ConfigField<C>;
  return {F{"dataset", &C::dataset,
            "data set: fashion-mnist (embedded), mnist, cifar10, cifar100, folder (an image "
            "folder: one subfolder per class of JPEG/PNG files, or DIR/train + DIR/val)"},
          F{"data_dir", &C::data_dir,
            "folder of the data set files (empty: the data set's default folder)"},
          F{"image_size", &C::image_size,
            "--dataset folder: 0 keeps the images in memory at their own (common) size; S decodes "
            "them in the loader threads and crops S×S with the ImageNet transforms (224 for "
            "ImageNet, 32 or 64 to search on smaller inputs)",
            non_negative()},
          F{"skip_bad_images", &C::skip_bad_images,
            "--dataset folder: leave out images that cannot be read or decoded (counted in "
            "config.json, listed in log.jsonl) instead of stopping at the first"}
              .fixed(),
          F{"compute_mean_std", &C::compute_mean_std,
            "--dataset folder: normalise with the per-channel mean/std of the training images "
            "(one decoding pass) instead of ImageNet's constants"},
          F{"subset", &C::subset, "use only the first N training images (0: all), for quick runs",
            non_negative()},
          F{"cutout", &C::cutout, "cutout augmentation"},
          F{"cutout_length", &C::cutout_length, "cutout side"}};
}
template <class C>
std::vector<ConfigField<C>> sgd_fields(const std::string& batch_size_help) {
  using F = ConfigField<C>;
  return {F{"epochs", &C::epochs, "epochs", at_least(1)},
          F{"batch_size", &C::batch_size, batch_size_help, at_least(1)},
          F{"learning_rate", &C::learning_rate, "SGD learning rate of the weights", positive()},
          F{"learning_rate_min", &C::learning_rate_min,
            "floor of the cosine schedule (≤ learning rate)", non_negative()},
          F{"momentum", &C::momentum, "SGD momentum", half_open(0, 1)},
          F{"weight_decay", &C::weight_decay, "SGD weight decay (L2)", non_negative()},
          F{"grad_clip", &C::grad_clip, "clip the weights' gradient norm to this", positive()}};
}
template <class C>
std::vector<ConfigField<C>> image_run_fields(const std::string& seed_help) {
  using F = ConfigField<C>;
  return {F{"seed", &C::seed, seed_help, non_negative()}.fixed(),
          F{"device", &C::device, "auto (cuda when a GPU is usable, else cpu), cpu, cuda or cuda:N"},
          F{"workers", &C::workers, "data loader threads per loader", closed(0, 64)}.fixed(),
          F{"log_every", &C::log_every, "a step summary in log.jsonl every N steps (0: none)",
            non_negative()}
              .fixed()};
}
// The cosine schedule's floor must not exceed its start (the cross-field rule of sgd_fields).
void check_learning_rate_min(double learning_rate_min, double learning_rate);
// The first `n` images of a set (n ≤ 0: all of it), sharing the pixels. Throws, naming `flag`,
// when the set holds fewer than n (a subset that silently shrank would mislead).
data::ImageSet first_images(const data::ImageSet& set, int64_t n, const char* flag);
// Throws unless height and width are multiples of 4 (32 with the ImageNet stem): the networks
// halve the image twice (five times) and each FactorizedReduce needs an even input.
void check_image_size(const data::ImageSet& set, const std::string& dataset,
                      bool imagenet_stem = false);

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

// What config.json records of every image task beyond the flags: its kind and device, the data
// set, image shape and classes, `train_images`, the steps per epoch and the network's size, with
// an image folder's record (image_folder_info). The task adds its own keys.
nlohmann::json image_run_info(const std::string& kind, Device device, const data::ImageData& data,
                              const data::ImageSet& train_set, int64_t train_images,
                              int64_t steps_per_epoch, int64_t parameters);
// Throws unless a checkpoint's state was trained on `train_images` images (the data set or its
// --subset changed since).
void check_train_images(const nlohmann::json& state, int64_t train_images);

// The images one pass of an image task reads: the set, the indices read, and how.
struct ImagePass {
  const data::ImageSet& set;
  const std::vector<int64_t>& indices;
  const data::LoaderConfig& loader;
};
// One epoch of an image task: the training pass (`step` per batch, the network in train mode),
// then the evaluation of `eval_set` ("valid", "test") in eval mode (running BN statistics).
struct ImageEpochFigures {
  run::Meter train;
  run::EvalResult eval;
};
ImageEpochFigures train_and_evaluate(run::ImageEpochs& epochs, Module& net, int64_t epoch,
                                     double lr, const ImagePass& train, const run::ImageStep& step,
                                     const ImagePass& eval, const std::string& eval_set);
// The epoch record's fields every image task logs (lr, train_loss, <eval_set>_acc, the best, the
// images/s, ...) and the progress line's summary; the task adds its own fields.
run::EpochResult image_epoch_result(const run::ImageEpochs& epochs, const ImageEpochFigures& f,
                                    const std::string& eval_set, double lr,
                                    int64_t steps_per_epoch, const run::Best& best);

// genotype.txt, genotype.json and the two cells' drawings (normal/reduce .dot, .svg).
void write_genotype_files(const run::RunFolder& folder, const CnnGenotype& genotype);

// The entry points of every DARTS task (CNN and RNN, search and training), for a Task with
// outcome(engine, finished) and run_info(...).
//
// Runs the engine to the end of the run, or to the stop RunOptions asks for: the task's outcome.
template <class Task>
auto run_to_end(Task& task, run::Engine& engine) {
  const bool finished = engine.run();
  return task.outcome(engine, finished);
}

// A new run of `task` in a folder created at `dir` with `config` and the task's `run_info`.
template <class Task>
auto start_run(Task& task, const nlohmann::json& config, const nlohmann::json& run_info,
               const std::filesystem::path& dir, const RunOptions& options) {
  run::Engine engine(task, run::create_run_folder(dir, config, run_info), options);
  return run_to_end(task, engine);
}

// The same for an image task, with the images an image folder skipped logged first.
template <class Task, class Config>
auto start_image_run(Task& task, const Config& config, const data::ImageData& data,
                     const std::filesystem::path& dir, const RunOptions& options) {
  run::RunFolder folder = run::create_run_folder(dir, config, task.run_info(data));
  log_skipped_images(folder, data);
  run::Engine engine(task, std::move(folder), options);
  return run_to_end(task, engine);
}

// The folder of a run to continue, refused unless its kind is one of `kinds`, and the config its
// flags stored (`command` names it in errors). The caller validates it and builds the task.
template <class Config>
std::pair<run::RunFolder, Config> open_to_resume(const std::filesystem::path& dir,
                                                 const std::vector<std::string>& kinds,
                                                 const std::string& command) {
  run::RunFolder folder = run::RunFolder::open(dir);
  folder.expect_kind(kinds);
  Config config = config_from_json<Config>(run::stored_flags(folder), command);
  return {std::move(folder), std::move(config)};
}

// Continues the run of `folder` with `task` exactly from its last checkpoint.
template <class Task>
auto resume_run(Task& task, run::RunFolder folder, const RunOptions& options) {
  run::Engine engine(task, std::move(folder), options);
  engine.resume();
  return run_to_end(task, engine);
}

}  // namespace autonet::darts
