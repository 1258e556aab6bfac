// CIFAR binary and IDX readers on small files written here in the exact formats, every corrupt
// case, and the real Fashion-MNIST of Debian's dataset-fashion-mnist.
#include <gtest/gtest.h>

#include "datasets/cifar.h"
#include "data_files.h"
#include "datasets/idx.h"
#include "datasets/registry.h"
#include "tests/optional_data.h"

namespace autonet::data {
namespace {

namespace fs = std::filesystem;
using testing::append_be32;
using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

uint8_t pixel(int64_t image, int64_t k) { return static_cast<uint8_t>((image * 31 + k * 7) % 256); }

// `n` CIFAR records; image i has label labels[i] and pixel k = pixel(first + i, k).
std::vector<uint8_t> cifar_records(const std::vector<int>& labels, int label_bytes,
                                   int64_t first = 0) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (label_bytes == 2) out.push_back(static_cast<uint8_t>(labels[i] % 20));  // coarse
    out.push_back(static_cast<uint8_t>(labels[i]));
    for (int64_t k = 0; k < 3072; ++k) out.push_back(pixel(first + i, k));
  }
  return out;
}

void write_cifar10(const fs::path& dir) {
  fs::create_directories(dir);
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                cifar_records({b, (b + 3) % 10}, 1, 2 * (b - 1)));
  write_bytes(dir / "test_batch.bin", cifar_records({9, 0, 4}, 1, 100));
}

TEST(Cifar10, ReadsRecordsInOrderWithPlanesAndLabels) {
  TempDir tmp;
  write_cifar10(tmp.path());
  const ImageData data = read_cifar10(tmp.path());
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_EQ(data.train.images.shape(), (Shape{10, 3, 32, 32}));
  EXPECT_EQ(data.test.images.shape(), (Shape{3, 3, 32, 32}));
  EXPECT_EQ(data.train.labels.to_vector<int64_t>(),
            (std::vector<int64_t>{1, 4, 2, 5, 3, 6, 4, 7, 5, 8}));
  EXPECT_EQ(data.test.labels.to_vector<int64_t>(), (std::vector<int64_t>{9, 0, 4}));
  // Byte k of a record's pixels is channel k/1024, row (k%1024)/32, column k%32.
  const uint8_t* px = data.train.images.data<uint8_t>();
  EXPECT_EQ(px[7 * 3072 + 1 * 1024 + 5 * 32 + 6], pixel(7, 1024 + 5 * 32 + 6));
  EXPECT_EQ(data.test.images.data<uint8_t>()[2 * 3072 + 2047], pixel(102, 2047));
  EXPECT_FLOAT_EQ(data.mean[0], 0.49139968f);
  EXPECT_FLOAT_EQ(data.std[2], 0.26158768f);
}

TEST(Cifar10, AcceptsTheArchiveParentFolder) {
  TempDir tmp;
  write_cifar10(tmp / "cifar-10-batches-bin");
  EXPECT_EQ(open_image_dataset("cifar10", tmp.path()).train.size(), 10);
  EXPECT_EQ(open_image_dataset("CIFAR-10", tmp.path()).test.size(), 3);
}

TEST(Cifar10, MissingFolderSaysHowToGetIt) {
  TempDir tmp;
  expect_error([&] { read_cifar10(tmp / "nowhere"); },
               {"nowhere", "does not exist", "cifar-10-binary.tar.gz"});
  expect_error([&] { open_image_dataset("cifar10", ""); }, {"no data folder", "cifar-10"});
}

TEST(Cifar10, MissingFileIsNamed) {
  TempDir tmp;
  write_cifar10(tmp.path());
  fs::remove(tmp / "data_batch_4.bin");
  expect_error([&] { read_cifar10(tmp.path()); }, {"data_batch_4.bin", "missing file"});
}

TEST(Cifar10, TruncatedRecordIsAnError) {
  TempDir tmp;
  write_cifar10(tmp.path());
  std::vector<uint8_t> bytes = cifar_records({1, 2}, 1);
  bytes.resize(bytes.size() - 100);
  write_bytes(tmp / "data_batch_2.bin", bytes);
  expect_error([&] { read_cifar10(tmp.path()); },
               {"data_batch_2.bin", "wrong size 6046", "3073-byte records", "truncated one of 2973"});
}

TEST(Cifar10, EmptyFileIsAnError) {
  TempDir tmp;
  write_cifar10(tmp.path());
  write_bytes(tmp / "test_batch.bin", {});
  expect_error([&] { read_cifar10(tmp.path()); }, {"test_batch.bin", "empty file"});
}

TEST(Cifar10, LabelOutOfRangeIsAnError) {
  TempDir tmp;
  write_cifar10(tmp.path());
  write_bytes(tmp / "data_batch_3.bin", cifar_records({3, 10}, 1));
  expect_error([&] { read_cifar10(tmp.path()); },
               {"data_batch_3.bin", "record 1 has label 10", "[0, 10)"});
}

TEST(Cifar100, ReadsFineLabelsAndComputesConstants) {
  TempDir tmp;
  fs::create_directories(tmp / "cifar-100-binary");
  write_bytes(tmp / "cifar-100-binary" / "train.bin", cifar_records({99, 42, 7}, 2));
  write_bytes(tmp / "cifar-100-binary" / "test.bin", cifar_records({5}, 2, 50));
  const ImageData data = read_cifar100(tmp.path());
  EXPECT_EQ(data.num_classes, 100);
  EXPECT_EQ(data.train.labels.to_vector<int64_t>(), (std::vector<int64_t>{99, 42, 7}));
  EXPECT_EQ(data.train.images.data<uint8_t>()[2 * 3072 + 10], pixel(2, 10));
  EXPECT_EQ(data.mean.size(), 3u);
  write_bytes(tmp / "cifar-100-binary" / "test.bin", cifar_records({100}, 2));
  expect_error([&] { read_cifar100(tmp.path()); }, {"test.bin", "label 100", "[0, 100)"});
}

// IDX files: images n×rows×cols with pixel(i, k); labels given.
std::vector<uint8_t> idx_images(int64_t n, int64_t rows, int64_t cols, uint32_t magic = 0x803) {
  std::vector<uint8_t> out;
  append_be32(out, magic);
  append_be32(out, static_cast<uint32_t>(n));
  append_be32(out, static_cast<uint32_t>(rows));
  append_be32(out, static_cast<uint32_t>(cols));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < rows * cols; ++k) out.push_back(pixel(i, k));
  return out;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels, uint32_t magic = 0x801) {
  std::vector<uint8_t> out;
  append_be32(out, magic);
  append_be32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void write_mnist(const fs::path& dir, bool gz) {
  auto put = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    write_bytes(dir / (name + (gz ? ".gz" : "")), gz ? testing::gzip(bytes) : bytes);
  };
  put("train-images-idx3-ubyte", idx_images(4, 5, 3));
  put("train-labels-idx1-ubyte", idx_labels({3, 1, 4, 1}));
  put("t10k-images-idx3-ubyte", idx_images(2, 5, 3));
  put("t10k-labels-idx1-ubyte", idx_labels({9, 2}));
}

TEST(Idx, ReadsPlainAndGzipFilesAlike) {
  for (bool gz : {false, true}) {
    TempDir tmp;
    write_mnist(tmp.path(), gz);
    const ImageData data = open_image_dataset("mnist", tmp.path());
    EXPECT_EQ(data.train.images.shape(), (Shape{4, 1, 5, 3}));
    EXPECT_EQ(data.test.images.shape(), (Shape{2, 1, 5, 3}));
    EXPECT_EQ(data.train.labels.to_vector<int64_t>(), (std::vector<int64_t>{3, 1, 4, 1}));
    EXPECT_EQ(data.test.labels.to_vector<int64_t>(), (std::vector<int64_t>{9, 2}));
    EXPECT_EQ(data.train.images.data<uint8_t>()[3 * 15 + 2 * 3 + 1], pixel(3, 7));
    // Mean of the 60 training bytes, by hand from pixel().
    double sum = 0;
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 15; ++k) sum += pixel(i, k);
    EXPECT_NEAR(data.mean[0], sum / 60 / 255, 1e-6);
  }
}

TEST(Idx, BadMagicNumberIsAnError) {
  TempDir tmp;
  write_mnist(tmp.path(), false);
  write_bytes(tmp / "train-images-idx3-ubyte", idx_images(4, 5, 3, 0x801));
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"train-images-idx3-ubyte", "bad magic number 0x00000801", "0x00000803"});
  write_mnist(tmp.path(), false);
  write_bytes(tmp / "t10k-labels-idx1-ubyte", idx_labels({9, 2}, 0x08010000));
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"t10k-labels-idx1-ubyte", "bad magic number 0x08010000"});
}

TEST(Idx, WrongSizesAreErrors) {
  TempDir tmp;
  write_mnist(tmp.path(), false);
  std::vector<uint8_t> images = idx_images(4, 5, 3);
  images.pop_back();
  write_bytes(tmp / "train-images-idx3-ubyte", images);
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"train-images-idx3-ubyte", "wrong size 75", "needs 76", "truncated"});
  images.push_back(0);
  images.push_back(0);
  write_bytes(tmp / "train-images-idx3-ubyte", images);
  expect_error([&] { open_image_dataset("mnist", tmp.path()); }, {"trailing bytes"});
  write_bytes(tmp / "train-images-idx3-ubyte", {0, 0, 8, 3, 0});
  expect_error([&] { open_image_dataset("mnist", tmp.path()); }, {"truncated IDX image header"});
  write_mnist(tmp.path(), false);
  write_bytes(tmp / "train-labels-idx1-ubyte", idx_labels({3, 1, 4}));
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"holds 4 images", "holds 3 labels"});
}

TEST(Idx, TruncatedGzipIsAnError) {
  TempDir tmp;
  write_mnist(tmp.path(), true);
  std::vector<uint8_t> gz = testing::gzip(idx_images(4, 5, 3));
  gz.resize(gz.size() / 2);
  write_bytes(tmp / "train-images-idx3-ubyte.gz", gz);
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"train-images-idx3-ubyte.gz", "truncated gzip"});
}

TEST(Idx, LabelOutOfRangeIsAnError) {
  TempDir tmp;
  write_mnist(tmp.path(), false);
  write_bytes(tmp / "t10k-labels-idx1-ubyte", idx_labels({9, 12}));
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"t10k-labels-idx1-ubyte", "label 1 is 12", "[0, 10)"});
}

TEST(Idx, MissingFolderAndFileSayHowToGetThem) {
  TempDir tmp;
  expect_error([&] { open_image_dataset("fashion-mnist", tmp / "absent"); },
               {"absent", "does not exist", "dataset-fashion-mnist"});
  write_mnist(tmp.path(), true);
  fs::remove(tmp / "t10k-images-idx3-ubyte.gz");
  expect_error([&] { open_image_dataset("mnist", tmp.path()); },
               {"missing file", "t10k-images-idx3-ubyte.gz", "yann.lecun.com"});
  expect_error([&] { open_image_dataset("imagenet", tmp.path()); },
               {"unknown image data set 'imagenet'", "cifar10"});
}

// The embedded default: Debian's dataset-fashion-mnist (scripts/install-deps installs it).
TEST(FashionMnist, LoadsFromTheDebianPackage) {
  AN_SKIP_WITHOUT_FASHION_MNIST();
  const ImageData data = open_image_dataset("fashion-mnist");
  EXPECT_EQ(data.train.images.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(data.test.images.shape(), (Shape{10000, 1, 28, 28}));
  // The first training image is an ankle boot (9), the first test image too.
  EXPECT_EQ(data.train.labels.data<int64_t>()[0], 9);
  EXPECT_EQ(data.test.labels.data<int64_t>()[0], 9);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t l : data.train.labels.to_vector<int64_t>()) ++per_class[l];
  for (int64_t c : per_class) EXPECT_EQ(c, 6000);
  // The set's well-known constants.
  EXPECT_NEAR(data.mean[0], 0.2860, 1e-3);
  EXPECT_NEAR(data.std[0], 0.3530, 1e-3);
}

}  // namespace
}  // namespace autonet::data
