// Reductions where DARTS spends them: the global average pool before the classifier, and the
// gradient norm / clip over the flat gradient buffer every step. Bandwidth-bound: GB/s matters.
#include "bench/bench_util.h"
#include "kernels/reduce.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), N, C, pixels. x [N, C, pixels] averaged over the pixels.
void BM_MeanPixelsForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 3);
  Tensor x = random_tensor(shape, device), y = Tensor::empty({shape[0], shape[1]}, DType::f32, device);
  run_timed(state, device, [&] { reduce_forward(ReduceOp::mean, x, 2, y); },
            static_cast<double>(x.nbytes() + y.nbytes()), static_cast<double>(x.numel()));
}

void BM_MeanPixelsBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 3);
  Tensor x = random_tensor(shape, device), dx = Tensor::empty(shape, DType::f32, device);
  Tensor y = random_tensor({shape[0], shape[1]}, device), dy = random_tensor({shape[0], shape[1]}, device);
  run_timed(state, device, [&] { reduce_backward(ReduceOp::mean, x, y, dy, 2, dx); },
            static_cast<double>(dx.nbytes() + dy.nbytes()), static_cast<double>(dx.numel()));
}

// Args: device, parameter count. The DARTS CNN search network has about 1.9M weights.
void BM_GlobalNorm(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  Tensor grad = random_tensor({state.range(1)}, device);
  run_timed(state, device, [&] { benchmark::DoNotOptimize(global_norm({grad})); },
            static_cast<double>(grad.nbytes()), 2.0 * grad.numel());
}

// After the first call the norm sits just below max_norm, so this times the norm, its host sync and
// the (skipped) scaling decision: the steady state of a run that rarely clips.
void BM_ClipGradNorm(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  Tensor grad = random_tensor({state.range(1)}, device);
  run_timed(state, device, [&] { benchmark::DoNotOptimize(clip_grad_norm(grad, 5.0)); },
            static_cast<double>(grad.nbytes()), 2.0 * grad.numel());
}

void pooled_shapes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "pixels"}, {{64, 256, 64}, {64, 16, 1024}});
}

void flat_sizes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"n"}, {{1930000}, {3300000}});
}

BENCHMARK(BM_MeanPixelsForward)->Apply(pooled_shapes);
BENCHMARK(BM_MeanPixelsBackward)->Apply(pooled_shapes);
BENCHMARK(BM_GlobalNorm)->Apply(flat_sizes);
BENCHMARK(BM_ClipGradNorm)->Apply(flat_sizes);

}  // namespace
}  // namespace autonet::bench
