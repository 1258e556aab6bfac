// Concat/split of a DARTS cell's 4 node outputs on channels, and FactorizedReduce's strided slice
// x[:, :, 1::2, 1::2]. Pure data movement: GB/s is the figure of merit.
#include "bench/bench_util.h"
#include "kernels/concat.h"

namespace autonet::bench {
namespace {

// Args: device, N, C, H, W of one node output; 4 of them are concatenated.
void BM_CellConcatForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape node = shape_arg(state, 1, 4);
  std::vector<Tensor> xs;
  for (int k = 0; k < 4; ++k) xs.push_back(random_tensor(node, device, k + 1));
  Tensor y = Tensor::empty({node[0], 4 * node[1], node[2], node[3]}, DType::f32, device);
  run_timed(state, device, [&] { concat_forward(xs, 1, y); }, 2.0 * y.nbytes());
}

void BM_CellConcatBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape node = shape_arg(state, 1, 4);
  std::vector<Tensor> dxs;
  for (int k = 0; k < 4; ++k) dxs.push_back(Tensor::empty(node, DType::f32, device));
  Tensor dy = random_tensor({node[0], 4 * node[1], node[2], node[3]}, device);
  run_timed(state, device, [&] { concat_backward(dy, 1, dxs); }, 2.0 * dy.nbytes());
}

Slice2dParams odd_pixels(int64_t h, int64_t w) {
  Slice2dParams p;
  p.offset_h = p.offset_w = 1;
  p.stride_h = p.stride_w = 2;
  p.out_h = h / 2;
  p.out_w = w / 2;
  return p;
}

// Args: device, N, C, H, W of x. Bytes: the elements actually read and written.
void BM_Slice2dForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 4);
  const Slice2dParams p = odd_pixels(shape[2], shape[3]);
  Tensor x = random_tensor(shape, device);
  Tensor y = Tensor::empty({shape[0], shape[1], p.out_h, p.out_w}, DType::f32, device);
  run_timed(state, device, [&] { slice2d_forward(x, y, p); }, 2.0 * y.nbytes());
}

void BM_Slice2dBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  const Shape shape = shape_arg(state, 1, 4);
  const Slice2dParams p = odd_pixels(shape[2], shape[3]);
  Tensor dx = Tensor::empty(shape, DType::f32, device);
  Tensor dy = random_tensor({shape[0], shape[1], p.out_h, p.out_w}, device);
  run_timed(state, device, [&] { slice2d_backward(dy, dx, p); },
            static_cast<double>(dx.nbytes() + dy.nbytes()));
}

BENCHMARK(BM_CellConcatForward)->Apply(darts_activation_rows);
BENCHMARK(BM_CellConcatBackward)->Apply(darts_activation_rows);
BENCHMARK(BM_Slice2dForward)->Apply(darts_activation_rows);
BENCHMARK(BM_Slice2dBackward)->Apply(darts_activation_rows);

}  // namespace
}  // namespace autonet::bench
