// One whole DARTS search step end to end (darts::search_step: the α step, then the weight step),
// first and second order, for the default search config (C=16, L=8, batch 64 of 32×32×3) and the
// reduced config of scripts/run (C=8, L=5, batch 32 of 28×28×1, Fashion-MNIST's size). Reports ms
// per step, images/s (train images per second; a step also reads as many validation images) and
// the device's peak memory during the timed steps.
//
//   build/bench/bench_search_step                       # all rows (CPU default rows: minutes)
//   build/bench/bench_search_step --benchmark_filter=reduced
// Arguments: device (0 = CPU, 1 = CUDA), order (1 or 2), config (0 = default, 1 = reduced).
#include <benchmark/benchmark.h>

#include <memory>

#include "autograd/optimizer.h"
#include "bench/bench_util.h"
#include "darts/architect.h"
#include "darts/search_model.h"
#include "darts/search_trainer.h"

namespace autonet::bench {
namespace {

struct StepShape {
  const char* name;
  int64_t channels, layers, batch, image_channels, size;
};
constexpr StepShape kShapes[] = {
    {"default", 16, 8, 64, 3, 32},
    {"reduced", 8, 5, 32, 1, 28},
};

void BM_SearchStep(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const bool unrolled = state.range(1) == 2;
  const StepShape& shape = kShapes[state.range(2)];
  state.SetLabel(std::string(shape.name) + (unrolled ? " second order" : " first order"));

  ParameterStore weights(2), alphas(3);
  darts::SearchConfig config;
  config.channels = shape.channels;
  config.layers = shape.layers;
  config.input_channels = shape.image_channels;
  darts::SearchNetwork net(config, weights, alphas);
  weights.to(device);
  alphas.to(device);
  SgdOptions sgd_options;
  sgd_options.lr = 0.025;
  sgd_options.momentum = 0.9;
  sgd_options.weight_decay = 3e-4;
  Sgd sgd(weights.weights(), weights.grads(), sgd_options);
  darts::ArchitectConfig arch;
  arch.unrolled = unrolled;
  darts::Architect architect(net, sgd, arch);

  const Shape image{shape.batch, shape.image_channels, shape.size, shape.size};
  const Tensor xt = random_tensor(image, device, 11), xv = random_tensor(image, device, 12);
  std::vector<int64_t> labels(static_cast<size_t>(shape.batch));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  const Tensor yt = Tensor::from_vector(labels, {shape.batch}).to(device);
  std::rotate(labels.begin(), labels.begin() + 3, labels.end());
  const Tensor yv = Tensor::from_vector(labels, {shape.batch}).to(device);

  run_steps(state, device, [&] { darts::search_step(net, architect, sgd, xt, yt, xv, yv, 5.0); },
            "images/s", static_cast<double>(shape.batch));
}

void rows_on(benchmark::internal::Benchmark* b, int64_t dev) {
  b->ArgNames({"dev", "order", "config"});
  for (int64_t config : {0, 1})
    for (int64_t order : {1, 2}) b->Args({dev, order, config});
}

// A CPU step of the default config takes a minute or more: one timed step (after the warm-up).
BENCHMARK(BM_SearchStep)
    ->Apply([](benchmark::internal::Benchmark* b) { rows_on(b, 0); })
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK(BM_SearchStep)
    ->Apply([](benchmark::internal::Benchmark* b) { rows_on(b, 1); })
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(20);

}  // namespace
}  // namespace autonet::bench
