// CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html).
//   CIFAR-10:  data_batch_1.bin … data_batch_5.bin, test_batch.bin; records of 1 label byte +
//              3072 pixel bytes (1024 R, then 1024 G, then 1024 B, each row-major 32×32).
//   CIFAR-100: train.bin, test.bin; records of 2 label bytes (coarse, fine) + 3072 pixel bytes.
// `dir` is the folder holding the .bin files, or its parent holding cifar-10-batches-bin/
// (cifar-100-binary/), as the archives extract.
#pragma once
#include <filesystem>

#include "datasets/image_dataset.h"

namespace autonet::data {

// Reads one CIFAR binary file: every record checked (file size a whole number of records, labels
// in range). `label_bytes` is 1 (CIFAR-10) or 2 (CIFAR-100; the fine label is kept).
ImageSet read_cifar_file(const std::filesystem::path& path, int label_bytes, int num_classes);

// Training set: the five batches in order (50,000 images); test set: 10,000 images. Mean/std are
// the DARTS reference constants (reference/darts.md §5.4).
ImageData read_cifar10(const std::filesystem::path& dir);
// Fine labels (100 classes); mean/std computed from the training set.
ImageData read_cifar100(const std::filesystem::path& dir);

}  // namespace autonet::data
