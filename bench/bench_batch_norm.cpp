// Batch norm at DARTS activation sizes (training mode, affine = False as in the search network):
// bandwidth-bound, so GB/s is the figure of merit.
#include "bench/bench_util.h"
#include "kernels/batch_norm.h"
#include "kernels/batch_norm_group.h"

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

// The middle BNs of the 8 sep convs leaving a DARTS state, forward then backward from the
// outputs (as the autograd layer runs them): K single ops (grouped = 0) against one group
// (grouped = 1). Args: device, grouped, K, N, C, H, W.
void BM_BatchNormGroupForwardBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const bool grouped = state.range(1) != 0;
  const int64_t k_count = state.range(2);
  const Shape shape = shape_arg(state, 3, 4);
  const Shape channels{shape[1]};
  std::vector<Tensor> xs, dys, ys, dxs, rm, rv, sm, si;
  for (int64_t k = 0; k < k_count; ++k) {
    xs.push_back(random_tensor(shape, device, 1 + k));
    dys.push_back(random_tensor(shape, device, 100 + k));
    ys.push_back(Tensor::empty(shape, DType::f32, device));
    dxs.push_back(Tensor::empty(shape, DType::f32, device));
    rm.push_back(Tensor::zeros(channels, DType::f32, device));
    rv.push_back(Tensor::full(channels, 1.0, DType::f32, device));
    sm.push_back(Tensor::empty(channels, DType::f32, device));
    si.push_back(Tensor::empty(channels, DType::f32, device));
  }
  const BatchNormParams p;
  BatchNormParams from_output = p;
  from_output.backward_from_output = true;
  Tensor none;
  const auto work = [&] {
    if (grouped) {
      batch_norm_group_forward(xs, rm, rv, ys, sm, si, p);
      batch_norm_group_backward(ys, sm, si, dys, dxs, from_output);
      return;
    }
    // As a step runs them: every forward, then every backward.
    for (int64_t k = 0; k < k_count; ++k)
      batch_norm_forward(xs[k], none, none, rm[k], rv[k], ys[k], sm[k], si[k], p);
    for (int64_t k = 0; k < k_count; ++k)
      batch_norm_backward(ys[k], none, sm[k], si[k], dys[k], dxs[k], none, none, from_output);
  };
  // Per member as the single ops above: forward 3 passes, backward 5.
  run_timed(state, device, work, 8.0 * k_count * xs[0].nbytes(), 16.0 * k_count * xs[0].numel());
}

void batch_norm_group_rows(benchmark::internal::Benchmark* b) {
  std::vector<BenchRow> rows;
  for (int64_t grouped : {0, 1})
    for (const BenchRow& shape : kDartsActivations) {
      BenchRow row{grouped, 8};
      row.insert(row.end(), shape.begin(), shape.end());
      rows.push_back(row);
    }
  device_rows(b, {"grouped", "K", "N", "C", "H", "W"}, rows);
}

BENCHMARK(BM_BatchNormForward)->Apply(darts_activation_rows);
BENCHMARK(BM_BatchNormBackward)->Apply(darts_activation_rows);
BENCHMARK(BM_BatchNormGroupForwardBackward)->Apply(batch_norm_group_rows);

}  // namespace
}  // namespace autonet::bench
