// Pooling at the DARTS shapes: bandwidth-bound, GB/s is the figure of merit. Bytes count every
// tensor the op must touch once (forward: x, y; max backward: x, dy, dx since the arg-max is
// recomputed from x; avg backward: dy, dx); bench_cudnn_baseline counts the forward the same way.
#include "bench/bench_util.h"
#include "kernels/pool2d.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), N, C, H, W, mode (0 max, 1 avg), stride. DARTS' 3×3 pools with
// padding 1 and count_include_pad = false.
Pool2dParams darts_pool(benchmark::State& state) {
  Pool2dParams p;
  p.mode = state.range(5) == 0 ? PoolMode::max : PoolMode::avg;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = state.range(6);
  p.pad_h = p.pad_w = 1;
  p.count_include_pad = false;
  return p;
}

void BM_PoolForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Pool2dParams p = darts_pool(state);
  const Shape shape = shape_arg(state, 1, 4);
  Tensor x = random_tensor(shape, device);
  Tensor y = Tensor::empty(pool2d_out_shape(shape, p), DType::f32, device);
  run_timed(state, device, [&] { pool2d_forward(x, y, p); }, double(x.nbytes() + y.nbytes()),
            9.0 * y.numel());
}

void BM_PoolBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Pool2dParams p = darts_pool(state);
  const Shape shape = shape_arg(state, 1, 4);
  Tensor x = random_tensor(shape, device), dx = Tensor::empty(shape, DType::f32, device);
  Tensor y = Tensor::empty(pool2d_out_shape(shape, p), DType::f32, device);
  pool2d_forward(x, y, p);
  Tensor dy = random_tensor(y.shape(), device, 2);
  const double bytes =
      double((p.mode == PoolMode::max ? x.nbytes() : 0) + dy.nbytes() + dx.nbytes());
  run_timed(state, device, [&] { pool2d_backward(x, y, dy, dx, p); }, bytes);
}

// The classifier's global average pool: [64, 256, 8, 8] → [64, 256].
void BM_GlobalAvgPoolForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 4);
  Tensor x = random_tensor(shape, device), y = Tensor::empty({shape[0], shape[1]}, DType::f32, device);
  run_timed(state, device, [&] { global_avg_pool_forward(x, y); },
            double(x.nbytes() + y.nbytes()), double(x.numel()));
}

void BM_GlobalAvgPoolBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 4);
  Tensor dy = random_tensor({shape[0], shape[1]}, device), dx = Tensor::empty(shape, DType::f32, device);
  run_timed(state, device, [&] { global_avg_pool_backward(dy, dx); },
            double(dy.nbytes() + dx.nbytes()));
}

void darts_pools(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W", "mode", "stride"}, darts_cell_op_rows({{0}, {1}}));
}

void classifier_shape(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W"}, {{64, 256, 8, 8}});
}

BENCHMARK(BM_PoolForward)->Apply(darts_pools);
BENCHMARK(BM_PoolBackward)->Apply(darts_pools);
BENCHMARK(BM_GlobalAvgPoolForward)->Apply(classifier_shape);
BENCHMARK(BM_GlobalAvgPoolBackward)->Apply(classifier_shape);

}  // namespace
}  // namespace autonet::bench
