#include "datasets/idx.h"

#include <cstdio>
#include <cstring>

#include "datasets/file_io.h"

namespace autonet::data {
namespace {

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// What an IDX file of u8 items starts with: the magic number and one big-endian size per dimension.
struct IdxHeader {
  const char* kind;    // "image" or "label"
  uint32_t magic;      // 0x0000080D: u8 items (08), D dimensions
  int64_t bytes;       // 4 + 4·D
  const char* layout;  // for the bad-magic message
};
constexpr IdxHeader kImageHeader{"image", 0x00000803, 16, "IDX u8 images with 3 dimensions"};
constexpr IdxHeader kLabelHeader{"label", 0x00000801, 8, "IDX u8 labels with 1 dimension"};

// The file's bytes, its header checked to be long enough and to hold the expected magic number.
std::vector<uint8_t> read_idx_file(const fs::path& path, const IdxHeader& header) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  const int64_t size = static_cast<int64_t>(bytes.size());
  AN_CHECK(size >= header.bytes) << path.string() << ": truncated IDX " << header.kind
                                 << " header (" << size << " bytes, need " << header.bytes << ")";
  const uint32_t magic = read_be32(bytes.data());
  AN_CHECK(magic == header.magic) << path.string() << ": bad magic number " << hex(magic)
                                  << ", expected " << hex(header.magic) << " (" << header.layout
                                  << ")";
  return bytes;
}

// The spellings an IDX file goes by once downloaded and perhaps unpacked.
std::vector<std::string> idx_names(const std::string& prefix, const std::string& kind) {
  std::vector<std::string> names;
  for (const char* sep : {"-", "."})
    for (const char* ext : {"", ".gz"}) names.push_back(prefix + sep + kind + "-ubyte" + ext);
  return names;
}

}  // namespace

Tensor read_idx_images(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_idx_file(path, kImageHeader);
  const int64_t size = static_cast<int64_t>(bytes.size());
  const int64_t n = read_be32(bytes.data() + 4), rows = read_be32(bytes.data() + 8),
                cols = read_be32(bytes.data() + 12);
  AN_CHECK(n > 0 && rows > 0 && cols > 0 && rows <= 4096 && cols <= 4096)
      << path.string() << ": implausible IDX dimensions " << n << " x " << rows << " x " << cols;
  const int64_t expected = 16 + n * rows * cols;
  AN_CHECK(size == expected) << path.string() << ": wrong size " << size << " bytes; the header ("
                             << n << " images of " << rows << "x" << cols << ") needs " << expected
                             << (size < expected ? " (truncated)" : " (trailing bytes)");
  Tensor images = Tensor::empty({n, 1, rows, cols}, DType::u8);
  std::memcpy(images.data<uint8_t>(), bytes.data() + 16, n * rows * cols);
  return images;
}

Tensor read_idx_labels(const fs::path& path, int num_classes) {
  const std::vector<uint8_t> bytes = read_idx_file(path, kLabelHeader);
  const int64_t size = static_cast<int64_t>(bytes.size());
  const int64_t n = read_be32(bytes.data() + 4);
  AN_CHECK(n > 0) << path.string() << ": IDX label file declares 0 labels";
  AN_CHECK(size == 8 + n) << path.string() << ": wrong size " << size << " bytes; the header ("
                          << n << " labels) needs " << 8 + n
                          << (size < 8 + n ? " (truncated)" : " (trailing bytes)");
  Tensor labels = Tensor::empty({n}, DType::i64);
  int64_t* out = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int label = bytes[8 + i];
    AN_CHECK(label < num_classes) << path.string() << ": label " << i << " is " << label
                                  << ", out of range [0, " << num_classes << ")";
    out[i] = label;
  }
  return labels;
}

ImageData read_idx_dataset(const fs::path& dir, const std::string& name,
                           const std::string& how_to_get) {
  require_folder(dir, name, how_to_get);
  auto split = [&](const std::string& prefix) {
    const fs::path images_path = find_file(dir, idx_names(prefix + "-images", "idx3"), name, how_to_get);
    const fs::path labels_path = find_file(dir, idx_names(prefix + "-labels", "idx1"), name, how_to_get);
    ImageSet set{read_idx_images(images_path), read_idx_labels(labels_path, 10)};
    AN_CHECK(set.images.size(0) == set.labels.size(0))
        << name << ": " << images_path.string() << " holds " << set.images.size(0)
        << " images but " << labels_path.string() << " holds " << set.labels.size(0) << " labels";
    return set;
  };
  ImageData data;
  data.name = name;
  data.num_classes = 10;
  data.train = split("train");
  data.test = split("t10k");
  channel_stats(data.train.images, &data.mean, &data.std);
  return data;
}

}  // namespace autonet::data
