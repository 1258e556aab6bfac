#include "datasets/cifar.h"

#include <cstring>

#include "datasets/file_io.h"

namespace autonet::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

const char* kCifar10HowTo =
    "Get the CIFAR-10 binary version from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, "
    "extract it, and pass the cifar-10-batches-bin folder (or its parent) as the data folder.";
const char* kCifar100HowTo =
    "Get the CIFAR-100 binary version from "
    "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz, extract it, and pass the "
    "cifar-100-binary folder (or its parent) as the data folder.";

// The folder holding `probe`: `dir` itself or its archive subfolder.
fs::path locate(const fs::path& dir, const std::string& subfolder, const std::string& probe,
                const std::string& what, const std::string& how_to_get) {
  require_folder(dir, what, how_to_get);
  std::error_code ec;
  if (!fs::exists(dir / probe, ec) && fs::is_directory(dir / subfolder, ec)) return dir / subfolder;
  return dir;
}

ImageSet concat(const std::vector<ImageSet>& parts) {
  int64_t n = 0;
  for (const ImageSet& p : parts) n += p.size();
  ImageSet out{Tensor::empty({n, 3, 32, 32}, DType::u8), Tensor::empty({n}, DType::i64)};
  int64_t at = 0;
  for (const ImageSet& p : parts) {
    std::memcpy(out.images.data<uint8_t>() + at * kPixels, p.images.data<uint8_t>(),
                p.size() * kPixels);
    std::memcpy(out.labels.data<int64_t>() + at, p.labels.data<int64_t>(),
                p.size() * sizeof(int64_t));
    at += p.size();
  }
  return out;
}

}  // namespace

ImageSet read_cifar_file(const fs::path& path, int label_bytes, int num_classes) {
  AN_CHECK(label_bytes == 1 || label_bytes == 2) << "CIFAR label bytes must be 1 or 2";
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const int64_t record = label_bytes + kPixels;
  const int64_t size = static_cast<int64_t>(bytes.size());
  AN_CHECK(size > 0) << path.string() << ": empty file (expected records of " << record
                     << " bytes)";
  AN_CHECK(size % record == 0)
      << path.string() << ": wrong size " << size << " bytes, not a whole number of " << record
      << "-byte records (" << size / record << " full records and a truncated one of "
      << size % record << " bytes)";
  const int64_t n = size / record;
  ImageSet set{Tensor::empty({n, 3, 32, 32}, DType::u8), Tensor::empty({n}, DType::i64)};
  uint8_t* images = set.images.data<uint8_t>();
  int64_t* labels = set.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    const int label = r[label_bytes - 1];  // CIFAR-100: byte 0 coarse, byte 1 fine
    AN_CHECK(label < num_classes) << path.string() << ": record " << i << " has label " << label
                                  << ", out of range [0, " << num_classes << ")";
    if (label_bytes == 2) {
      AN_CHECK(r[0] < 20) << path.string() << ": record " << i << " has coarse label "
                          << int{r[0]} << ", out of range [0, 20)";
    }
    labels[i] = label;
    std::memcpy(images + i * kPixels, r + label_bytes, kPixels);  // already R, G, B planes
  }
  return set;
}

ImageData read_cifar10(const fs::path& dir) {
  const fs::path folder =
      locate(dir, "cifar-10-batches-bin", "data_batch_1.bin", "cifar10", kCifar10HowTo);
  std::vector<ImageSet> batches;
  for (int b = 1; b <= 5; ++b) {
    const std::string name = "data_batch_" + std::to_string(b) + ".bin";
    batches.push_back(read_cifar_file(find_file(folder, {name}, "cifar10", kCifar10HowTo), 1, 10));
  }
  ImageData data;
  data.name = "cifar10";
  data.num_classes = 10;
  data.train = concat(batches);
  data.test = read_cifar_file(find_file(folder, {"test_batch.bin"}, "cifar10", kCifar10HowTo), 1, 10);
  data.mean = {0.49139968f, 0.48215827f, 0.44653124f};
  data.std = {0.24703233f, 0.24348505f, 0.26158768f};
  return data;
}

ImageData read_cifar100(const fs::path& dir) {
  const fs::path folder = locate(dir, "cifar-100-binary", "train.bin", "cifar100", kCifar100HowTo);
  ImageData data;
  data.name = "cifar100";
  data.num_classes = 100;
  data.train = read_cifar_file(find_file(folder, {"train.bin"}, "cifar100", kCifar100HowTo), 2, 100);
  data.test = read_cifar_file(find_file(folder, {"test.bin"}, "cifar100", kCifar100HowTo), 2, 100);
  channel_stats(data.train.images, &data.mean, &data.std);
  return data;
}

}  // namespace autonet::data
