// Rows and checks for kernels/pointwise_group.h: the table's rows, the group against conv2d
// member by member (bit for bit on the CPU), and its argument errors.
#include <gtest/gtest.h>

#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/pointwise_group.h"
#include "tests/kernels/group_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// A member of a row: how its dx lands, and whether its output receives a gradient.
struct Member {
  GradMode dx_mode = GradMode::Write;
  bool gets_gradient = true;
};
constexpr Member kWrite{GradMode::Write, true}, kAdd{GradMode::Accumulate, true};
constexpr Member kWriteUnused{GradMode::Write, false}, kAddUnused{GradMode::Accumulate, false};

std::vector<Member> repeat(const Member& m, size_t count) { return std::vector<Member>(count, m); }

// Inputs [x_0 … x_{K−1}, w_0 … w_{K−1}]; outputs [y_k]. A member without a gradient has a
// non-differentiable output (the runner passes no dy for it).
OpCase group_case(const std::string& variant, const std::vector<Member>& members,
                  const Shape& x_shape, int64_t out_channels, int fd_samples = 24,
                  bool relu_input = false) {
  const size_t k_count = members.size();
  OpCase c;
  c.name = "pointwise_group/" + variant + "_K" + std::to_string(k_count) + "/" +
           shape_str(x_shape) + "/Co" + std::to_string(out_channels);
  const Shape w_shape{out_channels, x_shape[1], 1, 1};
  for (size_t k = 0; k < k_count; ++k) {
    InputSpec x{"x" + std::to_string(k), x_shape, Fill::nonzero, 0.1, 1.0};
    x.grad_mode = members[k].dx_mode;
    c.inputs.push_back(x);
  }
  for (size_t k = 0; k < k_count; ++k) {
    InputSpec w{"w" + std::to_string(k), w_shape, Fill::nonzero, 0.1, 1.0};
    w.grad_mode = GradMode::Accumulate;
    c.inputs.push_back(w);
  }
  const Shape out = conv2d_out_shape(x_shape, w_shape, Conv2dParams{});
  for (size_t k = 0; k < k_count; ++k)
    c.outputs.push_back({"y" + std::to_string(k), out, members[k].gets_gradient});
  auto part = [k_count](const Tensors& all, size_t first) {
    return Tensors(all.begin() + first, all.begin() + first + k_count);
  };
  std::vector<GradMode> modes;
  for (const Member& m : members) modes.push_back(m.dx_mode);
  c.forward = [=](const Tensors& in, Tensors& outs) {
    pointwise_group_forward(part(in, 0), part(in, k_count), outs, relu_input);
  };
  c.backward = [=](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    Tensors dxs = part(din, 0), dws = part(din, k_count);
    pointwise_group_backward(part(in, 0), part(in, k_count), dout, dxs, dws, modes, relu_input);
  };
  // As conv2d's 1×1 rows: each element one float32 sum of products (y over C, dx over Co, dw
  // over N·H·W), ordered differently by the CUDA tiles and OpenBLAS.
  c.set_tolerance(1e-6, 1e-5, "per element: 20·u·sqrt(n·Σa²) of its own sum of products, in "
                  "another order on the GPU's tiles than in OpenBLAS");
  c.sums_of_products = true;
  c.exact_on_integers = true;
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> pointwise_group_cases() {
  std::vector<OpCase> rows;
  // One member, a single pixel and channel; two members, one written and one added, on primes.
  rows.push_back(group_case("one", {kWrite}, {1, 1, 1, 1}, 1));
  rows.push_back(group_case("pair", {kWrite, kAdd}, {3, 5, 7, 9}, 11));
  // A mixed group as a DARTS state gives it: 2 edges × (sep3, sep5, dil3, dil5), dx written and
  // added, one output unused with its dx written (zero-filled) and one with its dx added (untouched).
  std::vector<Member> mixed{kWrite, kAdd, kAdd, kWriteUnused,
                            kAdd,   kWrite, kAddUnused, kAdd};
  rows.push_back(group_case("mixed", mixed, {2, 6, 5, 4}, 6));
  // Channels past one 64-wide tile and a 16-deep slice; every member unused but one.
  rows.push_back(group_case("tiles", {kAddUnused, kWrite, kWriteUnused}, {2, 70, 9, 9}, 67, 6));
  // A batch the CUDA dw's cluster of 8 blocks splits unevenly (11 samples: 1 or 2 per block).
  rows.push_back(group_case("batch", {kWrite, kAdd, kWriteUnused}, {11, 5, 3, 4}, 7, 6));
  // A full group (kMaxGroupMembers), every dx added.
  rows.push_back(group_case("full", repeat(kAdd, kMaxGroupMembers), {2, 3, 4, 3}, 5, 4));
  // The DARTS shapes (C = Co = 16, 32, 64 at 32, 16, 8 pixels) for CUDA parity, fewer members
  // than a state's 16 to keep the CPU runs short; finite differences on the smallest only, for
  // two members (each probe runs the whole group's forward: seconds for the mixed eight).
  const std::vector<Shape>& darts = darts_image_shapes();
  for (size_t i = 0; i < darts.size(); ++i) {
    OpCase c = group_case("darts", {kAdd, kWrite}, darts[i], darts[i][1], 2);
    c.check_finite_differences = i == 2;
    rows.push_back(std::move(c));
  }
  OpCase state = group_case("darts", mixed, darts[2], darts[2][1]);
  state.check_finite_differences = false;
  rows.push_back(std::move(state));
  // A folded ReLU (relu_input): a written and an added dx on primes, a member without gradient,
  // and a search cell's two preprocessings at the DARTS shapes, to a quarter of the channels as
  // the cell's 4C → C.
  rows.push_back(group_case("pair_relu", {kWrite, kAdd, kWriteUnused}, {3, 5, 7, 9}, 11, 24, true));
  for (size_t i = 0; i < darts.size(); ++i) {
    OpCase c = group_case("darts_relu", {kAdd, kAdd}, darts[i], darts[i][1] / 4, 2, true);
    c.check_finite_differences = i == 2;
    rows.push_back(std::move(c));
  }
  return rows;
}


// On the CPU each member's forward, dx (written, added, zero-filled, untouched or not wanted) and
// dw equal conv2d's on that member bit for bit, in both dtypes; an added dx is old + conv2d's dx
// once rounded.
// With relu_input, it equals relu then conv2d, and dx relu's backward of conv2d's dx.
TEST(PointwiseGroup, EqualsConv2dMemberByMemberBitForBit) {
  for (bool relu : {false, true})
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + (relu ? " relu_input" : ""));
    const Shape xs_shape{3, 8, 6, 5}, ws_shape{7, 8, 1, 1}, out{3, 7, 6, 5};
    const std::vector<GradMode> modes{GradMode::Write, GradMode::Accumulate, GradMode::Write,
                                      GradMode::Accumulate, GradMode::Accumulate, GradMode::Write};
    const size_t k_count = modes.size();
    std::vector<Tensor> xs, ws, ys, dys, dxs, dws, ref_dxs, ref_dws;
    for (size_t k = 0; k < k_count; ++k) {
      xs.push_back(random_tensor(xs_shape, dtype, 1 + k));
      ws.push_back(random_tensor(ws_shape, dtype, 10 + k));
      ys.push_back(Tensor::empty(out, dtype));
      dys.push_back(random_tensor(out, dtype, 20 + k));
      dxs.push_back(random_tensor(xs_shape, dtype, 30 + k));
      dws.push_back(random_tensor(ws_shape, dtype, 40 + k));
      ref_dxs.push_back(dxs[k].clone());
      ref_dws.push_back(dws[k].clone());
    }
    dys[2] = Tensor();  // a written dx without gradient: zero
    dys[3] = Tensor();  // an added one: untouched
    dws[4] = ref_dws[4] = Tensor();  // a weight that needs no gradient
    dxs[5] = ref_dxs[5] = Tensor();  // an input that needs none

    pointwise_group_forward(xs, ws, ys, relu);
    pointwise_group_backward(xs, ws, dys, dxs, dws, modes, relu);

    for (size_t k = 0; k < k_count; ++k) {
      const std::string m = "member " + std::to_string(k);
      Tensor xr = xs[k];  // the convolution's input
      if (relu) {
        xr = Tensor::empty(xs_shape, dtype);
        unary_forward(UnaryOp::relu, xs[k], xr);
      }
      Tensor y = Tensor::empty(out, dtype);
      conv2d_forward(xr, ws[k], Tensor(), y, Conv2dParams{});
      expect_same_bits(ys[k], y, m + " y");
      Tensor none;
      if (!dxs[k].defined()) {
        if (dws[k].defined()) conv2d_backward(xr, ws[k], dys[k], none, ref_dws[k], none, {});
      } else if (!dys[k].defined()) {
        if (modes[k] == GradMode::Write) ref_dxs[k].fill_(0.0);
      } else {
        Tensor dx = Tensor::empty(xs_shape, dtype);
        conv2d_backward(xr, ws[k], dys[k], dx, ref_dws[k], none, Conv2dParams{});
        if (relu)
          unary_backward(UnaryOp::relu, xs[k], xs[k], dx, ref_dxs[k], modes[k]);
        else if (modes[k] == GradMode::Write)
          ref_dxs[k] = dx;
        else
          axpby(1.0, dx, 1.0, ref_dxs[k]);
      }
      if (dxs[k].defined()) expect_same_bits(dxs[k], ref_dxs[k], m + " dx");
      if (dws[k].defined()) expect_same_bits(dws[k], ref_dws[k], m + " dw");
    }
  }
}

// A wrong member names itself and its tensor.
TEST(PointwiseGroup, ErrorsNameTheMember) {
  const Tensor x = Tensor::zeros({2, 4, 3, 3}), w = Tensor::zeros({5, 4, 1, 1});
  auto ys = [](size_t n) {
    std::vector<Tensor> out;
    for (size_t k = 0; k < n; ++k) out.push_back(Tensor::zeros({2, 5, 3, 3}));
    return out;
  };
  std::vector<Tensor> y3 = ys(3);
  EXPECT_NO_THROW(pointwise_group_forward({x, x.clone(), x.clone()}, {w, w, w}, y3, false));
  const Tensor x_wrong = Tensor::zeros({2, 4, 3, 2});
  EXPECT_NE(error_message_of([&] { pointwise_group_forward({x, x, x_wrong}, {w, w, w}, y3, false); })
                .find("member 2 x"), std::string::npos);
  const Tensor w_wrong = Tensor::zeros({5, 3, 1, 1});
  EXPECT_NE(error_message_of([&] { pointwise_group_forward({x, x, x}, {w, w_wrong, w}, y3, false); })
                .find("member 1 weight"), std::string::npos);
  const Tensor w3x3 = Tensor::zeros({5, 4, 3, 3});
  EXPECT_NE(error_message_of([&] { pointwise_group_forward({x}, {w3x3}, y3, false); })
                .find("member 0 weight"), std::string::npos);
  std::vector<Tensor> y_wrong = {y3[0], Tensor::zeros({2, 5, 3, 3}, DType::f64), y3[2]};
  EXPECT_NE(error_message_of([&] { pointwise_group_forward({x, x, x}, {w, w, w}, y_wrong, false); })
                .find("member 1 y"), std::string::npos);
  std::vector<Tensor> y_alias = {y3[0], y3[0], y3[2]};
  EXPECT_NE(error_message_of([&] { pointwise_group_forward({x, x, x}, {w, w, w}, y_alias, false); })
                .find("member 1 y"), std::string::npos);
  EXPECT_THROW(pointwise_group_forward({x, x}, {w, w, w}, y3, false), Error);  // weight count
  std::vector<Tensor> none;
  EXPECT_THROW(pointwise_group_forward({}, {}, none, false), Error);  // no members
  std::vector<Tensor> y25 = ys(kMaxGroupMembers + 1);
  EXPECT_THROW(pointwise_group_forward(std::vector<Tensor>(kMaxGroupMembers + 1, x),
                                       std::vector<Tensor>(kMaxGroupMembers + 1, w), y25, false),
               Error);

  const std::vector<GradMode> modes(2, GradMode::Write);
  std::vector<Tensor> dxs = {Tensor::zeros(x.shape()), Tensor::zeros(x.shape())};
  std::vector<Tensor> dws = {Tensor::zeros(w.shape()), Tensor::zeros(w.shape())};
  const std::vector<Tensor> dys = ys(2);
  EXPECT_NO_THROW(pointwise_group_backward({x, x}, {w, w}, dys, dxs, dws, modes, false));
  const std::vector<Tensor> dy_wrong = {dys[0], Tensor::zeros({2, 5, 3, 2})};
  EXPECT_NE(error_message_of([&] { pointwise_group_backward({x, x}, {w, w}, dy_wrong, dxs, dws, modes, false); })
                .find("member 1 dy"), std::string::npos);
  std::vector<Tensor> dx_wrong = {Tensor::zeros({2, 4, 3, 2}), dxs[1]};
  EXPECT_NE(error_message_of([&] { pointwise_group_backward({x, x}, {w, w}, dys, dx_wrong, dws, modes, false); })
                .find("member 0 dx"), std::string::npos);
  std::vector<Tensor> dw_shared = {dws[0], dws[0]};  // one gradient for two members
  EXPECT_NE(error_message_of([&] { pointwise_group_backward({x, x}, {w, w}, dys, dxs, dw_shared, modes, false); })
                .find("member 1 dweight"), std::string::npos);
  EXPECT_THROW(pointwise_group_backward({x, x}, {w, w}, dys, dxs, dws, {GradMode::Write}, false), Error);
}

}  // namespace autonet::test
