// The DARTS mixed op's weighted sum of its 8 candidate outputs, at the search network's
// activation sizes: bandwidth-bound (K + 1 tensors move per pass).
#include <vector>

#include "bench/bench_util.h"
#include "kernels/mixed_sum.h"

namespace autonet::bench {
namespace {

constexpr int kCandidates = 8;  // DARTS' primitives

struct MixedInputs {
  Tensor weights;
  std::vector<Tensor> ys;
};

MixedInputs make_inputs(const Shape& shape, Device device) {
  MixedInputs in{random_tensor({kCandidates}, device, 100), {}};
  for (int k = 0; k < kCandidates; ++k) in.ys.push_back(random_tensor(shape, device, 1 + k));
  return in;
}

// Args: device (0 CPU, 1 CUDA), N, C, H, W.
void BM_MixedSumForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape{state.range(1), state.range(2), state.range(3), state.range(4)};
  MixedInputs in = make_inputs(shape, device);
  Tensor out = Tensor::empty(shape, DType::f32, device);
  run_timed(state, device, [&] { mixed_sum_forward(in.weights, in.ys, out); },
            (kCandidates + 1.0) * out.nbytes(), 2.0 * kCandidates * out.numel());
}

void BM_MixedSumBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape{state.range(1), state.range(2), state.range(3), state.range(4)};
  MixedInputs in = make_inputs(shape, device);
  Tensor dout = random_tensor(shape, device, 50);
  std::vector<Tensor> dys;
  for (int k = 0; k < kCandidates; ++k) dys.push_back(Tensor::empty(shape, DType::f32, device));
  Tensor dweights = Tensor::zeros({kCandidates}, DType::f32, device);
  // Reads dout and the K candidates, writes K gradients; K products and K multiply-adds.
  run_timed(state, device, [&] { mixed_sum_backward(in.weights, in.ys, dout, dys, dweights); },
            (2.0 * kCandidates + 1.0) * dout.nbytes(), 3.0 * kCandidates * dout.numel());
}

BENCHMARK(BM_MixedSumForward)->Apply(darts_activation_rows);
BENCHMARK(BM_MixedSumBackward)->Apply(darts_activation_rows);

}  // namespace
}  // namespace autonet::bench
