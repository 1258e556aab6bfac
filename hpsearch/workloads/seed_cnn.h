// Training workloads for hpsearch trials (registered by register_training_workloads(),
// hpsearch/workloads/training_workloads.h):
//
// "seed-cnn": the seed notebook's VGG-style CNN, made honest (reference/hpsearch.md §1.1):
//   3 × [Conv3×3(c)+ReLU, Conv3×3(c)+ReLU, MaxPool2, Dropout(d_b)] with c = 32, 64, 128 (× width),
//   Flatten, Dense(128)+ReLU, Dropout(d_3), Dense(classes); SGD with momentum; an L2 penalty
//   k_i·Σw² on each of the 7 weight layers added to the TRAINING loss only. The objective is the
//   cross-entropy on a held-out validation split of the training set (never the test set),
//   without the L2 term; "accuracy" and "train_loss" are reported as metrics, once per epoch.
//
//   Trial parameters (all optional): lr (0.01), momentum (workload's, 0.9), dropout or
//   dropout0..dropout3 (0.25), l2 or l2_0..l2_6 (0).
//   Workload config: {"name": "seed-cnn", "dataset": "fashion-mnist" | "cifar10" | ...,
//     "data_dir": "", "epochs": 10, "batch_size": 64, "valid_portion": 0.1, "train_size": 0,
//     "valid_size": 0 (0 = the whole split), "width": 1.0, "momentum": 0.9, "split_seed": 2}
//
// Deliberate differences from the notebook: PyTorch-style uniform init (autograd/modules.h)
// instead of Keras' he_uniform; inputs normalised with the data set's per-channel constants
// instead of /255 only; momentum is searched when the space has it, epochs come from the config.
#pragma once
#include <memory>

#include "hpsearch/workload.h"

namespace autonet::hpsearch {

std::unique_ptr<TrialWorkload> make_seed_cnn_workload(const Json& config);

}  // namespace autonet::hpsearch
