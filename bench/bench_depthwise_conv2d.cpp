// Depthwise convolution at the DARTS shapes: bandwidth-bound (a 3×3 tap is ~2 FLOP/byte), so the
// figure of merit is GB/s against copy bandwidth. Bytes count every tensor the op must touch once
// (forward: x, w, y; backward: x, w, dy, dx, dw); bench_cudnn_baseline counts the same.
#include "bench/bench_util.h"
#include "kernels/depthwise_conv2d.h"
#include "kernels/depthwise_group.h"

namespace autonet::bench {
namespace {

// Args: device (0 CPU, 1 CUDA), N, C, H, W, kernel k (k×k), dilation, stride. Padding keeps the
// size at stride 1 (DARTS: sep_conv pad k/2, dil_conv pad k−1); the folded ReLU is on.
struct Problem {
  Device device;
  Tensor x, w, y;
  DepthwiseConv2dParams p;
};

bool make_problem(benchmark::State& state, Problem* pr) {
  if (!pick_device(state, state.range(0), &pr->device)) return false;
  const int64_t k = state.range(5), dilation = state.range(6);
  const Shape x_shape = shape_arg(state, 1, 4);
  const Shape w_shape{x_shape[1], 1, k, k};
  pr->p.stride = state.range(7);
  pr->p.dilation = dilation;
  pr->p.pad_h = pr->p.pad_w = dilation * (k - 1) / 2;
  pr->p.relu_input = true;
  pr->x = random_tensor(x_shape, pr->device);
  pr->w = random_tensor(w_shape, pr->device, 2);
  pr->y = Tensor::empty(depthwise_conv2d_out_shape(x_shape, w_shape, pr->p), DType::f32, pr->device);
  return true;
}

double conv_flops(const Problem& pr) { return 2.0 * pr.w.size(2) * pr.w.size(3) * pr.y.numel(); }

void BM_DepthwiseForward(benchmark::State& state) {
  Problem pr;
  if (!make_problem(state, &pr)) return;
  const double bytes = double(pr.x.nbytes() + pr.w.nbytes() + pr.y.nbytes());
  run_timed(state, pr.device, [&] { depthwise_conv2d_forward(pr.x, pr.w, pr.y, pr.p); }, bytes,
            conv_flops(pr));
}

void BM_DepthwiseBackward(benchmark::State& state) {
  Problem pr;
  if (!make_problem(state, &pr)) return;
  Tensor dy = random_tensor(pr.y.shape(), pr.device, 3);
  Tensor dx = Tensor::empty(pr.x.shape(), DType::f32, pr.device);
  Tensor dw = Tensor::zeros(pr.w.shape(), DType::f32, pr.device);
  const double bytes =
      double(pr.x.nbytes() + pr.w.nbytes() + dy.nbytes() + dx.nbytes() + 2 * dw.nbytes());
  run_timed(state, pr.device,
            [&] { depthwise_conv2d_backward(pr.x, pr.w, dy, dx, dw, pr.p); }, bytes,
            2.0 * conv_flops(pr));  // dx and dw: one multiply-add per tap each
}

// DARTS: sep_conv 3×3/5×5 (dilation 1) and dil_conv 3×3/5×5 (dilation 2), normal cells at
// stride 1 on all three shapes, reduction cells at stride 2 on the two larger ones.
void darts_depthwise(benchmark::internal::Benchmark* b) {
  device_rows(b, {"N", "C", "H", "W", "k", "dil", "stride"},
              darts_cell_op_rows({{3, 1}, {5, 1}, {3, 2}, {5, 2}}));  // {k, dilation}
}

BENCHMARK(BM_DepthwiseForward)->Apply(darts_depthwise);
BENCHMARK(BM_DepthwiseBackward)->Apply(darts_depthwise);

// The group (kernels/depthwise_group.h) against the single ops it replaces. Args: device, N, C,
// H, W, members K, grouped (1: one group call; 2: one group call reading through folded batch
// norms, as the sep convs' middle BN runs; 0: K depthwise_conv2d calls). Members alternate
// sep_conv 3×3 and 5×5 second depthwise convs (stride 1, folded ReLU), each on its own x: K = 8
// is a DARTS state with four edges leaving it. Bytes as the single rows count them, per member.
struct GroupProblem {
  Device device;
  std::vector<Tensor> xs, ws, ys, dys, dxs, dws;
  std::vector<DepthwiseConv2dParams> params;
  std::vector<GradMode> modes;
  std::vector<InputNorm> norms;  // grouped = 2 only
  double bytes_forward = 0, bytes_backward = 0, flops = 0;
};

bool make_group_problem(benchmark::State& state, GroupProblem* pr) {
  if (!pick_device(state, state.range(0), &pr->device)) return false;
  const Shape x_shape = shape_arg(state, 1, 4);
  for (int64_t k = 0; k < state.range(5); ++k) {
    const int64_t size = k % 2 ? 5 : 3;
    DepthwiseConv2dParams p;
    p.pad_h = p.pad_w = size / 2;
    p.relu_input = true;
    pr->params.push_back(p);
    pr->modes.push_back(GradMode::Write);
    pr->xs.push_back(random_tensor(x_shape, pr->device, 10 + k));
    pr->ws.push_back(random_tensor({x_shape[1], 1, size, size}, pr->device, 40 + k));
    pr->ys.push_back(Tensor::empty(x_shape, DType::f32, pr->device));
    pr->dys.push_back(random_tensor(x_shape, pr->device, 70 + k));
    pr->dxs.push_back(Tensor::empty(x_shape, DType::f32, pr->device));
    pr->dws.push_back(Tensor::zeros(pr->ws.back().shape(), DType::f32, pr->device));
    if (state.range(6) == 2) {  // the statistics of a BN the group reads through
      Tensor invstd = Tensor::empty({x_shape[1]});
      fill_uniform(invstd, 1.0, 2.0, 130 + k);
      pr->norms.push_back(
          {random_tensor({x_shape[1]}, pr->device, 100 + k), invstd.to(pr->device)});
    }
    const double x = double(pr->xs.back().nbytes()), w = double(pr->ws.back().nbytes());
    pr->bytes_forward += 2 * x + w;      // x, w, y
    pr->bytes_backward += 3 * x + 3 * w;  // x, dy, dx; w, dw read and written
    pr->flops += 2.0 * size * size * double(pr->ys.back().numel());
  }
  return true;
}

void BM_DepthwiseGroupForward(benchmark::State& state) {
  GroupProblem pr;
  if (!make_group_problem(state, &pr)) return;
  const bool grouped = state.range(6) != 0;
  run_timed(state, pr.device, [&] {
    if (grouped) return depthwise_group_forward(pr.xs, pr.ws, pr.ys, pr.params, pr.norms);
    for (size_t k = 0; k < pr.params.size(); ++k)
      depthwise_conv2d_forward(pr.xs[k], pr.ws[k], pr.ys[k], pr.params[k]);
  }, pr.bytes_forward, pr.flops);
}

void BM_DepthwiseGroupBackward(benchmark::State& state) {
  GroupProblem pr;
  if (!make_group_problem(state, &pr)) return;
  const bool grouped = state.range(6) != 0;
  run_timed(state, pr.device, [&] {
    if (grouped)
      return depthwise_group_backward(pr.xs, pr.ws, pr.dys, pr.dxs, pr.dws, pr.params, pr.modes,
                                      pr.norms);
    for (size_t k = 0; k < pr.params.size(); ++k)
      depthwise_conv2d_backward(pr.xs[k], pr.ws[k], pr.dys[k], pr.dxs[k], pr.dws[k], pr.params[k]);
  }, pr.bytes_backward, 2.0 * pr.flops);
}

// A DARTS state's 8 second depthwise convs on every activation shape, one by one, grouped, and
// grouped behind their folded middle BNs.
void darts_depthwise_group(benchmark::internal::Benchmark* b) {
  std::vector<BenchRow> rows;
  for (const BenchRow& shape : kDartsActivations)
    for (int64_t grouped : {0, 1, 2}) {
      BenchRow row = shape;
      row.insert(row.end(), {8, grouped});
      rows.push_back(row);
    }
  device_rows(b, {"N", "C", "H", "W", "members", "grouped"}, rows);
}

BENCHMARK(BM_DepthwiseGroupForward)->Apply(darts_depthwise_group);
BENCHMARK(BM_DepthwiseGroupBackward)->Apply(darts_depthwise_group);

}  // namespace
}  // namespace autonet::bench
