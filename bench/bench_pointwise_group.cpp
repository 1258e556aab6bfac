// The pointwise group (kernels/pointwise_group.h) at the DARTS shapes: the 16 first 1×1 convs of
// the sep/dil convs on the edges leaving one state, as one group and as 16 conv2d calls.
#include "bench/bench_util.h"
#include "kernels/conv2d.h"
#include "kernels/pointwise_group.h"

namespace autonet::bench {
namespace {

struct GroupSetup {
  std::vector<Tensor> xs, ws, ys, dys, dxs, dws;
  std::vector<GradMode> modes;
  double macs = 0;  // multiply-adds of one forward of the whole group
};

// Args: device, N, C, H, W, K (members); Co = C, as in DARTS.
GroupSetup make_group(benchmark::State& state, Device device) {
  GroupSetup s;
  const Shape x = shape_arg(state, 1, 4);
  const int64_t members = state.range(5);
  for (int64_t k = 0; k < members; ++k) {
    s.xs.push_back(random_tensor(x, device, 1 + k));
    s.ws.push_back(random_tensor({x[1], x[1], 1, 1}, device, 100 + k));
    s.ys.push_back(Tensor::empty(x, DType::f32, device));
    s.dys.push_back(random_tensor(x, device, 200 + k));
    s.dxs.push_back(Tensor::empty(x, DType::f32, device));
    s.dws.push_back(Tensor::zeros(s.ws.back().shape(), DType::f32, device));
    s.modes.push_back(GradMode::Write);
  }
  s.macs = static_cast<double>(members * shape_numel(x) * x[1]);
  return s;
}

double bytes_of_all(const std::vector<std::vector<Tensor>*>& lists) {
  double bytes = 0;
  for (const auto* list : lists)
    for (const Tensor& t : *list) bytes += static_cast<double>(t.nbytes());
  return bytes;
}

// range(6): 1 = the group, 2 = the group forming its outputs' channel moments (what the batch
// norm after it reads instead of the output), 0 = one conv2d per member.
void BM_PointwiseGroupForward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  GroupSetup s = make_group(state, device);
  const bool grouped = state.range(6) != 0;
  std::vector<Tensor> moments;
  if (state.range(6) == 2)
    for (const Tensor& y : s.ys)
      moments.push_back(
          Tensor::empty({moment_parts(y.shape()), y.size(1), 3}, DType::f64, device));
  run_timed(state, device, [&] {
    if (grouped) return pointwise_group_forward(s.xs, s.ws, s.ys, false, moments);
    for (size_t k = 0; k < s.xs.size(); ++k)
      conv2d_forward(s.xs[k], s.ws[k], Tensor(), s.ys[k], Conv2dParams{});
  }, bytes_of_all({&s.xs, &s.ws, &s.ys, &moments}), 2.0 * s.macs);
}

// dx and dw of every member.
void BM_PointwiseGroupBackward(benchmark::State& state) {
  Device device;
  if (!pick_device(state, state.range(0), &device)) return;
  GroupSetup s = make_group(state, device);
  const bool grouped = state.range(6) == 1;
  Tensor no_bias;
  run_timed(state, device, [&] {
    if (grouped) return pointwise_group_backward(s.xs, s.ws, s.dys, s.dxs, s.dws, s.modes, false);
    for (size_t k = 0; k < s.xs.size(); ++k)
      conv2d_backward(s.xs[k], s.ws[k], s.dys[k], s.dxs[k], s.dws[k], no_bias, Conv2dParams{});
  }, bytes_of_all({&s.xs, &s.ws, &s.dys, &s.dxs, &s.dws, &s.dws}), 4.0 * s.macs);
}

// The DARTS activations with a state's 16 members, grouped and one conv2d each (forward also
// grouped with moments).
void darts_groups(benchmark::internal::Benchmark* b, std::vector<int64_t> modes) {
  std::vector<BenchRow> rows;
  for (int64_t grouped : modes)
    for (BenchRow row : kDartsActivations) {
      row.push_back(16);
      row.push_back(grouped);
      rows.push_back(row);
    }
  device_rows(b, {"N", "C", "H", "W", "K", "grouped"}, rows);
}

BENCHMARK(BM_PointwiseGroupForward)->Apply([](auto* b) { darts_groups(b, {1, 2, 0}); });
BENCHMARK(BM_PointwiseGroupBackward)->Apply([](auto* b) { darts_groups(b, {1, 0}); });

}  // namespace
}  // namespace autonet::bench
