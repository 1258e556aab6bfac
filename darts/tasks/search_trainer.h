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

#include "darts/genotype/genotype.h"
#include "darts/tasks/search_config.h"
#include "darts/tasks/search_step.h"
#include "darts/tasks/trainer_common.h"
#include "datasets/image_dataset.h"

namespace autonet::darts {

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
