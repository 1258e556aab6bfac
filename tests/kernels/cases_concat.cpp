// Rows and hand-computed checks for kernels/concat.h.
#include <gtest/gtest.h>

#include "kernels/concat.h"
#include "tests/kernels/accumulate_checks.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// modes: how backward treats each part's dx (empty: all written).
OpCase concat_case(const std::vector<Shape>& parts, int64_t axis, int fd_samples = 24,
                   const std::vector<GradMode>& modes = {}) {
  OpCase c;
  c.name = std::string("concat/axis") + std::to_string(axis) + "/";
  Shape y_shape = parts[0];
  const int64_t k = axis < 0 ? axis + static_cast<int64_t>(y_shape.size()) : axis;
  y_shape[k] = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) c.name += "+";
    c.name += shape_str(parts[i]);
    c.inputs.push_back({std::string("x") + std::to_string(i), parts[i]});
    if (!modes.empty()) c.inputs.back().grad_mode = modes[i];
    y_shape[k] += parts[i][k];
  }
  bool added = false;
  for (GradMode m : modes) added = added || m == GradMode::Accumulate;
  if (added) c.name += "/dx_added";
  c.outputs = {{"y", y_shape}};
  c.forward = [axis](const Tensors& in, Tensors& out) { concat_forward(in, axis, out[0]); };
  c.backward = [axis, modes](const Tensors&, const Tensors&, const Tensors& dout, Tensors& din) {
    concat_backward(dout[0], axis, din, modes);
  };
  expect_pure_copies(c);
  c.fd_samples = fd_samples;
  return c;
}

// dx written, or added per dx_mode (the α rows' cut softmax already has a gradient).
OpCase slice2d_case(const Shape& x_shape, const Slice2dParams& p, int fd_samples = 24,
                    GradMode dx_mode = GradMode::Write) {
  OpCase c;
  c.name = "concat/slice2d/off" + std::to_string(p.offset_h) + "x" + std::to_string(p.offset_w) +
           "/stride" + std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + "/" +
           shape_str(x_shape) + (dx_mode == GradMode::Accumulate ? "/dx_added" : "");
  c.inputs = {{"x", x_shape}};
  c.inputs[0].grad_mode = dx_mode;
  c.outputs = {{"y", {x_shape[0], x_shape[1], p.out_h, p.out_w}}};
  c.forward = [p](const Tensors& in, Tensors& out) { slice2d_forward(in[0], out[0], p); };
  c.backward = [p, dx_mode](const Tensors&, const Tensors&, const Tensors& dout, Tensors& din) {
    slice2d_backward(dout[0], din[0], p, dx_mode);
  };
  expect_pure_copies(c);
  c.fd_samples = fd_samples;
  return c;
}

// FactorizedReduce's second path: x[:, :, 1::2, 1::2] of an H×W map.
Slice2dParams odd_pixels(int64_t h, int64_t w) {
  Slice2dParams p;
  p.offset_h = p.offset_w = 1;
  p.stride_h = p.stride_w = 2;
  p.out_h = h / 2;  // rows 1, 3, ... below h
  p.out_w = w / 2;
  return p;
}
}  // namespace

std::vector<OpCase> concat_cases() {
  std::vector<OpCase> rows;
  // A DARTS reduction-free cell: 4 node outputs [64, 16, 32, 32] joined on channels.
  const Shape node = darts_image_shapes()[0];
  OpCase cell = concat_case({node, node, node, node}, 1);
  cell.check_finite_differences = false;  // 4 × 4M-element forwards per probe; the small rows cover it
  rows.push_back(cell);
  rows.push_back(concat_case({{2, 3, 5, 7}, {2, 1, 5, 7}, {2, 4, 5, 7}}, 1));  // odd channels
  rows.push_back(concat_case({{1}, {1}}, 0));
  rows.push_back(concat_case({{3, 5}, {1, 5}, {2, 5}}, 0));       // the leading axis
  rows.push_back(concat_case({{3, 2, 5}, {3, 2, 1}, {3, 2, 7}}, -1));  // the last axis
  rows.push_back(concat_case({{2, 3}, {2, 0}, {2, 4}}, 1));       // an empty part
  // Nine parts: more than one launch's worth on CUDA.
  rows.push_back(concat_case(std::vector<Shape>(9, Shape{2, 3, 4}), 1));
  // Parts added into gradients already there: the recurrent cell's states, stacked on a new
  // leading axis for each later node (autograd stack), some written, some added; nine parts.
  const GradMode W = GradMode::Write, A = GradMode::Accumulate;
  rows.push_back(concat_case({{1, 4, 6}, {1, 4, 6}, {1, 4, 6}}, 0, 24, {A, W, A}));
  rows.push_back(concat_case(std::vector<Shape>(9, Shape{1, 3, 5}), 0, 24,
                             {A, A, W, A, W, W, A, A, A}));
  rows.push_back(concat_case({{2, 3, 5, 7}, {2, 1, 5, 7}}, 1, 24, {W, A}));
  rows.push_back(slice2d_case(node, odd_pixels(32, 32), 8));
  rows.push_back(slice2d_case({2, 3, 7, 7}, odd_pixels(7, 7)));
  Slice2dParams uneven;
  uneven.offset_h = 2, uneven.offset_w = 0, uneven.stride_h = 3, uneven.stride_w = 1;
  uneven.out_h = 2, uneven.out_w = 4;
  rows.push_back(slice2d_case({1, 2, 6, 5}, uneven));
  rows.push_back(slice2d_case({1, 2, 6, 5}, uneven, 24, GradMode::Accumulate));
  rows.push_back(slice2d_case({2, 3, 7, 7}, odd_pixels(7, 7), 24, GradMode::Accumulate));
  return rows;
}

// Added into a gradient already there: the written dx added with axpby, bit for bit.
TEST(Slice2d, AccumulatedDxIsWrittenDxAddedWithAxpbyExactly) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Shape x{2, 3, 7, 7};
    const Slice2dParams p = odd_pixels(7, 7);
    Tensor dy = Tensor::empty({2, 3, p.out_h, p.out_w}, dtype);
    fill_uniform(dy, -1.0, 1.0, 1);
    expect_added_dx_is_written_dx_plus_axpby(
        x, dtype, [&](Tensor& dx, GradMode mode) { slice2d_backward(dy, dx, p, mode); });
  }
}

// Added into a gradient already there: the written part added with axpby, bit for bit.
TEST(Concat, AddedPartIsWrittenPartAddedWithAxpbyExactly) {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor dy = Tensor::empty({3, 4, 5}, dtype);
    fill_uniform(dy, -1.0, 1.0, 2);
    expect_added_dx_is_written_dx_plus_axpby({1, 4, 5}, dtype, [&](Tensor& dx, GradMode mode) {
      Tensor first = Tensor::empty({2, 4, 5}, dtype);
      std::vector<Tensor> dxs{first, dx};
      concat_backward(dy, 0, dxs, {GradMode::Write, mode});
    });
  }
}

TEST(Concat, HandComputedValues) {
  // [[1, 2], [3, 4]] ++ [[5], [6]] on the last axis.
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}), b = Tensor::from_vector<float>({5, 6}, {2, 1});
  Tensor y = Tensor::empty({2, 3});
  concat_forward({a, b}, 1, y);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  Tensor rows = Tensor::empty({3, 2});
  Tensor c = Tensor::from_vector<float>({7, 8}, {1, 2});
  concat_forward({a, c}, 0, rows);
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 7, 8}));

  // Split back, and with the first part's gradient not wanted.
  std::vector<Tensor> dxs = {Tensor::empty({2, 2}), Tensor::empty({2, 1})};
  concat_backward(y, -1, dxs);
  EXPECT_EQ(dxs[0].to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(dxs[1].to_vector<float>(), b.to_vector<float>());
  std::vector<Tensor> only_second = {Tensor(), Tensor::empty({2, 1})};
  concat_backward(y, 1, only_second);
  EXPECT_EQ(only_second[1].to_vector<float>(), (std::vector<float>{5, 6}));

  // slice2d: x[:, :, 1::2, 1::2] of a 3×3 map [[0,1,2],[3,4,5],[6,7,8]] is [[4]].
  Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 3, 3});
  Slice2dParams p;
  p.offset_h = p.offset_w = 1, p.stride_h = p.stride_w = 2, p.out_h = p.out_w = 1;
  Tensor s = Tensor::empty({1, 1, 1, 1});
  slice2d_forward(x, s, p);
  EXPECT_EQ(s.item(), 4.0);
  Slice2dParams corners;
  corners.stride_h = corners.stride_w = 2, corners.out_h = corners.out_w = 2;
  Tensor four = Tensor::empty({1, 1, 2, 2});
  slice2d_forward(x, four, corners);
  EXPECT_EQ(four.to_vector<float>(), (std::vector<float>{0, 2, 6, 8}));
  Tensor dx = Tensor::full({1, 1, 3, 3}, 9.0);
  slice2d_backward(four, dx, corners);
  EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0, 0, 2, 0, 0, 0, 6, 0, 8}));
}

TEST(Concat, RejectsBadArguments) {
  Tensor a = Tensor::empty({2, 3}), b = Tensor::empty({2, 4}), y = Tensor::empty({2, 7});
  concat_forward({a, b}, 1, y);  // the valid call
  EXPECT_THROW(concat_forward({}, 1, y), Error);
  EXPECT_THROW(concat_forward({a, b}, 2, y), Error);                 // axis
  EXPECT_THROW(concat_forward({a, b}, 0, y), Error);                 // sizes off the axis
  Tensor short_y = Tensor::empty({2, 6});
  EXPECT_THROW(concat_forward({a, b}, 1, short_y), Error);           // sizes along the axis
  Tensor a3 = Tensor::empty({2, 3, 1});
  EXPECT_THROW(concat_forward({a3, b}, 1, y), Error);                // rank
  Tensor a64 = Tensor::empty({2, 3}, DType::f64);
  EXPECT_THROW(concat_forward({a64, b}, 1, y), Error);               // dtype
  Tensor strided = Tensor::empty({2, 6}).slice(1, 0, 6, 2);
  EXPECT_THROW(concat_forward({strided, b}, 1, y), Error);           // non-contiguous part
  EXPECT_THROW(concat_forward({a, Tensor()}, 1, y), Error);          // undefined input
  Tensor iy = Tensor::empty({2, 7}, DType::i32);
  EXPECT_THROW(concat_forward({a, b}, 1, iy), Error);                // not float
  std::vector<Tensor> two_missing = {Tensor(), Tensor()};
  EXPECT_THROW(concat_backward(y, 1, two_missing), Error);           // cannot infer both
  std::vector<Tensor> too_long = {Tensor(), Tensor::empty({2, 8})};
  EXPECT_THROW(concat_backward(y, 1, too_long), Error);
  std::vector<Tensor> wrong = {Tensor::empty({2, 3}), Tensor::empty({3, 4})};
  EXPECT_THROW(concat_backward(y, 1, wrong), Error);
  // Modes: one per part; parts that share memory or overlap dy would add twice or read what
  // they write.
  std::vector<Tensor> parts = {Tensor::empty({2, 3}), Tensor::empty({2, 4})};
  EXPECT_THROW(concat_backward(y, 1, parts, {GradMode::Accumulate}), Error);
  EXPECT_NO_THROW(concat_backward(y, 1, parts, {GradMode::Write, GradMode::Accumulate}));
  Tensor both = Tensor::empty({14});
  std::vector<Tensor> shared = {both.slice(0, 0, 6).view({2, 3}),
                                both.slice(0, 6, 14).view({2, 4})};
  EXPECT_NO_THROW(concat_backward(y, 1, shared));  // neighbours, not overlapping
  shared[1] = both.slice(0, 4, 12).view({2, 4});
  EXPECT_NE(error_message_of([&] { concat_backward(y, 1, shared); }).find("same memory"),
            std::string::npos);
  std::vector<Tensor> into_dy = {y.view({14}).slice(0, 0, 6).view({2, 3}), Tensor()};
  EXPECT_NE(error_message_of([&] { concat_backward(y, 1, into_dy); }).find("overlaps dy"),
            std::string::npos);

  Tensor x = Tensor::empty({2, 3, 7, 7}), s = Tensor::empty({2, 3, 3, 3});
  Slice2dParams p;
  p.offset_h = p.offset_w = 1, p.stride_h = p.stride_w = 2, p.out_h = p.out_w = 3;
  slice2d_forward(x, s, p);  // valid: reads rows and columns 1, 3, 5
  Slice2dParams past = p;
  past.out_h = 4;  // would read row 7
  Tensor s4 = Tensor::empty({2, 3, 4, 3});
  EXPECT_THROW(slice2d_forward(x, s4, past), Error);
  Slice2dParams bad = p;
  bad.stride_w = 0;
  EXPECT_THROW(slice2d_forward(x, s, bad), Error);
  bad = p;
  bad.offset_h = -1;
  EXPECT_THROW(slice2d_forward(x, s, bad), Error);
  bad = p;
  bad.out_w = 0;
  Tensor s0 = Tensor::empty({2, 3, 3, 0});
  EXPECT_THROW(slice2d_forward(x, s0, bad), Error);
  Tensor wrong_y = Tensor::empty({2, 3, 3, 2});
  EXPECT_THROW(slice2d_forward(x, wrong_y, p), Error);
  Tensor x3 = Tensor::empty({3, 7, 7});
  EXPECT_THROW(slice2d_forward(x3, s, p), Error);
  Tensor dx = Tensor::empty({2, 3, 7, 7}), dx_small = Tensor::empty({2, 3, 5, 5});
  slice2d_backward(s, dx, p);
  EXPECT_THROW(slice2d_backward(s, dx_small, past), Error);
  EXPECT_THROW(slice2d_backward(wrong_y, dx, p), Error);
}

}  // namespace autonet::test
