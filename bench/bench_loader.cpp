// Images per second of the data loader alone (no model): one epoch per iteration over a
// synthetic set of CIFAR-10 (3×32×32) or Fashion-MNIST (1×28×28) shape, with DARTS's training
// transform plus cutout (the most work per image), batch 64.
// Args: {shape: 0 = CIFAR, 1 = Fashion-MNIST; workers (0 = assembled on the calling thread);
//        device: 0 = CPU pinned host batches, 1 = CUDA (copied by the workers)}.
// JPEG rows: an image folder of 256 synthetic 500×375 JPEGs (ImageNet's typical size, quality
// 90), decoded by the loader threads: BM_JpegDecode decodes only (one thread: images/s per
// core); BM_JpegFolderEpoch is a whole epoch with the ImageNet training (random resized crop,
// flip, colour jitter) or test (resize, centre crop) transform to 224×224.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <numeric>

#include "datasets/file_io.h"
#include "datasets/image_codec.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "runtime/device.h"

namespace autonet::data {
namespace {

ImageSet synthetic(int64_t n, int64_t c, int64_t hw) {
  ImageSet set{Tensor::empty({n, c, hw, hw}, DType::u8), Tensor::empty({n}, DType::i64)};
  uint8_t* px = set.images.data<uint8_t>();
  for (int64_t i = 0; i < set.images.numel(); ++i) px[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  for (int64_t i = 0; i < n; ++i) set.labels.data<int64_t>()[i] = i % 10;
  return set;
}

void BM_LoaderEpoch(benchmark::State& state) {
  const bool cifar = state.range(0) == 0;
  const int workers = static_cast<int>(state.range(1));
  LoaderConfig config;
  if (state.range(2) == 1) {
    std::string why;
    if (!cuda_available(&why)) {
      state.SkipWithError(("CUDA benchmark skipped: " + why).c_str());
      return;
    }
    config.device = Device::cuda(0);
  }
  const int64_t n = 10000, channels = cifar ? 3 : 1;
  const ImageSet set = synthetic(n, channels, cifar ? 32 : 28);
  config.batch_size = 64;
  config.workers = workers;
  config.prefetch = 8;
  config.transform = TransformConfig{4, true, std::vector<float>(channels, 0.45f),
                                     std::vector<float>(channels, 0.25f), 16};
  std::vector<int64_t> indices(n);
  std::iota(indices.begin(), indices.end(), 0);
  uint64_t epoch = 0;
  for (auto _ : state) {
    Loader loader(set, indices, config, epoch++);
    while (auto batch = loader.next()) benchmark::DoNotOptimize(batch->images.raw_data());
  }
  state.SetItemsProcessed(state.iterations() * n);  // printed as items_per_second = images/s
  state.counters["workers"] = workers;
}

BENCHMARK(BM_LoaderEpoch)
    ->ArgNames({"fmnist", "workers", "cuda"})
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {0}})
    ->Args({0, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(0.5);

// A folder of 256 photo-like JPEGs (smooth gradients plus grain), written once per process and
// removed at exit.
struct TempFolder {
  std::filesystem::path path;
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const std::filesystem::path& jpeg_folder() {
  static const TempFolder folder{[] {
    std::string pattern = (std::filesystem::temp_directory_path() / "autonet-jpeg-XXXXXX").string();
    const std::filesystem::path made = mkdtemp(pattern.data());
    const int64_t h = 375, w = 500, n = 256;
    std::vector<uint8_t> px(static_cast<size_t>(h * w * 3));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          for (int64_t c = 0; c < 3; ++c) {
            const uint32_t grain = static_cast<uint32_t>((y * w + x) * 2654435761u + c + i) >> 27;
            px[(y * w + x) * 3 + c] = static_cast<uint8_t>((x * (c + 1) + y * (3 - c) + 9 * i) / 4 + grain);
          }
      const std::filesystem::path cls = made / ("class" + std::to_string(i % 4));
      std::filesystem::create_directories(cls);
      write_jpeg(cls / (std::to_string(i) + ".jpg"), px.data(), h, w, 3, 90);
    }
    return made;
  }()};
  return folder.path;
}

void BM_JpegDecode(benchmark::State& state) {
  const FolderListing list = list_image_folder(jpeg_folder());
  std::vector<std::vector<uint8_t>> files;
  for (const std::string& p : list.paths) files.push_back(read_raw_bytes(p));
  size_t i = 0;
  for (auto _ : state) {
    const std::vector<uint8_t>& f = files[i++ % files.size()];
    benchmark::DoNotOptimize(decode_image(f.data(), f.size(), "bench").pixels.data());
  }
  state.SetItemsProcessed(state.iterations());  // images/s on one core
}
BENCHMARK(BM_JpegDecode)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_JpegFolderEpoch(benchmark::State& state) {
  FolderOptions options;
  options.image_size = 224;
  const ImageData data = read_image_folder(jpeg_folder(), options);
  const bool train = state.range(0) == 1;
  const int workers = static_cast<int>(state.range(1));
  LoaderConfig config;
  config.batch_size = 64;
  config.workers = workers;
  config.prefetch = 8;
  config.transform = train ? train_transform(data) : test_transform(data);
  std::vector<int64_t> indices(static_cast<size_t>(data.train.size()));
  std::iota(indices.begin(), indices.end(), 0);
  uint64_t epoch = 0;
  for (auto _ : state) {
    Loader loader(data.train, indices, config, epoch++);
    while (auto batch = loader.next()) benchmark::DoNotOptimize(batch->images.raw_data());
  }
  state.SetItemsProcessed(state.iterations() * data.train.size());
  state.counters["workers"] = workers;
}
BENCHMARK(BM_JpegFolderEpoch)
    ->ArgNames({"train", "workers"})
    ->ArgsProduct({{1, 0}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace
}  // namespace autonet::data
