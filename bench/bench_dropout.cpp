// Dropout at DARTS sizes: the CNN activations (drop-path-sized tensors) and the RNN's locked masks
// on [35, B, 300]. One Philox block per element, so this is where RNG cost would show against GB/s.
#include "bench/bench_util.h"
#include "kernels/dropout.h"

namespace autonet::bench {
namespace {

// Args: device, d0, d1, d2, locked (1: mask period d1·d2).
void BM_DropoutForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape{state.range(1), state.range(2), state.range(3)};
  Tensor x = random_tensor(shape, device), y = Tensor::empty(shape, DType::f32, device);
  DropoutParams p;
  p.p = 0.25;
  p.key = PhiloxKey{1, 2, 0};
  p.mask_period = state.range(4) ? shape[1] * shape[2] : 0;
  run_timed(state, device, [&] { dropout_forward(x, y, p); }, 2.0 * x.nbytes());
}

void BM_DropoutBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape{state.range(1), state.range(2), state.range(3)};
  Tensor dy = random_tensor(shape, device), dx = Tensor::empty(shape, DType::f32, device);
  DropoutParams p;
  p.p = 0.25;
  p.key = PhiloxKey{1, 2, 0};
  p.mask_period = state.range(4) ? shape[1] * shape[2] : 0;
  run_timed(state, device, [&] { dropout_backward(dy, dx, p); }, 2.0 * dy.nbytes());
}

void dropout_shapes(benchmark::internal::Benchmark* b) {
  for (int device : {0, 1}) {
    b->Args({device, 64, 16, 32 * 32, 0})->Args({device, 64, 64, 8 * 8, 0});  // CNN activations
    b->Args({device, 35, 64, 300, 1})->Args({device, 35, 256, 300, 1});       // RNN, locked
  }
  b->ArgNames({"dev", "d0", "d1", "d2", "locked"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_DropoutForward)->Apply(dropout_shapes);
BENCHMARK(BM_DropoutBackward)->Apply(dropout_shapes);

}  // namespace
}  // namespace autonet::bench
