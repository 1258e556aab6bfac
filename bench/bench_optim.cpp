// Optimizer steps over one flat buffer the size of the DARTS CNN search network's weights
// (~1.93M) and of its α (2 × 14 × 8): bandwidth-bound for the weights, launch-bound for α.
#include "bench/bench_util.h"
#include "kernels/optim.h"

namespace autonet::bench {
namespace {

// The row's flat buffers (args: device (0 CPU, 1 CUDA), number of parameters), random: the
// weights, their gradient and the optimizer's first state buffer.
struct FlatBuffers {
  Tensor w, grad, state;
};

FlatBuffers flat_buffers(const benchmark::State& state, Device device) {
  const Shape shape{state.range(1)};
  return {random_tensor(shape, device), random_tensor(shape, device, 2),
          random_tensor(shape, device, 3)};
}

void BM_SgdMomentumStep(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  FlatBuffers b = flat_buffers(state, device);  // state: the momentum buffer
  SgdParams p;
  p.lr = 0.025, p.momentum = 0.9, p.weight_decay = 3e-4;
  // Reads w, grad, buf; writes w, buf. ~6 flops per element.
  run_timed(state, device, [&] { sgd_step(b.w, b.grad, b.state, p); }, 5.0 * b.w.nbytes(),
            6.0 * b.w.numel());
}

void BM_AdamStep(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  FlatBuffers b = flat_buffers(state, device);  // state: m
  Tensor v = Tensor::zeros(b.w.shape(), DType::f32, device);
  AdamParams p;
  p.lr = 3e-4, p.beta1 = 0.5, p.weight_decay = 1e-3, p.step = 10;
  // Reads w, grad, m, v; writes w, m, v. ~13 flops per element (sqrt and divide counted once).
  run_timed(state, device, [&] { adam_step(b.w, b.grad, b.state, v, p); }, 7.0 * b.w.nbytes(),
            13.0 * b.w.numel());
}

void BM_AsgdStep(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  FlatBuffers b = flat_buffers(state, device);  // state: ax
  AsgdParams p;
  p.eta = 20.0, p.mu = 0.5, p.weight_decay = 8e-7;
  // Reads w, grad, ax; writes w, ax. ~7 flops per element.
  run_timed(state, device, [&] { asgd_step(b.w, b.grad, b.state, p); }, 5.0 * b.w.nbytes(),
            7.0 * b.w.numel());
}

void darts_sizes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"params"}, {{1930618}, {2 * 14 * 8}});
}

BENCHMARK(BM_SgdMomentumStep)->Apply(darts_sizes);
BENCHMARK(BM_AdamStep)->Apply(darts_sizes);
BENCHMARK(BM_AsgdStep)->Apply(darts_sizes);

}  // namespace
}  // namespace autonet::bench
