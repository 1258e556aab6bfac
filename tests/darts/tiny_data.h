// Tiny synthetic image data sets and temporary run folders for the trainer tests.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/checkpoint.h"
#include "datasets/image_dataset.h"
#include "runtime/philox.h"

namespace autonet::test {

// `train` + `test` images of `channels`×size×size, `classes` classes; the class shows as a
// brighter band of rows so that a tiny network can learn something.
inline data::ImageData tiny_images(int64_t train, int64_t test, int64_t size, int64_t channels = 1,
                                   int64_t classes = 3, uint64_t seed = 5) {
  data::ImageData d;
  d.name = "tiny";
  d.num_classes = classes;
  auto make = [&](int64_t n, uint64_t s) {
    data::ImageSet set{Tensor::empty({n, channels, size, size}, DType::u8),
                       Tensor::empty({n}, DType::i64)};
    uint8_t* x = set.images.data<uint8_t>();
    int64_t* y = set.labels.data<int64_t>();
    const PhiloxKey key{s, 3, 0};
    for (int64_t i = 0; i < n; ++i) {
      y[i] = static_cast<int64_t>(philox_bits(key, 2 * i) % classes);
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t r = 0; r < size; ++r)
          for (int64_t q = 0; q < size; ++q) {
            const int64_t k = ((i * channels + c) * size + r) * size + q;
            const bool band = r * classes / size == y[i];
            x[k] = static_cast<uint8_t>((philox_bits(key, 1000 + k) % 100) + (band ? 120 : 0));
          }
    }
    return set;
  };
  d.train = make(train, seed);
  d.test = make(test, seed + 1);
  d.mean.assign(channels, 0.4f);
  d.std.assign(channels, 0.25f);
  return d;
}

// A fresh folder under the test temp dir, removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::path(::testing::TempDir()) /
              (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every tensor of two checkpoints equal bit for bit.
inline void expect_same_checkpoint_tensors(const std::filesystem::path& a,
                                           const std::filesystem::path& b) {
  const Checkpoint ca = read_checkpoint(a), cb = read_checkpoint(b);
  ASSERT_EQ(ca.tensors.size(), cb.tensors.size());
  for (const auto& [name, t] : ca.tensors) {
    ASSERT_TRUE(cb.tensors.count(name)) << name;
    const Tensor& u = cb.tensors.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    ASSERT_EQ(t.nbytes(), u.nbytes()) << name;
    EXPECT_EQ(std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()), 0) << name << " differs";
  }
}

// The log records without the fields that measure time.
inline std::vector<nlohmann::json> log_without_timing(const std::filesystem::path& log) {
  std::vector<nlohmann::json> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    for (const char* key : {"images_per_s", "seconds"}) j.erase(key);
    out.push_back(j);
  }
  return out;
}

// Rewrites the trainer's state in a checkpoint (a constructed history, a forgotten best).
inline void edit_checkpoint_state(const std::filesystem::path& checkpoint,
                                  const std::function<void(nlohmann::json&)>& edit) {
  Checkpoint c = read_checkpoint(checkpoint);
  edit(c.state);
  std::vector<NamedTensor> tensors;
  for (const auto& [name, t] : c.tensors) tensors.push_back({name, t});
  save_checkpoint(checkpoint, tensors, c.state);
}

}  // namespace autonet::test
