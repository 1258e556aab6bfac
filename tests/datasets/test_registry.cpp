// A data set added through the registry (datasets/registry.h, register_image_dataset), as
// docs/architecture.md's "How to add a data set" describes: a reader of its own format, opened by
// name and folder like the built-in ones, listed among the known names.
#include <gtest/gtest.h>

#include <fstream>

#include "data_files.h"
#include "datasets/registry.h"
#include "runtime/error.h"

namespace autonet::data {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_text;

// The format of the new data set: <split>.txt, a line per 2×2 grey image, "label p0 p1 p2 p3".
ImageSet read_split(const std::filesystem::path& file) {
  std::ifstream in(file);
  AN_CHECK(in) << file.string()
               << ": cannot open (a 2x2 data set folder holds train.txt, test.txt)";
  std::vector<int64_t> labels;
  std::vector<uint8_t> pixels;
  for (int64_t label, p[4]; in >> label >> p[0] >> p[1] >> p[2] >> p[3];) {
    labels.push_back(label);
    for (int64_t v : p) pixels.push_back(static_cast<uint8_t>(v));
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  return {Tensor::from_vector(pixels, {n, 1, 2, 2}), Tensor::from_vector(labels, {n})};
}

ImageData read_2x2(const std::filesystem::path& dir, const FolderOptions&) {
  AN_CHECK(!dir.empty()) << "2x2: no data folder (pass --data-dir)";
  ImageData data;
  data.name = "2x2";
  data.train = read_split(dir / "train.txt");
  data.test = read_split(dir / "test.txt");
  data.num_classes = 2;
  data.mean = {0.5f};
  data.std = {0.5f};
  return data;
}

TEST(DatasetRegistry, ARegisteredImageDataSetOpensByNameLikeTheBuiltInOnes) {
  register_image_dataset("2x2", read_2x2);
  TempDir tmp;
  write_text(tmp / "train.txt", "0 0 0 0 0\n1 255 255 255 255\n1 200 210 220 230\n");
  write_text(tmp / "test.txt", "0 10 0 0 10\n");
  const ImageData data = open_image_dataset("2x2", tmp.path());
  EXPECT_EQ(data.train.size(), 3);
  EXPECT_EQ(data.test.size(), 1);
  EXPECT_EQ(data.train.images.to_vector<uint8_t>()[9], 210);
  EXPECT_EQ(data.train.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1}));

  const std::vector<std::string> names = image_dataset_names();
  EXPECT_EQ(names.back(), "2x2");
  expect_error([&] { open_image_dataset("3x3", tmp.path()); }, {"unknown image data set", "2x2"});
  expect_error([&] { open_image_dataset("2x2", tmp / "gone"); }, {"gone", "train.txt"});
  expect_error([&] { register_image_dataset("2x2", read_2x2); }, {"'2x2' exists already"});
  expect_error([&] { register_image_dataset("Tiny_Set", read_2x2); }, {"'tiny-set'"});
}

}  // namespace
}  // namespace autonet::data
