// Evaluating a saved CNN training run, as the official test.py and test_imagenet.py do: the
// network of the run's config and genotype with the weights of its checkpoint (the last
// completed epoch: the only one a run keeps), the test transform, no drop path, no auxiliary
// head; top-1 and top-5 accuracy and the mean cross-entropy over a whole split.
#pragma once
#include <filesystem>
#include <string>

#include "datasets/image_dataset.h"
#include "run/evaluation.h"
#include "runtime/device.h"

namespace autonet::darts {

struct EvalOptions {
  std::string split = "test";  // "test" or "train" (every image of it, in data set order)
  Device device = Device::cpu();
  int64_t batch_size = 0;      // 0: the run's batch size
  int workers = 2;             // loader threads
};

struct RunEvaluation {
  std::filesystem::path checkpoint;
  int64_t epochs = 0;  // completed epochs the checkpoint holds
  run::EvalResult result;
};

// `data` is the data set to evaluate on (the run's, or another with the same classes and image
// shape). Errors name the folder: not a CNN training run, no checkpoint, classes or image shape
// that differ from the run's, a checkpoint that does not fit the network.
RunEvaluation evaluate_cnn_run(const std::filesystem::path& run_dir, const data::ImageData& data,
                               const EvalOptions& options);

}  // namespace autonet::darts
