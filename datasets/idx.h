// MNIST and Fashion-MNIST IDX files (http://yann.lecun.com/exdb/mnist/), plain or gzip.
//   images: magic 0x00000803 (u8, 3 dims), big-endian counts N, rows, cols, then N·rows·cols bytes
//   labels: magic 0x00000801 (u8, 1 dim), big-endian count N, then N bytes
#pragma once
#include <filesystem>

#include "datasets/image_dataset.h"

namespace autonet::data {

Tensor read_idx_images(const std::filesystem::path& path);  // u8 [N, 1, rows, cols]
Tensor read_idx_labels(const std::filesystem::path& path, int num_classes);  // i64 [N]

// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte in `dir`, each plain or .gz (also the "train-images.idx3-ubyte"
// spelling). `name` ("mnist", "fashion-mnist") names the set in errors; `how_to_get` says where
// to get it. Mean/std are computed from the training images.
ImageData read_idx_dataset(const std::filesystem::path& dir, const std::string& name,
                           const std::string& how_to_get);

}  // namespace autonet::data
