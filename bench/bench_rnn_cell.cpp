// The recurrent DARTS cell's fused node step at the reference sizes: the search cell (batch 256,
// nhid 300; node i mixes i predecessors) and the derived cell (batch 64, nhid 850). Elementwise
// and bandwidth-bound: each pass moves the node's pre-activations and predecessor states once.
#include "bench/bench_util.h"
#include "kernels/rnn_cell.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), J predecessors, B, H.
void BM_RnnMixForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t j = state.range(1), b = state.range(2), h = state.range(3);
  const Tensor ch = random_tensor({j, b, 2 * h}, device, 1), s = random_tensor({j, b, h}, device, 2);
  const Tensor w = random_tensor({j, kRnnActivations}, device, 3);
  Tensor out = Tensor::empty({b, h}, DType::f32, device);
  // Reads ch (2 per element) and s, writes out; per predecessor element: 1 sigmoid + 3 active
  // functions (counted as one flop each) and ~14 multiply-adds.
  run_timed(state, device, [&] { rnn_mix_forward(ch, s, w, out); },
            (3.0 * j + 1.0) * out.nbytes(), 18.0 * j * out.numel());
}

void BM_RnnMixBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t j = state.range(1), b = state.range(2), h = state.range(3);
  const Tensor ch = random_tensor({j, b, 2 * h}, device, 1), s = random_tensor({j, b, h}, device, 2);
  const Tensor w = random_tensor({j, kRnnActivations}, device, 3);
  const Tensor dout = random_tensor({b, h}, device, 4);
  Tensor dch = Tensor::empty({j, b, 2 * h}, DType::f32, device);
  Tensor ds = Tensor::empty({j, b, h}, DType::f32, device);
  Tensor dw = Tensor::zeros({j, kRnnActivations}, DType::f32, device);
  // Reads ch, s (3 per predecessor element) and dout; writes dch, ds (3 per predecessor element).
  run_timed(state, device, [&] { rnn_mix_backward(ch, s, w, dout, dch, ds, dw); },
            (6.0 * j + 1.0) * dout.nbytes(), 36.0 * j * dout.numel());
}

// Args: device, B, H (tanh node: the first state s₀ and a derived node).
void BM_RnnNodeForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t b = state.range(1), h = state.range(2);
  const Tensor ch = random_tensor({b, 2 * h}, device, 1), s = random_tensor({b, h}, device, 2);
  Tensor out = Tensor::empty({b, h}, DType::f32, device);
  run_timed(state, device, [&] { rnn_node_forward(ch, s, RnnActivation::tanh, out); },
            4.0 * out.nbytes(), 6.0 * out.numel());
}

void BM_RnnNodeBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const int64_t b = state.range(1), h = state.range(2);
  const Tensor ch = random_tensor({b, 2 * h}, device, 1), s = random_tensor({b, h}, device, 2);
  const Tensor dout = random_tensor({b, h}, device, 4);
  Tensor dch = Tensor::empty({b, 2 * h}, DType::f32, device);
  Tensor ds = Tensor::empty({b, h}, DType::f32, device);
  run_timed(state, device,
            [&] { rnn_node_backward(ch, s, RnnActivation::tanh, dout, dch, ds); },
            7.0 * dout.nbytes(), 12.0 * dout.numel());
}

void mix_shapes(benchmark::internal::Benchmark* b) {
  for (int device : {0, 1})
    for (int j : {1, 4, 8}) b->Args({device, j, 256, 300});
  b->ArgNames({"dev", "J", "B", "H"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

void node_shapes(benchmark::internal::Benchmark* b) {
  for (int device : {0, 1}) b->Args({device, 256, 300})->Args({device, 64, 850});
  b->ArgNames({"dev", "B", "H"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_RnnMixForward)->Apply(mix_shapes);
BENCHMARK(BM_RnnMixBackward)->Apply(mix_shapes);
BENCHMARK(BM_RnnNodeForward)->Apply(node_shapes);
BENCHMARK(BM_RnnNodeBackward)->Apply(node_shapes);

}  // namespace
}  // namespace autonet::bench
