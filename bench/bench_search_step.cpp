// One whole DARTS search step end to end (darts::search_step: the α step, then the weight step),
// first and second order, for the default search config (C=16, L=8, batch 64 of 32×32×3) and the
// reduced config of scripts/run (C=8, L=5, batch 32 of 28×28×1, Fashion-MNIST's size); and the
// PC-DARTS supernet (K = 4, edge normalisation) of the default config, first order, at batch 64
// (DARTS's) and 256 (the PC-DARTS recipe's, which its memory saving makes possible). Reports ms
// per step, images/s (train images per second; a step also reads as many validation images) and
// the device's peak memory during the timed steps, and the weights' parameter count (`params`,
// which the PyTorch peer bench/peers/darts_search_step.py must match).
//
//   build/bench/bench_search_step                       # all rows (CPU default rows: minutes)
//   build/bench/bench_search_step --benchmark_filter=reduced
// Arguments: device (0 = CPU, 1 = CUDA), order (1 or 2), config (0 = default, 1 = reduced,
// 2 = pc-darts, 3 = pc-darts-256), graph (1: the step replayed from CUDA graphs,
// darts/tasks/captured_step.h; CUDA only). BM_SearchStepOneStream (CUDA, first order, default
// and reduced): the same step with every kernel on the compute stream, where BM_SearchStep runs
// the weight gradients beside the input gradients on a side stream (runtime/side_stream.h).
#include <benchmark/benchmark.h>

#include <memory>

#include "autograd/optimizer.h"
#include "bench/bench_util.h"
#include "darts/cnn/architect.h"
#include "darts/cnn/search_model.h"
#include "darts/tasks/captured_step.h"
#include "darts/tasks/search_trainer.h"
#include "runtime/side_stream.h"

namespace autonet::bench {
namespace {

struct StepShape {
  const char* name;  // the peers' config name (bench/peers/darts_search_step.py)
  int64_t channels, layers, batch, image_channels, size;
  int64_t partial_channels = 1;  // > 1: the PC-DARTS supernet
};
constexpr StepShape kShapes[] = {
    {"default", 16, 8, 64, 3, 32},
    {"reduced", 8, 5, 32, 1, 28},
    {"pc-darts", 16, 8, 64, 3, 32, 4},
    {"pc-darts-256", 16, 8, 256, 3, 32, 4},
};

void BM_SearchStep(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const bool unrolled = state.range(1) == 2;
  const StepShape& shape = kShapes[state.range(2)];
  const bool graph = state.range(3) == 1;
  const std::string title = std::string(shape.name) +
                            (unrolled ? " second order" : " first order") +
                            (graph ? ", CUDA graphs" : "");
  state.SetLabel(title);

  ParameterStore weights(2), alphas(3);
  darts::SearchConfig config;
  config.channels = shape.channels;
  config.layers = shape.layers;
  config.input_channels = shape.image_channels;
  config.partial_channels = shape.partial_channels;
  config.edge_normalization = shape.partial_channels > 1;
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

  std::unique_ptr<darts::CapturedSearchStep> captured;
  if (graph) captured = std::make_unique<darts::CapturedSearchStep>(net, architect, sgd, 5.0);
  auto step = [&] {
    if (captured)
      captured->step(xt, yt, xv, yv);
    else
      darts::search_step(net, architect, sgd, xt, yt, xv, yv, 5.0);
  };
  // With graphs the warm-up is the eager first step and the capture; the graphs' pool is
  // counted on top of the allocator's peak (a few KiB of live outputs then count twice).
  run_steps(state, title, device, step, "images/s", static_cast<double>(shape.batch), graph ? 2 : 1,
            [&] { return captured ? captured->graph_pool_bytes() : size_t{0}; });
  state.counters["params"] = static_cast<double>(net.parameter_count());  // the peers check it
}

void BM_SearchStepOneStream(benchmark::State& state) {
  SideStreamsSwitch one_stream(false);
  BM_SearchStep(state);
}

void rows_on(benchmark::internal::Benchmark* b, int64_t dev) {
  b->ArgNames({"dev", "order", "config", "graph"});
  for (int64_t config : {0, 1, 2, 3}) {
    const bool pc_darts = kShapes[config].partial_channels > 1;  // first order, as its recipe
    for (int64_t order : {1, 2}) {
      if (order == 2 && pc_darts) continue;
      b->Args({dev, order, config, 0});
      if (dev == 1) b->Args({dev, order, config, 1});
    }
  }
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
BENCHMARK(BM_SearchStepOneStream)
    ->ArgNames({"dev", "order", "config", "graph"})
    ->ArgsProduct({{1}, {1}, {0, 1}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(20);

}  // namespace
}  // namespace autonet::bench

int main(int argc, char** argv) { return autonet::bench::step_benchmark_main(argc, argv); }
