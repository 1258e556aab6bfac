// Rows and checks for kernels/depthwise_group.h: the table's rows, the group against each
// member's own op (depthwise_conv2d), and the errors that name a member.
#include <gtest/gtest.h>

#include "kernels/batch_norm_group.h"
#include "kernels/depthwise_group.h"
#include "tests/kernels/group_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// One member of a row: a depthwise conv with a (kernel, pad, dilation), the folded ReLU or not;
// at the row's stride unless it has its own.
struct Member {
  const char* name;
  int64_t kernel = 3, pad = 1, dilation = 1;
  bool relu = true;
  int64_t stride = 0;
};
// DARTS' sep_conv second depthwise convs (ReLU folded), and other geometries a group may mix.
constexpr Member kSep3{"sep3", 3, 1, 1}, kSep5{"sep5", 5, 2, 1};
constexpr Member kDil3{"dil3", 3, 2, 2}, kDil5{"dil5", 5, 4, 2};
constexpr Member kLinear3{"lin3", 3, 1, 1, false};  // no folded ReLU
constexpr Member k7x7{"k7x7", 7, 3, 1};             // 49 taps: dw in two passes
// The same output size from windows that move differently (the tiled kernels step aside).
constexpr Member kValid5s1{"valid5s1", 5, 0, 1, true, 1}, kSep3s2{"sep3s2", 3, 1, 1, true, 2};

DepthwiseConv2dParams params_of(const Member& m, int64_t row_stride) {
  DepthwiseConv2dParams p;
  p.stride = m.stride > 0 ? m.stride : row_stride;
  p.pad_h = p.pad_w = m.pad;
  p.dilation = m.dilation;
  p.relu_input = m.relu;
  return p;
}

// The second depthwise convs of the sep convs on `edges` edges leaving one state.
std::vector<Member> darts_state(size_t edges) {
  std::vector<Member> members;
  for (size_t e = 0; e < edges; ++e) members.insert(members.end(), {kSep3, kSep5});
  return members;
}

// How a row treats member k's gradients: dx_modes[k % size] for its x, and whether its output
// takes part in the loss (false: its dy is undefined).
struct Grads {
  std::vector<GradMode> dx_modes{GradMode::Write};
  std::vector<bool> used{true};
  GradMode dx_mode(size_t k) const { return dx_modes[k % dx_modes.size()]; }
  bool is_used(size_t k) const { return used[k % used.size()]; }
};

// Inputs [x_0 … x_{K−1}, w_0 … w_{K−1}]; outputs [y_k per member].
OpCase group_case(const std::vector<Member>& members, const Shape& x_shape, int64_t stride,
                  const Grads& grads = {}, int fd_samples = 24) {
  const size_t k_count = members.size();
  OpCase c;
  c.name = "depthwise_group/";
  // Each member's name, "a" when its dx accumulates, "u" when its output is unused (a long group
  // by its size).
  for (size_t k = 0; k < k_count && k_count <= 8; ++k)
    c.name += std::string(members[k].name) + (grads.dx_mode(k) == GradMode::Accumulate ? "a" : "") +
              (grads.is_used(k) ? "" : "u") + "_";
  if (k_count > 8) c.name += std::to_string(k_count) + "_members_";
  c.name += "s" + std::to_string(stride) + "/" + shape_str(x_shape);
  std::vector<DepthwiseConv2dParams> params;
  std::vector<Shape> x_shapes, w_shapes;
  for (size_t k = 0; k < k_count; ++k) {
    const Member& m = members[k];
    params.push_back(params_of(m, stride));
    InputSpec x{"x" + std::to_string(k) + "_" + m.name, x_shape};
    x.grad_mode = grads.dx_mode(k);
    // Folded ReLU: keep |x| ≥ 0.05 so no finite-difference probe crosses the kink.
    if (m.relu) x.fill = Fill::nonzero, x.low = 0.05, x.high = 1.0;
    c.inputs.push_back(x);
    x_shapes.push_back(x_shape);
    w_shapes.push_back({x_shape[1], 1, m.kernel, m.kernel});
  }
  for (size_t k = 0; k < k_count; ++k) {
    InputSpec w{"w" + std::to_string(k) + "_" + members[k].name, w_shapes[k]};
    w.grad_mode = GradMode::Accumulate;
    c.inputs.push_back(w);
  }
  const Shape out = depthwise_group_out_shape(x_shapes, w_shapes, params);
  for (size_t k = 0; k < k_count; ++k) {
    OutputSpec y{"y" + std::to_string(k), out};
    y.differentiable = grads.is_used(k);  // false: the runner passes an undefined dy
    c.outputs.push_back(y);
  }
  auto split = [k_count](const Tensors& t, size_t first) {
    return std::vector<Tensor>(t.begin() + first, t.begin() + first + k_count);
  };
  c.forward = [=](const Tensors& in, Tensors& outs) {
    depthwise_group_forward(split(in, 0), split(in, k_count), outs, params);
  };
  std::vector<GradMode> dx_modes;
  for (size_t k = 0; k < k_count; ++k) dx_modes.push_back(grads.dx_mode(k));
  c.backward = [=](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    std::vector<Tensor> dxs = split(din, 0), dws = split(din, k_count);
    depthwise_group_backward(split(in, 0), split(in, k_count), dout, dxs, dws, params, dx_modes);
  };
  const bool big = shape_numel(x_shape) > 100000;
  c.set_tolerance(big ? 1e-4 : 2e-5, big ? 1e-4 : 1e-5,
                  big ? "dw sums N·Ho·Wo (up to 65536) float32 products vs the CPU's double sum"
                      : "float32 sums of <= 49 products per member (dw: N·Ho·Wo) vs the CPU's "
                        "sums in another tap order (dw: in double)");
  c.exact_on_integers = true;  // products of ints <= 3 summed 65536 times stay below 2^24
  c.fd_samples = fd_samples;
  return c;
}
// Members behind affine-free training batch norms, as a sep conv's middle BN and second
// depthwise conv run (autograd batch_norm_depthwise_group): the BNs' statistics only
// (batch_norm_group_forward without outputs), then the group normalising as it reads; backward the
// group's gradient at x̂, taken on to x by batch_norm_group_backward. Inputs [x_k…, w_k…];
// outputs [y_k…, mean_k…, invstd_k…]. dx is written (the BN's backward only writes).
OpCase bn_group_case(const std::vector<Member>& members, const Shape& x_shape, int fd_samples) {
  const size_t k_count = members.size();
  OpCase c = group_case(members, x_shape, 1, {}, fd_samples);
  c.name.replace(c.name.find('/') + 1, 0, "bn_");
  for (size_t k = 0; k < k_count; ++k)  // x̂ crosses the ReLU's kink wherever it likes
    c.inputs[k].fill = Fill::uniform, c.inputs[k].low = -1.0, c.inputs[k].high = 1.0;
  for (const char* stat : {"mean", "invstd"})
    for (size_t k = 0; k < k_count; ++k) {
      OutputSpec o{std::string(stat) + std::to_string(k), {x_shape[1]}};
      o.differentiable = false;
      c.outputs.push_back(o);
    }
  std::vector<DepthwiseConv2dParams> params;
  for (const Member& m : members) params.push_back(params_of(m, 1));
  BatchNormParams bn;  // training, untracked
  auto part = [k_count](const Tensors& t, size_t first) {
    return std::vector<Tensor>(t.begin() + first, t.begin() + first + k_count);
  };
  auto norms_of = [=](const Tensors& outs) {
    std::vector<InputNorm> norms;
    for (size_t k = 0; k < k_count; ++k)
      norms.push_back({outs[k_count + k], outs[2 * k_count + k]});
    return norms;
  };
  c.forward = [=](const Tensors& in, Tensors& outs) {
    std::vector<Tensor> none(k_count), unused(k_count), no_ys(k_count);
    std::vector<Tensor> means = part(outs, k_count), invstds = part(outs, 2 * k_count);
    batch_norm_group_forward(part(in, 0), none, unused, no_ys, means, invstds, bn);
    std::vector<Tensor> ys = part(outs, 0);
    depthwise_group_forward(part(in, 0), part(in, k_count), ys, params, norms_of(outs));
  };
  c.backward = [=](const Tensors& in, const Tensors& outs, const Tensors& dout, Tensors& din) {
    const std::vector<Tensor> xs = part(in, 0);
    std::vector<Tensor> at_xhat, dxs = part(din, 0), dws = part(din, k_count);
    for (const Tensor& x : xs) at_xhat.push_back(Tensor::empty(x.shape(), x.dtype(), x.device()));
    depthwise_group_backward(xs, part(in, k_count), part(dout, 0), at_xhat, dws, params,
                             std::vector<GradMode>(k_count, GradMode::Write), norms_of(outs));
    batch_norm_group_backward(xs, part(outs, k_count), part(outs, 2 * k_count), at_xhat, dxs, bn);
  };
  c.set_tolerance(1e-4, 1e-4,
                  "per-channel statistics over N·H·W in double vs the GPU's block order, then "
                  "float32 taps and the BN backward's two channel sums");
  c.exact_on_integers = false;  // x̂ = (x − mean)·invstd is no small integer
  c.fd_tol = 1e-5;
  return c;
}
}  // namespace

std::vector<OpCase> depthwise_group_cases() {
  const GradMode W = GradMode::Write, A = GradMode::Accumulate;
  std::vector<OpCase> rows;
  // One member; two of different kernel sizes, dx written and accumulated.
  rows.push_back(group_case({kSep3}, {2, 3, 7, 5}, 1));
  rows.push_back(group_case({kSep3, kSep5}, {2, 3, 9, 7}, 1, {{W, A}}));
  rows.push_back(group_case({kSep5, kSep3}, {1, 2, 8, 6}, 2, {{A}}));
  // The state of a DARTS cell with four edges leaving it: 8 members, dx of some already there.
  rows.push_back(group_case(darts_state(4), {2, 3, 8, 8}, 1, {{W, A, A}}, 8));
  // Outputs nobody used: no dy; a written dx is zero, an accumulated one and dw unchanged.
  rows.push_back(group_case({kSep3, kSep5, kSep3, kSep5}, {2, 2, 6, 5}, 1,
                            {{W, W, A, A}, {true, false, false, true}}));
  rows.push_back(group_case({kDil5}, {1, 2, 5, 5}, 1, {{W}, {false}}));
  // Geometries a group may mix beyond DARTS': dilation, no ReLU, a 49-tap filter; a single pixel.
  rows.push_back(group_case({kDil3, kLinear3, kSep3}, {2, 3, 9, 7}, 2, {{A, W}}));
  rows.push_back(group_case({k7x7, kDil5, kLinear3, kSep5}, {3, 2, 13, 11}, 1, {{W, A}}));
  rows.push_back(group_case({kSep5, kSep3}, {1, 1, 1, 1}, 1));
  // The per-position gathers: members of two strides, and planes too wide for a staged region.
  rows.push_back(group_case({kValid5s1, kSep3s2}, {2, 2, 9, 9}, 1, {{W, A}}));
  rows.push_back(group_case({kSep3, kSep5}, {1, 1, 3, 6000}, 1, {{A, W}}));
  // A plane whose staged dw room and block_sums' warp sums together would pass the 48 KiB a
  // block (5×5 at 74×74: 48,772 + 800 bytes in float): dw reads x through the cache.
  rows.push_back(group_case({kSep5}, {2, 1, 74, 74}, 1, {}, 2));
  // A full group (kMaxGroupMembers) of every geometry, mixed modes and an unused output.
  std::vector<Member> full;
  for (int k = 0; k < kMaxGroupMembers; ++k)
    full.push_back(std::vector<Member>{kSep3, kSep5, kDil3, kDil5, kLinear3, k7x7}[k % 6]);
  rows.push_back(group_case(full, {2, 2, 6, 5}, 1, {{W, A, A, W, A}, {true, true, true, false}}, 4));
  // The DARTS shapes: CUDA parity on all; finite differences on the two smaller ones, with few
  // members and probes (a probe costs two forwards of every member over the whole shape).
  const Shape s32 = darts_image_shapes()[0], s16 = darts_image_shapes()[1], s8 = darts_image_shapes()[2];
  OpCase large = group_case(darts_state(2), s32, 1, {{A, W}});
  large.check_finite_differences = false;
  rows.push_back(std::move(large));
  rows.push_back(group_case(darts_state(1), s16, 1, {{A}}, 2));
  rows.push_back(group_case(darts_state(2), s8, 1, {{W, A}}, 2));
  // Behind batch norms folded into the loads: a sep conv's middle BN and second depthwise conv,
  // one member, a state's worth with a conv without ReLU among them, and a DARTS shape.
  rows.push_back(bn_group_case({kSep3}, {3, 2, 5, 4}, 24));
  rows.push_back(bn_group_case({kSep3, kSep5, kLinear3, kDil3}, {2, 3, 7, 6}, 12));
  rows.push_back(bn_group_case(darts_state(2), s8, 2));
  // The gathers' gradient sums. No finite differences: a probe moves the statistics of 18,000
  // values, and some x̂ among them crosses the folded ReLU's kink.
  OpCase wide_bn = bn_group_case({kSep3, kSep5}, {1, 1, 3, 6000}, 4);
  wide_bn.check_finite_differences = false;
  rows.push_back(std::move(wide_bn));
  return rows;
}


// Forward, dx (written and accumulated) and dw of the group against each member's own op: the
// same numbers, bit for bit, in both dtypes.
TEST(DepthwiseGroup, EqualsEachMembersOwnOpExactly) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Shape xs_shape{2, 3, 8, 6};
    const std::vector<Member> members{kSep3, kSep5, kDil3, kLinear3, kDil5};
    const size_t k_count = members.size();
    std::vector<DepthwiseConv2dParams> params;
    std::vector<Tensor> xs, ws, dys, ys, dxs, dws, ref_dxs, ref_dws;
    std::vector<GradMode> modes;
    for (size_t k = 0; k < k_count; ++k) {
      params.push_back(params_of(members[k], 1));
      xs.push_back(random_tensor(xs_shape, dtype, 1 + k));
      ws.push_back(random_tensor({3, 1, members[k].kernel, members[k].kernel}, dtype, 10 + k));
      dws.push_back(random_tensor(ws[k].shape(), dtype, 20 + k));
      dys.push_back(random_tensor(xs_shape, dtype, 30 + k));  // stride 1, "same" padding
      dxs.push_back(random_tensor(xs_shape, dtype, 40 + k));
      ys.push_back(Tensor::empty(xs_shape, dtype));
      modes.push_back(k % 2 ? GradMode::Accumulate : GradMode::Write);
    }
    dys[2] = Tensor();  // a member that received no gradient
    dxs[4] = Tensor();  // and one whose x wants none
    for (size_t k = 0; k < k_count; ++k) {
      ref_dxs.push_back(dxs[k].defined() ? dxs[k].clone() : Tensor());
      ref_dws.push_back(dws[k].clone());
    }

    depthwise_group_forward(xs, ws, ys, params);
    depthwise_group_backward(xs, ws, dys, dxs, dws, params, modes);

    for (size_t k = 0; k < k_count; ++k) {
      const std::string name = "member " + std::to_string(k);
      Tensor y = Tensor::empty(xs_shape, dtype);
      depthwise_conv2d_forward(xs[k], ws[k], y, params[k]);
      expect_same_bits(ys[k], y, name + " y");
      if (dys[k].defined())
        depthwise_conv2d_backward(xs[k], ws[k], dys[k], ref_dxs[k], ref_dws[k], params[k],
                                  modes[k]);
      else if (ref_dxs[k].defined() && modes[k] == GradMode::Write)
        ref_dxs[k].fill_(0.0);  // no gradient: a written dx is zero
      if (dxs[k].defined()) expect_same_bits(dxs[k], ref_dxs[k], name + " dx");
      expect_same_bits(dws[k], ref_dws[k], name + " dw");
    }
  }
}

// A member with a folded BN equals the plain member run on the BN's output (batch_norm_group's
// y = x̂), bit for bit on the CPU: its output, its dw, and its dx, which is the gradient at x̂.
TEST(DepthwiseGroup, AFoldedBatchNormEqualsTheBatchNormsOutputExactly) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Shape shape{3, 2, 6, 5};
    const std::vector<Member> members{kSep3, kLinear3, kSep5};
    const size_t k_count = members.size();
    std::vector<DepthwiseConv2dParams> params;
    std::vector<Tensor> xs, ws, dys, xhats, means, invstds, none(k_count), unused(k_count);
    for (size_t k = 0; k < k_count; ++k) {
      params.push_back(params_of(members[k], 1));
      xs.push_back(random_tensor(shape, dtype, 50 + k));
      ws.push_back(random_tensor({2, 1, members[k].kernel, members[k].kernel}, dtype, 60 + k));
      dys.push_back(random_tensor(shape, dtype, 70 + k));
      xhats.push_back(Tensor::empty(shape, dtype));
      means.push_back(Tensor::empty({2}, dtype));
      invstds.push_back(Tensor::empty({2}, dtype));
    }
    batch_norm_group_forward(xs, none, unused, xhats, means, invstds, BatchNormParams{});
    std::vector<InputNorm> norms;
    for (size_t k = 0; k < k_count; ++k) norms.push_back({means[k], invstds[k]});
    norms[1] = {};  // a member without one reads x itself
    std::vector<Tensor> inputs = xhats;
    inputs[1] = xs[1];

    auto run = [&](const std::vector<Tensor>& read, const std::vector<InputNorm>& with) {
      std::vector<Tensor> ys, dxs, dws;
      for (size_t k = 0; k < k_count; ++k) {
        ys.push_back(Tensor::empty(shape, dtype));
        dxs.push_back(Tensor::empty(shape, dtype));
        dws.push_back(Tensor::zeros(ws[k].shape(), dtype));
      }
      depthwise_group_forward(read, ws, ys, params, with);
      depthwise_group_backward(read, ws, dys, dxs, dws, params,
                               std::vector<GradMode>(k_count, GradMode::Write), with);
      ys.insert(ys.end(), dxs.begin(), dxs.end());
      ys.insert(ys.end(), dws.begin(), dws.end());
      return ys;
    };
    const std::vector<Tensor> folded = run(xs, norms), written = run(inputs, {});
    for (size_t i = 0; i < folded.size(); ++i) {
      const char* what = i < k_count ? "y" : i < 2 * k_count ? "dx" : "dw";
      expect_same_bits(folded[i], written[i],
                       std::string(what) + " of member " + std::to_string(i % k_count));
    }
  }
}

TEST(DepthwiseGroup, WrittenDxWithoutGradientIsZeroAndAccumulatedOneUnchanged) {
  const Shape shape{1, 2, 4, 4};
  const std::vector<Tensor> xs{random_tensor(shape, DType::f64, 3), random_tensor(shape, DType::f64, 4)};
  const std::vector<Tensor> ws{random_tensor({2, 1, 3, 3}, DType::f64, 5),
                               random_tensor({2, 1, 3, 3}, DType::f64, 6)};
  std::vector<Tensor> dxs{Tensor::full(shape, 5.0, DType::f64),
                          Tensor::full(shape, 5.0, DType::f64)};
  std::vector<Tensor> dws{Tensor::full({2, 1, 3, 3}, 7.0, DType::f64), Tensor()};
  depthwise_group_backward(xs, ws, {Tensor(), Tensor()}, dxs, dws,
                           {params_of(kSep3, 1), params_of(kSep3, 1)},
                           {GradMode::Write, GradMode::Accumulate});
  for (double v : dxs[0].to_vector<double>()) EXPECT_EQ(v, 0.0);
  for (double v : dxs[1].to_vector<double>()) EXPECT_EQ(v, 5.0);
  for (double v : dws[0].to_vector<double>()) EXPECT_EQ(v, 7.0);
}

// Each error names the member (and the tensor) that is wrong.
TEST(DepthwiseGroup, RejectsBadArgumentsNamingTheMember) {
  const Shape shape{2, 3, 8, 8};
  const Tensor x = Tensor::zeros(shape), w3 = Tensor::zeros({3, 1, 3, 3});
  const Tensor w5 = Tensor::zeros({3, 1, 5, 5});
  const DepthwiseConv2dParams sep3 = params_of(kSep3, 1), sep5 = params_of(kSep5, 1);
  std::vector<Tensor> ys{Tensor::zeros(shape), Tensor::zeros(shape), Tensor::zeros(shape)};
  auto forward_error = [&](const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                           std::vector<Tensor>& outs,
                           const std::vector<DepthwiseConv2dParams>& params) -> std::string {
    try {
      depthwise_group_forward(xs, ws, outs, params);
    } catch (const Error& e) {
      return e.message();
    }
    return "no error";
  };
  EXPECT_EQ(forward_error({x, x, x}, {w3, w5, w3}, ys, {sep3, sep5, sep3}), "no error");
  const std::string ok = "no error";
  // An input of another shape, dtype; a filter for other channels; a member whose output differs
  // (stride 2, or a 5×5 filter with a 3×3's padding).
  EXPECT_NE(forward_error({x, x, Tensor::zeros({2, 3, 8, 7})}, {w3, w5, w3}, ys,
                          {sep3, sep5, sep3}).find("member 2's input is"), std::string::npos);
  EXPECT_NE(forward_error({x, Tensor::zeros(shape, DType::f64), x}, {w3, w5, w3}, ys,
                          {sep3, sep5, sep3}).find("member 1 x"), std::string::npos);
  EXPECT_NE(forward_error({x, x, x}, {w3, w5, Tensor::zeros({2, 1, 3, 3})}, ys,
                          {sep3, sep5, sep3}).find("member 2: depthwise_conv2d: expected weight"),
            std::string::npos);
  EXPECT_NE(forward_error({x, x, x}, {w3, w5, w3}, ys, {sep3, sep5, params_of(kSep3, 2)})
                .find("member 2 gives"), std::string::npos);
  EXPECT_NE(forward_error({x, x, x}, {w3, w3, w3}, ys, {sep3, sep5, sep3}).find("member 1 gives"),
            std::string::npos);
  std::vector<Tensor> wrong_y{ys[0], Tensor::zeros({2, 3, 4, 4}), ys[2]};
  EXPECT_NE(forward_error({x, x, x}, {w3, w5, w3}, wrong_y, {sep3, sep5, sep3}).find("member 1 y"),
            std::string::npos);
  std::vector<Tensor> same_y{ys[0], ys[1], ys[0]};
  EXPECT_NE(forward_error({x, x, x}, {w3, w5, w3}, same_y, {sep3, sep5, sep3})
                .find("members 0 and 2 write y"), std::string::npos);
  // Counts: filters, outputs, members (none, or more than kMaxGroupMembers).
  EXPECT_NE(forward_error({x, x, x}, {w3, w5}, ys, {sep3, sep5, sep3}), ok);
  std::vector<Tensor> two_ys{ys[0], ys[1]};
  EXPECT_NE(forward_error({x, x, x}, {w3, w5, w3}, two_ys, {sep3, sep5, sep3}), ok);
  std::vector<Tensor> none;
  EXPECT_NE(forward_error({}, {}, none, {}).find("needs 1 to"), std::string::npos);
  const size_t too_many = kMaxGroupMembers + 1;
  std::vector<Tensor> many_ys(too_many, ys[0]);
  EXPECT_NE(forward_error(std::vector<Tensor>(too_many, x), std::vector<Tensor>(too_many, w3),
                          many_ys, std::vector<DepthwiseConv2dParams>(too_many, sep3))
                .find("needs 1 to"), std::string::npos);

  // Backward: a gradient of the wrong shape names its member and tensor; gradients must not share.
  auto backward_error = [&](const std::vector<Tensor>& dys, std::vector<Tensor> dxs,
                            std::vector<Tensor> dws) -> std::string {
    try {
      depthwise_group_backward({x, x}, {w3, w5}, dys, dxs, dws, {sep3, sep5},
                               {GradMode::Write, GradMode::Accumulate});
    } catch (const Error& e) {
      return e.message();
    }
    return "no error";
  };
  const Tensor dw3 = Tensor::zeros(w3.shape()), dw5 = Tensor::zeros(w5.shape());
  const Tensor dx0 = Tensor::zeros(shape), dx1 = Tensor::zeros(shape);
  EXPECT_EQ(backward_error({ys[0], ys[1]}, {dx0, dx1}, {dw3, dw5}), ok);
  EXPECT_NE(backward_error({ys[0], Tensor::zeros({2, 3, 4, 4})}, {dx0, dx1}, {dw3, dw5})
                .find("member 1 dy"), std::string::npos);
  EXPECT_NE(backward_error({ys[0], ys[1]}, {dx0, Tensor::zeros({2, 3, 8, 9})}, {dw3, dw5})
                .find("member 1 dx"), std::string::npos);
  EXPECT_NE(backward_error({ys[0], ys[1]}, {dx0, dx1}, {dw5, dw5}).find("member 0 dw"),
            std::string::npos);
  EXPECT_NE(backward_error({ys[0], ys[1]}, {dx0, dx0}, {dw3, dw5}).find("members 0 and 1 write dx"),
            std::string::npos);
  EXPECT_NE(backward_error({ys[0]}, {dx0, dx1}, {dw3, dw5}), ok);

  // A folded BN's statistics: one per member or none, [C] like x, naming the member.
  const Tensor c3 = Tensor::zeros({3}), c2 = Tensor::zeros({2});
  auto norms_error = [&](const std::vector<InputNorm>& norms) -> std::string {
    try {
      std::vector<Tensor> outs{ys[0], ys[1]};
      depthwise_group_forward({x, x}, {w3, w5}, outs, {sep3, sep5}, norms);
    } catch (const Error& e) {
      return e.message();
    }
    return "no error";
  };
  EXPECT_EQ(norms_error({{c3, c3}, {}}), ok);
  EXPECT_NE(norms_error({{c3, c3}}).find("1 input norms for 2 members"), std::string::npos);
  EXPECT_NE(norms_error({{}, {c3, c2}}).find("member 1 norm invstd"), std::string::npos);
  EXPECT_NE(norms_error({{c3, Tensor()}, {}}).find("member 0 norm invstd"), std::string::npos);
}

}  // namespace autonet::test
