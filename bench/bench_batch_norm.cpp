// Batch norm at DARTS activation sizes (training mode, affine = False as in the search network):
// bandwidth-bound, so GB/s is the figure of merit.
#include "bench/bench_util.h"
#include "kernels/batch_norm.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), N, C, H, W.
void BM_BatchNormForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape{state.range(1), state.range(2), state.range(3), state.range(4)};
  const Shape channels{shape[1]};
  Tensor x = random_tensor(shape, device), y = Tensor::empty(shape, DType::f32, device);
  Tensor rm = Tensor::zeros(channels, DType::f32, device);
  Tensor rv = Tensor::full(channels, 1.0, DType::f32, device);
  Tensor sm = Tensor::empty(channels, DType::f32, device);
  Tensor si = Tensor::empty(channels, DType::f32, device);
  Tensor none;
  const BatchNormParams p;
  // Reads x twice (statistics, normalisation), writes y once; ~6 flops per element.
  run_timed(state, device,
            [&] { batch_norm_forward(x, none, none, rm, rv, y, sm, si, p); },
            3.0 * x.nbytes(), 6.0 * x.numel());
}

void BM_BatchNormBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape{state.range(1), state.range(2), state.range(3), state.range(4)};
  const Shape channels{shape[1]};
  Tensor x = random_tensor(shape, device), dy = random_tensor(shape, device, 2);
  Tensor y = Tensor::empty(shape, DType::f32, device), dx = Tensor::empty(shape, DType::f32, device);
  Tensor sm = Tensor::empty(channels, DType::f32, device);
  Tensor si = Tensor::empty(channels, DType::f32, device);
  Tensor none;
  const BatchNormParams p;
  batch_norm_forward(x, none, none, none, none, y, sm, si, p);
  // Reads x and dy twice (sums, then dx), writes dx; ~10 flops per element.
  run_timed(state, device,
            [&] { batch_norm_backward(x, none, sm, si, dy, dx, none, none, p); },
            5.0 * x.nbytes(), 10.0 * x.numel());
}

BENCHMARK(BM_BatchNormForward)->Apply(darts_activation_rows);
BENCHMARK(BM_BatchNormBackward)->Apply(darts_activation_rows);

}  // namespace
}  // namespace autonet::bench
