// Image classification data: i64 labels [N] and the images, either in memory as u8 pixels
// [N, C, H, W] as read from the files (no scaling), or as a list of image files that the loader
// decodes (image folders at ImageNet scale); plus the per-channel normalisation constants the
// transforms use.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace autonet::data {

// Images kept as files and decoded in the loader threads: the transforms cut a size×size RGB
// square out of each (datasets/photo_transform.h).
struct ImageFiles {
  std::vector<std::string> paths;  // in data set order
  int64_t size = 0;                // side of the square the network sees
};

struct ImageSet {
  Tensor images;  // u8 [N, C, H, W], contiguous, on the CPU; undefined when `files` holds them
  Tensor labels;  // i64 [N], each in [0, num_classes)
  std::shared_ptr<const ImageFiles> files = nullptr;  // the images as files (paths[i] for label i)
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  // The shape of one image as the network sees it.
  int64_t channels() const { return files ? 3 : images.size(1); }
  int64_t height() const { return files ? files->size : images.size(2); }
  int64_t width() const { return files ? files->size : images.size(3); }
};

struct ImageData {
  std::string name;  // "cifar10", "fashion-mnist", "folder", ...
  ImageSet train, test;
  int64_t num_classes = 0;
  std::vector<float> mean, std;  // per channel, of pixels scaled to [0, 1]
  std::vector<std::string> class_names;     // image folders: the class folders, label order
  std::vector<std::string> skipped_images;  // image folders: "path: why" of each skipped file
};

// Counts of each byte value per channel: exact sums for the mean and standard deviation,
// whatever the order (or the thread) pixels are added in.
struct ChannelHistogram {
  explicit ChannelHistogram(int64_t channels) : counts(static_cast<size_t>(channels)) {}
  std::vector<std::array<int64_t, 256>> counts;  // zero-initialised
  void merge(const ChannelHistogram& other);
  // Per-channel mean and (population) standard deviation of the values / 255.
  void stats(std::vector<float>* mean, std::vector<float>* std) const;
};

// Per-channel mean and (population) standard deviation of images/255: the normalisation
// constants for data sets whose reference gives none.
void channel_stats(const Tensor& images, std::vector<float>* mean, std::vector<float>* std);

}  // namespace autonet::data
