// Dense conv2d (im2col + GEMM) at the DARTS shapes it serves: the stem, the pointwise 1×1 of the
// separable convs, FactorizedReduce's 1×1 stride 2.
#include "bench/bench_util.h"
#include "kernels/conv2d.h"

namespace autonet::bench {
namespace {

struct ConvSetup {
  Tensor x, w, y;
  Conv2dParams p;
  double macs = 0;  // multiply-adds of one forward
};

// Args: device, N, C, H, W, K, kernel, stride, pad.
ConvSetup make_conv(benchmark::State& state, Device device) {
  ConvSetup s;
  const int64_t n = state.range(1), c = state.range(2), h = state.range(3), w = state.range(4);
  const int64_t k = state.range(5), r = state.range(6);
  s.p = {state.range(7), state.range(7), state.range(8), state.range(8), 1, 1};
  s.x = random_tensor({n, c, h, w}, device, 1);
  s.w = random_tensor({k, c, r, r}, device, 2);
  const Shape out = conv2d_out_shape(s.x.shape(), s.w.shape(), s.p);
  s.y = Tensor::empty(out, DType::f32, device);
  s.macs = static_cast<double>(shape_numel(out)) * c * r * r;
  return s;
}

void BM_Conv2dForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  ConvSetup s = make_conv(state, device);
  run_timed(state, device, [&] { conv2d_forward(s.x, s.w, Tensor(), s.y, s.p); },
            static_cast<double>(s.x.nbytes() + s.w.nbytes() + s.y.nbytes()), 2.0 * s.macs);
}

// dx and dweight: two GEMMs of the forward's size.
void BM_Conv2dBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  ConvSetup s = make_conv(state, device);
  Tensor dy = random_tensor(s.y.shape(), device, 3);
  Tensor dx = Tensor::empty(s.x.shape(), DType::f32, device);
  Tensor dw = Tensor::zeros(s.w.shape(), DType::f32, device), none;
  run_timed(state, device, [&] { conv2d_backward(s.x, s.w, dy, dx, dw, none, s.p); },
            static_cast<double>(2 * s.x.nbytes() + 3 * s.w.nbytes() + dy.nbytes()),
            4.0 * s.macs);
}

void darts_convs(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W", "K", "k", "s", "p"},
              {{64, 3, 32, 32, 48, 3, 1, 1},    // stem: 3×3, 3 → 48
               {64, 16, 32, 32, 16, 1, 1, 0},   // pointwise 1×1 at C = 16
               {64, 64, 8, 8, 64, 1, 1, 0},     // pointwise 1×1 at C = 64
               {64, 16, 32, 32, 8, 1, 2, 0}});  // FactorizedReduce half: 1×1 stride 2
}

BENCHMARK(BM_Conv2dForward)->Apply(darts_convs);
BENCHMARK(BM_Conv2dBackward)->Apply(darts_convs);

}  // namespace
}  // namespace autonet::bench
