// The recurrent DARTS cell's fused node step at the reference sizes: the search cell (batch 256,
// nhid 300; node i mixes i predecessors) and the derived cell (batch 64, nhid 850). Elementwise
// and bandwidth-bound: each pass moves the node's pre-activations and predecessor states once.
#include "bench/bench_util.h"
#include "kernels/rnn_cell.h"

namespace autonet::bench {
namespace {

// A search node's inputs at the row's J predecessors, B, H (args: device, J, B, H), random:
// ch [J, B, 2H], s [J, B, H], w [J, 4].
struct MixInputs {
  int64_t j, b, h;
  Tensor ch, s, w;
};

MixInputs mix_inputs(const benchmark::State& state, Device device) {
  const int64_t j = state.range(1), b = state.range(2), h = state.range(3);
  return {j, b, h, random_tensor({j, b, 2 * h}, device, 1), random_tensor({j, b, h}, device, 2),
          random_tensor({j, kRnnActivations}, device, 3)};
}

void BM_RnnMixForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const MixInputs in = mix_inputs(state, device);
  Tensor out = Tensor::empty({in.b, in.h}, DType::f32, device);
  // Reads ch (2 per element) and s, writes out; per predecessor element: 1 sigmoid + 3 active
  // functions (counted as one flop each) and ~14 multiply-adds.
  run_timed(state, device, [&] { rnn_mix_forward(in.ch, in.s, in.w, out); },
            (3.0 * in.j + 1.0) * out.nbytes(), 18.0 * in.j * out.numel());
}

void BM_RnnMixBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const MixInputs in = mix_inputs(state, device);
  const Tensor dout = random_tensor({in.b, in.h}, device, 4);
  Tensor dch = Tensor::empty(in.ch.shape(), DType::f32, device);
  Tensor ds = Tensor::empty(in.s.shape(), DType::f32, device);
  Tensor dw = Tensor::zeros(in.w.shape(), DType::f32, device);
  // Reads ch, s (3 per predecessor element) and dout; writes dch, ds (3 per predecessor element).
  run_timed(state, device, [&] { rnn_mix_backward(in.ch, in.s, in.w, dout, dch, ds, dw); },
            (6.0 * in.j + 1.0) * dout.nbytes(), 36.0 * in.j * dout.numel());
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
  device_rows(b, {"J", "B", "H"}, {{1, 256, 300}, {4, 256, 300}, {8, 256, 300}});
}

void node_shapes(benchmark::internal::Benchmark* b) {
  device_rows(b, {"B", "H"}, {{256, 300}, {64, 850}});
}

BENCHMARK(BM_RnnMixForward)->Apply(mix_shapes);
BENCHMARK(BM_RnnMixBackward)->Apply(mix_shapes);
BENCHMARK(BM_RnnNodeForward)->Apply(node_shapes);
BENCHMARK(BM_RnnNodeBackward)->Apply(node_shapes);

}  // namespace
}  // namespace autonet::bench
