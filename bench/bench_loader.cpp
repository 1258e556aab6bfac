// Images per second of the data loader alone (no model): one epoch per iteration over a
// synthetic set of CIFAR-10 (3×32×32) or Fashion-MNIST (1×28×28) shape, with DARTS's training
// transform plus cutout (the most work per image), batch 64.
// Args: {shape: 0 = CIFAR, 1 = Fashion-MNIST; workers (0 = assembled on the calling thread);
//        device: 0 = CPU pinned host batches, 1 = CUDA (copied by the workers)}.
#include <benchmark/benchmark.h>

#include <numeric>

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

}  // namespace
}  // namespace autonet::data
