// The DARTS architecture search (reference darts.md §3): the bilevel loop, a task of the run engine
// (run/engine.h) over a run folder.
//
// Per step, in the official order (§3.3): an α step on a validation batch (first or second
// order, darts/cnn/architect.h), then the weight step on the train batch (SGD with momentum, weight
// decay, gradient clipping to a global norm). The learning rate follows the PyTorch-0.3 cosine
// schedule per epoch (§3.2). After every epoch: evaluation on the α half, an epoch record in
// log.jsonl (losses, accuracies, softmax(α), the genotype), an atomic checkpoint, genotype files,
// cell drawings and report.html.
//
// Deliberate differences (none changes what is optimised):
//  - Validation batches for α come from reshuffled passes over the α half (each image once per
//    pass); the official code draws a fresh random batch every step (with replacement across
//    steps). Same per-batch distribution.
//  - The final genotype is derived from α after the last epoch; the official script's last logged
//    genotype (derived at the start of the last epoch, §3.6) is recorded too.
//  - The α half is evaluated with the train transform, as the official infer() does (§10).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "autograd/optimizer.h"
#include "darts/genotype/genotype.h"
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
  bool cuda_graph = true;       // on a GPU, replay the first-order step's passes from CUDA graphs

  static const ConfigTable<SearchRunConfig>& table();
  // Throws naming the flag for a value out of its bounds or inconsistent with others.
  void validate() const;
};

void to_json(nlohmann::json& j, const SearchRunConfig& c);
void from_json(const nlohmann::json& j, SearchRunConfig& c);

class Architect;
class SearchNetwork;

// One search step (§3.3): the α step on the validation batch, then the weight step on the train
// batch (zero, forward with the updated α, backward, clip to `grad_clip`, SGD). Throws when a
// loss or the gradient norm is not finite (`where` names the step). Used by the trainer and by
// bench/bench_search_step.cpp, so the benchmark times exactly what a run does.
struct SearchStepResult {
  double loss = 0;      // training loss before the weight step
  int64_t correct = 0;  // correct predictions on the train batch
};
SearchStepResult search_step(SearchNetwork& net, Architect& architect, Sgd& weight_optimizer,
                             const Tensor& train_images, const Tensor& train_labels,
                             const Tensor& valid_images, const Tensor& valid_labels,
                             double grad_clip, const std::string& where = "");

// A step with α and β frozen (PC-DARTS's warm-up epochs): the weight step alone.
SearchStepResult frozen_arch_step(SearchNetwork& net, Sgd& weight_optimizer,
                                  const Tensor& train_images, const Tensor& train_labels,
                                  double grad_clip, const std::string& where = "");

// The two halves of search_step, shared with the graph-replayed step (darts/tasks/captured_step.h).
// The weight pass: zero the weights' gradients, forward with the current α, backward; the loss
// [1] and the logits stay on the device (no host sync: capturable).
struct WeightPass {
  Tensor loss, logits;
};
WeightPass weight_pass(SearchNetwork& net, const Tensor& train_images, const Tensor& train_labels);
// Clip (on the device), SGD step, then the step's one host sync: reads and checks the losses
// and the gradient norm, counts correct predictions.
SearchStepResult finish_weight_step(SearchNetwork& net, Sgd& weight_optimizer,
                                    const WeightPass& pass, const Tensor& alpha_loss,
                                    const Tensor& train_labels, double grad_clip,
                                    const std::string& where);

struct SearchOutcome {
  std::filesystem::path run_dir;
  CnnGenotype genotype;                   // from α after the last epoch
  CnnGenotype genotype_last_epoch_start;  // the official script's last logged genotype
  int64_t epochs_done = 0;
  bool finished = false;  // false when stopped early (RunOptions::stop_after_epochs)
  double valid_accuracy = 0;
};

// A new run in `run_dir` on `data` (the whole data set; config.subset applies here).
SearchOutcome run_search(const SearchRunConfig& config, const data::ImageData& data,
                         const std::filesystem::path& run_dir, const RunOptions& options = {});
// Continues the run in `run_dir` exactly from its last checkpoint. `data` must be the data set
// named by its config.json.
SearchOutcome resume_search(const std::filesystem::path& run_dir, const data::ImageData& data,
                            const RunOptions& options = {});

}  // namespace autonet::darts
