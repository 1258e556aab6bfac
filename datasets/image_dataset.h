// Image classification data in memory: u8 pixels [N, C, H, W] and i64 labels [N], as read from
// the files (no scaling), plus the per-channel normalisation constants the transforms use.
#pragma once
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace autonet::data {

struct ImageSet {
  Tensor images;  // u8 [N, C, H, W], contiguous, on the CPU
  Tensor labels;  // i64 [N], each in [0, num_classes)
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
};

struct ImageData {
  std::string name;  // "cifar10", "fashion-mnist", ...
  ImageSet train, test;
  int64_t num_classes = 0;
  std::vector<float> mean, std;  // per channel, of pixels scaled to [0, 1]
};

// Per-channel mean and (population) standard deviation of images/255: the normalisation
// constants for data sets whose reference gives none.
void channel_stats(const Tensor& images, std::vector<float>* mean, std::vector<float>* std);

}  // namespace autonet::data
