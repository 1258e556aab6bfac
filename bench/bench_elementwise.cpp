// Elementwise kernels at DARTS activation sizes: bandwidth-bound, so GB/s is the figure of merit.
#include "bench/bench_util.h"
#include "kernels/elementwise.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), N, C, H, W.
void BM_ReluForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 4);
  Tensor x = random_tensor(shape, device), y = Tensor::empty(shape, DType::f32, device);
  run_timed(state, device, [&] { unary_forward(UnaryOp::relu, x, y); }, 2.0 * x.nbytes());
}

void BM_Axpby(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 4);
  Tensor x = random_tensor(shape, device), y = random_tensor(shape, device, 2);
  run_timed(state, device, [&] { axpby(0.5, x, 0.9, y); }, 3.0 * x.nbytes(), 3.0 * x.numel());
}

BENCHMARK(BM_ReluForward)->Apply(darts_activation_rows);
BENCHMARK(BM_Axpby)->Apply(darts_activation_rows);

}  // namespace
}  // namespace autonet::bench
