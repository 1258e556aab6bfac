// The images a training run reads (reference darts.md §5): its training images (--subset) and the
// set it evaluates after every epoch — the test images or a held-out part of the training images.
#pragma once
#include <string>
#include <vector>

#include "darts/tasks/train_config.h"
#include "datasets/image_dataset.h"

namespace autonet::darts {

// The images a run trains on and those it evaluates on after every epoch: the test images
// (--test-subset), or with valid_portion > 0 the held-out part of the training images.
struct RunImages {
  data::ImageSet train, eval;
  std::vector<int64_t> train_indices, eval_indices;
  std::string eval_set;  // "test", or "valid" (held out of the training images)
};
RunImages run_images(const TrainRunConfig& c, const data::ImageData& data);

}  // namespace autonet::darts
