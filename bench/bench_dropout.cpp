// Dropout at DARTS sizes: the CNN activations (drop-path-sized tensors) and the RNN's locked masks
// on [35, B, 300]. One Philox block per element, so this is where RNG cost would show against GB/s.
#include "bench/bench_util.h"
#include "kernels/dropout.h"

namespace autonet::bench {
namespace {

// Args: device, d0, d1, d2, locked (1: mask period d1·d2). Forward (x → y) and backward (dy → dx)
// are the same pass: read one tensor, draw the mask, write the other.
void time_dropout(benchmark::State& state, bool backward) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 3);
  Tensor in = random_tensor(shape, device), out = Tensor::empty(shape, DType::f32, device);
  DropoutParams p;
  p.p = 0.25;
  p.key = PhiloxKey{1, 2, 0};
  p.mask_period = state.range(4) ? shape[1] * shape[2] : 0;
  run_timed(state, device,
            [&] { backward ? dropout_backward(in, out, p) : dropout_forward(in, out, p); },
            2.0 * in.nbytes());
}

void BM_DropoutForward(benchmark::State& state) { time_dropout(state, false); }
void BM_DropoutBackward(benchmark::State& state) { time_dropout(state, true); }

void dropout_shapes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"d0", "d1", "d2", "locked"},
              {{64, 16, 32 * 32, 0}, {64, 64, 8 * 8, 0},  // CNN activations
               {35, 64, 300, 1}, {35, 256, 300, 1}});     // RNN, locked
}

BENCHMARK(BM_DropoutForward)->Apply(dropout_shapes);
BENCHMARK(BM_DropoutBackward)->Apply(dropout_shapes);

}  // namespace
}  // namespace autonet::bench
