// Rows and checks for kernels/stencil_group.h: the table's rows, and the group against each
// stencil's own kernel (depthwise_conv2d, pool2d).
#include <gtest/gtest.h>

#include <algorithm>

#include "kernels/channel_moments.h"
#include "kernels/stencil_group.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// One member of a row: a depthwise conv with a (kernel, pad, dilation) and the folded ReLU, or a
// 3×3 pool with padding 1 (DARTS' pools); at the row's stride unless it has its own.
struct Member {
  const char* name;
  Stencil::Kind kind;
  int64_t kernel = 3, pad = 1, dilation = 1;
  PoolMode mode = PoolMode::max;
  int64_t stride = 0;
};
constexpr Member kSep3{"sep3", Stencil::Kind::depthwise, 3, 1, 1};
constexpr Member kSep5{"sep5", Stencil::Kind::depthwise, 5, 2, 1};
constexpr Member kDil3{"dil3", Stencil::Kind::depthwise, 3, 2, 2};
constexpr Member kDil5{"dil5", Stencil::Kind::depthwise, 5, 4, 2};
constexpr Member kMax{"max", Stencil::Kind::pool, 3, 1, 1, PoolMode::max};
constexpr Member kAvg{"avg", Stencil::Kind::pool, 3, 1, 1, PoolMode::avg};
constexpr Member k7x7{"k7x7", Stencil::Kind::depthwise, 7, 3, 1};  // 49 taps: dw in two passes
// A 5×5 filter without padding at stride 1 and a max pool at stride 2: the same output size from
// windows that move differently, which the tiled forward leaves to the gather kernel.
constexpr Member kValid5s1{"valid5s1", Stencil::Kind::depthwise, 5, 0, 1, PoolMode::max, 1};
constexpr Member kMaxS2{"max_s2", Stencil::Kind::pool, 3, 1, 1, PoolMode::max, 2};

// A DARTS search edge's first stages, in primitive order.
const std::vector<Member>& darts_edge() {
  static const std::vector<Member> members{kMax, kAvg, kSep3, kSep5, kDil3, kDil5};
  return members;
}

Stencil stencil_of(const Member& m, int64_t row_stride) {
  const int64_t stride = m.stride > 0 ? m.stride : row_stride;
  if (m.kind == Stencil::Kind::pool) {
    Pool2dParams p;
    p.mode = m.mode;
    p.kernel_h = p.kernel_w = m.kernel;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = m.pad;
    return Stencil::pooling(p);
  }
  DepthwiseConv2dParams p;
  p.stride = stride;
  p.pad_h = p.pad_w = m.pad;
  p.dilation = m.dilation;
  p.relu_input = true;
  return Stencil::depthwise(p);
}

// Inputs [x, then the filter of each depthwise member]; outputs [y_k per member].
OpCase group_case(const std::vector<Member>& members, const Shape& x_shape, int64_t stride,
                  int fd_samples = 24, GradMode dx_mode = GradMode::Write) {
  OpCase c;
  c.name = "stencil_group/";
  for (const Member& m : members) c.name += std::string(m.name) + "_";
  c.name += "s" + std::to_string(stride) + (dx_mode == GradMode::Accumulate ? "_acc" : "") + "/" +
            shape_str(x_shape);
  // Distinct values spaced far wider than fd_eps, so no probe flips a max-pool arg-max, in
  // [−w, 2w): value k is w·(3(k + ½)/n − 1), which is never within w/(2n) ≥ 5e-6 of a folded
  // ReLU's kink at 0 (a symmetric range would put the middle value of an odd n exactly on it).
  const double w = std::max(1.0, 1e-5 * static_cast<double>(shape_numel(x_shape)));
  InputSpec x{"x", x_shape, Fill::distinct, -w, 2 * w};
  x.grad_mode = dx_mode;
  c.inputs = {x};
  std::vector<Stencil> stencils;
  std::vector<int> weight_input(members.size(), -1);  // input index of member k's filter
  std::vector<Shape> w_shapes;
  for (size_t k = 0; k < members.size(); ++k) {
    stencils.push_back(stencil_of(members[k], stride));
    if (members[k].kind == Stencil::Kind::pool) {
      w_shapes.push_back({});
      continue;
    }
    w_shapes.push_back({x_shape[1], 1, members[k].kernel, members[k].kernel});
    InputSpec w{std::string("w_") + members[k].name, w_shapes.back()};
    w.grad_mode = GradMode::Accumulate;
    weight_input[k] = static_cast<int>(c.inputs.size());
    c.inputs.push_back(w);
  }
  const Shape out = stencil_group_out_shape(x_shape, w_shapes, stencils);
  for (const Member& m : members) c.outputs.push_back({std::string("y_") + m.name, out});
  auto weights_of = [weight_input](const Tensors& in) {
    std::vector<Tensor> w;
    for (int i : weight_input) w.push_back(i >= 0 ? in[i] : Tensor());
    return w;
  };
  c.forward = [=](const Tensors& in, Tensors& outs) {
    stencil_group_forward(in[0], weights_of(in), outs, stencils);
  };
  c.backward = [=](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    std::vector<Tensor> dws = weights_of(din);
    stencil_group_backward(in[0], weights_of(in), dout, din[0], dws, stencils, dx_mode);
  };
  const bool big = shape_numel(x_shape) > 100000;
  c.set_tolerance(big ? 1e-4 : 2e-5, big ? 1e-4 : 1e-5,
                  big ? "dw sums N·Ho·Wo (up to 65536) float32 products vs the CPU's double sum"
                      : "float32 sums of <= 49 products per stencil, <= 6 stencils added into dx, "
                        "vs the CPU's sums in another tap order (dw: in double)");
  // Small integers make every sum exact, but an average divides.
  c.exact_on_integers = std::none_of(members.begin(), members.end(),
                                     [](const Member& m) { return m.mode == PoolMode::avg; });
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> stencil_group_cases() {
  std::vector<OpCase> rows;
  // A DARTS edge at both strides (normal and reduction cells), dx written and accumulated.
  for (int64_t stride : {1, 2})
    for (GradMode mode : {GradMode::Write, GradMode::Accumulate})
      rows.push_back(group_case(darts_edge(), {2, 3, 9, 7}, stride, 24, mode));
  // One member; a pool alone (no weight at all); a 49-tap filter beside a pool, on primes.
  rows.push_back(group_case({kDil5}, {1, 2, 5, 5}, 1));
  rows.push_back(group_case({kAvg}, {2, 1, 4, 6}, 2));
  rows.push_back(group_case({k7x7, kMax, kSep3}, {3, 2, 13, 11}, 1));
  rows.push_back(group_case({kSep5, kMax}, {1, 1, 1, 1}, 1));  // a single pixel
  // Forwards of the gather kernel: members of two strides, and a plane too wide for a staged
  // region in shared memory.
  rows.push_back(group_case({kValid5s1, kMaxS2}, {2, 2, 9, 9}, 1));
  rows.push_back(group_case({kSep3, kMax}, {1, 1, 3, 6000}, 1));
  // A plane whose staged dw room and block_sums' warp sums together would pass the 48 KiB a
  // block (dilated 5×5 at 70×70: 48,772 + 800 bytes in float): dw reads x through the cache.
  rows.push_back(group_case({kDil5}, {2, 1, 70, 70}, 1, 2));
  // A full group: the edges leaving a DARTS state (4 edges: kMaxStencils members).
  std::vector<Member> state;
  for (size_t edge = 0; edge < kMaxStencils / darts_edge().size(); ++edge)
    state.insert(state.end(), darts_edge().begin(), darts_edge().end());
  rows.push_back(group_case(state, {2, 2, 6, 5}, 2, 6, GradMode::Accumulate));
  // At stride 1 too: every input under nine windows of each pool, whose values and arg-maxes the
  // CUDA twin finds once for the four edges' pools alike.
  rows.push_back(group_case(state, {2, 2, 7, 6}, 1, 6));
  // The DARTS shapes: CUDA parity on all; finite differences on the two smaller ones (a probe at
  // 64×16×32×32 costs two forwards of six stencils over 1M elements: seconds on the CPU).
  const Shape s32 = darts_image_shapes()[0], s16 = darts_image_shapes()[1], s8 = darts_image_shapes()[2];
  for (int64_t stride : {1, 2}) {
    OpCase c = group_case(darts_edge(), s32, stride, 0,
                          stride == 1 ? GradMode::Accumulate : GradMode::Write);
    c.check_finite_differences = false;
    rows.push_back(std::move(c));
  }
  rows.push_back(group_case(darts_edge(), s16, 1, 2, GradMode::Accumulate));
  rows.push_back(group_case(darts_edge(), s8, 2, 4));
  return rows;
}

namespace {
// Random float64 tensor.
Tensor random(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::f64);
  fill_uniform(t, -1.0, 1.0, seed);
  return t;
}

void expect_near(const Tensor& got, const Tensor& want, const std::string& what) {
  const std::vector<double> g = got.to_vector<double>(), e = want.to_vector<double>();
  ASSERT_EQ(g.size(), e.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], e[i], 1e-12 * (1.0 + std::abs(e[i]))) << what << " at " << i;
}
}  // namespace

// Forward, dx (accumulated onto a start value) and dw against each stencil's own kernel, for two
// edges of one state: every stencil twice, with its own weights and gradient (the group shares
// framed planes and max-pool arg-max tables between them).
TEST(StencilGroup, EqualsEachStencilsOwnKernel) {
  for (int64_t stride : {1, 2}) {
    SCOPED_TRACE("stride " + std::to_string(stride));
    const Shape xs{2, 3, 8, 6};
    const Tensor x = random(xs, 1);
    std::vector<Stencil> stencils;
    std::vector<Tensor> weights, dys, dws, ys;
    Tensor ref_dx = random(xs, 2), dx = ref_dx.clone();
    for (int edge = 0; edge < 2; ++edge)
      for (const Member& m : darts_edge()) {
        const Stencil s = stencil_of(m, stride);
        stencils.push_back(s);
        const bool pool = m.kind == Stencil::Kind::pool;
        weights.push_back(pool ? Tensor()
                               : random({3, 1, m.kernel, m.kernel}, 10 + stencils.size()));
        dws.push_back(pool ? Tensor() : random({3, 1, m.kernel, m.kernel}, 40 + stencils.size()));
      }
    std::vector<Shape> w_shapes;
    for (const Tensor& w : weights) w_shapes.push_back(w.defined() ? w.shape() : Shape{});
    const Shape out = stencil_group_out_shape(xs, w_shapes, stencils);
    for (size_t k = 0; k < stencils.size(); ++k) {
      ys.push_back(Tensor::empty(out, DType::f64));
      dys.push_back(random(out, 100 + k));
    }
    dys[1] = Tensor();  // an output that received no gradient contributes nothing
    std::vector<Tensor> ref_dws;
    for (const Tensor& dw : dws) ref_dws.push_back(dw.defined() ? dw.clone() : Tensor());

    stencil_group_forward(x, weights, ys, stencils);
    stencil_group_backward(x, weights, dys, dx, dws, stencils, GradMode::Accumulate);

    for (size_t k = 0; k < stencils.size(); ++k) {
      Tensor y = Tensor::empty(out, DType::f64);
      const bool pool = stencils[k].kind == Stencil::Kind::pool;
      if (pool)
        pool2d_forward(x, y, stencils[k].pool);
      else
        depthwise_conv2d_forward(x, weights[k], y, stencils[k].conv);
      expect_near(ys[k], y, "y" + std::to_string(k));
      if (!dys[k].defined()) continue;
      if (pool)
        pool2d_backward(x, dys[k], ref_dx, stencils[k].pool, GradMode::Accumulate);
      else
        depthwise_conv2d_backward(x, weights[k], dys[k], ref_dx, ref_dws[k], stencils[k].conv,
                                  GradMode::Accumulate);
    }
    expect_near(dx, ref_dx, "dx");
    for (size_t k = 0; k < stencils.size(); ++k)
      if (dws[k].defined()) expect_near(dws[k], ref_dws[k], "dw" + std::to_string(k));
  }
}

// The edges leaving one state pool it alike: two max and two average pools of the same windows in
// one group give each pool's own values, and moment parts whether the earlier twin was asked for
// them (the average pools) or not (the max pools).
TEST(StencilGroup, RepeatedPoolsGiveTheirOwnValuesAndParts) {
  const Shape xs{2, 3, 9, 7};
  const Tensor x = random(xs, 5);
  const std::vector<Stencil> stencils{stencil_of(kMax, 1), stencil_of(kAvg, 1),
                                      stencil_of(kSep3, 1), stencil_of(kMax, 1),
                                      stencil_of(kAvg, 1)};
  std::vector<Tensor> weights(stencils.size()), ys, moments(stencils.size());
  weights[2] = random({3, 1, 3, 3}, 6);
  for (size_t k = 0; k < stencils.size(); ++k) ys.push_back(Tensor::full(xs, 7.0, DType::f64));
  const int64_t parts = 2 * ((9 * 7 + kMomentRun - 1) / kMomentRun);
  for (size_t k : {1, 3, 4})  // parts for the repeats, and for one of the pools they repeat
    moments[k] = Tensor::zeros({parts, 3, 3}, DType::f64);
  stencil_group_forward(x, weights, ys, stencils, moments);
  for (size_t k : {0, 1, 3, 4}) {
    Tensor y = Tensor::empty(xs, DType::f64);
    pool2d_forward(x, y, stencils[k].pool);
    EXPECT_EQ(ys[k].to_vector<double>(), y.to_vector<double>()) << "pool " << k;
    if (!moments[k].defined()) continue;
    Tensor want = Tensor::zeros({parts, 3, 3}, DType::f64);
    form_moment_parts_of(y, want, "test");
    EXPECT_EQ(moments[k].to_vector<double>(), want.to_vector<double>()) << "parts " << k;
  }
}

TEST(StencilGroup, WrittenDxWithoutGradientsIsZero) {
  const Tensor x = random({1, 2, 4, 4}, 3);
  const std::vector<Stencil> stencils{stencil_of(kMax, 1)};
  std::vector<Tensor> dws(1);
  Tensor dx = Tensor::full({1, 2, 4, 4}, 5.0, DType::f64);
  stencil_group_backward(x, {Tensor()}, {Tensor()}, dx, dws, stencils, GradMode::Write);
  for (double v : dx.to_vector<double>()) EXPECT_EQ(v, 0.0);
}

TEST(StencilGroup, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({2, 3, 8, 8}), w3 = Tensor::zeros({3, 1, 3, 3});
  std::vector<Tensor> ys = {Tensor::zeros({2, 3, 8, 8}), Tensor::zeros({2, 3, 8, 8})};
  const std::vector<Stencil> pair{stencil_of(kSep3, 1), stencil_of(kMax, 1)};
  EXPECT_NO_THROW(stencil_group_forward(x, {w3, Tensor()}, ys, pair));
  EXPECT_THROW(stencil_group_forward(x, {w3, w3}, ys, pair), Error);            // a pool's weight
  EXPECT_THROW(stencil_group_forward(x, {Tensor(), Tensor()}, ys, pair), Error);  // a missing one
  EXPECT_THROW(stencil_group_forward(x, {w3}, ys, pair), Error);                // weight count
  std::vector<Tensor> one_y = {ys[0]};
  EXPECT_THROW(stencil_group_forward(x, {w3, Tensor()}, one_y, pair), Error);   // output count
  // Outputs of different shapes (a stride-2 member among stride-1 ones) cannot share a group.
  const std::vector<Stencil> mixed{stencil_of(kSep3, 1), stencil_of(kMax, 2)};
  EXPECT_THROW(stencil_group_forward(x, {w3, Tensor()}, ys, mixed), Error);
  std::vector<Tensor> wrong = {Tensor::zeros({2, 3, 4, 4}), Tensor::zeros({2, 3, 4, 4})};
  EXPECT_THROW(stencil_group_forward(x, {w3, Tensor()}, wrong, pair), Error);  // output shape
  EXPECT_THROW(stencil_group_forward(x, {}, ys, {}), Error);                   // no stencils

  Tensor dx = Tensor::zeros({2, 3, 8, 8});
  std::vector<Tensor> dws = {Tensor::zeros({3, 1, 3, 3}), Tensor()};
  EXPECT_NO_THROW(stencil_group_backward(x, {w3, Tensor()}, ys, dx, dws, pair));
  std::vector<Tensor> pool_dw = {Tensor(), Tensor::zeros({3, 1, 3, 3})};
  EXPECT_THROW(stencil_group_backward(x, {w3, Tensor()}, ys, dx, pool_dw, pair), Error);
  EXPECT_THROW(stencil_group_backward(x, {w3, Tensor()}, wrong, dx, dws, pair), Error);  // dy
  Tensor dx_wrong = Tensor::zeros({2, 3, 4, 4});
  EXPECT_THROW(stencil_group_backward(x, {w3, Tensor()}, ys, dx_wrong, dws, pair), Error);
  // Two stencils' weight gradients in one tensor: the CUDA twin's clusters would race on it.
  const std::vector<Stencil> convs{stencil_of(kSep3, 1), stencil_of(kDil3, 1)};
  const Tensor dw_shared = Tensor::zeros({3, 1, 3, 3});
  std::vector<Tensor> shared = {dw_shared, dw_shared};
  EXPECT_THROW(stencil_group_backward(x, {w3, w3}, ys, dx, shared, convs), Error);
  std::vector<Tensor> own = {Tensor::zeros({3, 1, 3, 3}), Tensor::zeros({3, 1, 3, 3})};
  EXPECT_NO_THROW(stencil_group_backward(x, {w3, w3}, ys, dx, own, convs));
  std::vector<Tensor> onto_weight = {Tensor(), w3};  // a dw that is a weight it reads
  EXPECT_THROW(stencil_group_backward(x, {w3, w3}, ys, dx, onto_weight, convs), Error);
}

}  // namespace autonet::test
