// "darts-search": one DARTS architecture search (darts/tasks/search_trainer.h, run_search) per
// trial.
//
// Trial parameters are SearchRunConfig fields by their config names — the `autonet search`
// flags with underscores: learning_rate, weight_decay, momentum, learning_rate_min, grad_clip,
// arch_learning_rate, arch_weight_decay, arch_beta1/2, channels, layers, nodes, multiplier,
// stem_multiplier, batch_size, epochs, subset, train_portion, cutout, cutout_length, unrolled.
// The workload config holds the fixed settings (any of those fields plus dataset, data_dir,
// workers, log_every); the trial's seed and device come from the runner.
//
//   {"name": "darts-search", "objective": "valid_loss" | "valid_error" | "derived_valid_loss" |
//    "derived_valid_error", "runs_dir": "", "derived": {"epochs": 2, ...},
//    "dataset": "fashion-mnist", "subset": 512, "epochs": 2, "channels": 4, "layers": 3, ...}
//
// Objective: the supernet's validation metric after the last epoch — cross-entropy
// ("valid_loss", default) or 1 − accuracy ("valid_error") of the search network in eval mode on
// the search's validation split (the α half of the training images, as DARTS' own valid_acc).
// The test set is never used. Every epoch reports that value to the pruner, with metrics
// accuracy, train_loss and train_acc; the result adds the genotype and the parameter count.
//
// "derived_valid_loss" / "derived_valid_error" score the derived genotype instead: after the
// search it is trained from scratch (darts/tasks/train_trainer.h) on the trial's data, subset, seed
// and device with valid_portion > 0 (held-out training images, never the test set), with the
// settings of the "derived" object over small defaults (derived_settings). The pruner still sees
// the supernet's metric each epoch — the derived network exists only at the end — while the
// trial's value is the derived network's; the result adds derived_accuracy, derived_valid_loss
// and derived_parameters.
//
// Per-epoch reports go through the trainer's own exact resume: run_search stops after each
// epoch (RunOptions::stop_after_epochs = 1) and resume_search continues it bit-identically, so a
// pruned trial simply is not resumed. The run folder lives in a temporary directory removed
// afterwards, or in runs_dir/trial-N when "runs_dir" is set (kept: genotype, report.html, ...).
//
// check_darts_search_space (the workload's checker, run by `autonet hpsearch create`) rejects a
// parameter the search does not have, one also given as a fixed setting, the wrong type (an int
// field needs an int or a categorical of integers), odd channel counts (FactorizedReduce halves
// them: give channels as a categorical of even numbers), and any bound, default or choice the
// search itself would refuse (layers < 3, momentum ≥ 1, ...), and a "derived" object that
// `autonet train` would refuse, that sets what the trial gives, or that no objective uses.
#pragma once
#include <memory>

#include "hpsearch/workload.h"

namespace autonet::hpsearch {

std::unique_ptr<TrialWorkload> make_darts_search_workload(const Json& config);
void check_darts_search_space(const Json& config, const Space& space);

}  // namespace autonet::hpsearch
