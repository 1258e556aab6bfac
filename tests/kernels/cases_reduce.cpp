// Rows and hand-computed checks for kernels/reduce.h.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "kernels/reduce.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::mean: return "mean";
    case ReduceOp::max: return "max";
  }
  return "?";
}

OpCase reduce_case(ReduceOp op, const Shape& shape, int64_t axis, int fd_samples = 24) {
  OpCase c;
  c.name = std::string("reduce/") + reduce_op_name(op) + "/axis" + std::to_string(axis) + "/" +
           shape_str(shape);
  InputSpec x{"x", shape};
  if (op == ReduceOp::max) x.fill = Fill::distinct;  // no ties: the maximum is not at a kink
  c.inputs = {x};
  c.outputs = {{"y", reduce_out_shape(shape, axis)}};
  c.forward = [op, axis](const Tensors& in, Tensors& out) { reduce_forward(op, in[0], axis, out[0]); };
  c.backward = [op, axis](const Tensors& in, const Tensors& out, const Tensors& dout, Tensors& din) {
    reduce_backward(op, in[0], out[0], dout[0], axis, din[0]);
  };
  c.set_tolerance(1e-6, 1e-6,
                  "sums run in double on both twins; only the block reduction's order and one rounding differ");
  c.exact_on_integers = true;
  c.fd_samples = fd_samples;
  return c;
}

// Σ x² written, or added to a start value, into a [1] tensor. No gradient: a parity row.
OpCase sum_of_squares_case(const Shape& shape, GradMode mode) {
  OpCase c;
  const bool accumulate = mode == GradMode::Accumulate;
  c.name = std::string("reduce/sum_of_squares/") + (accumulate ? "accumulate/" : "write/") +
           shape_str(shape);
  c.inputs = {{"x", shape}, {"start", {1}}};
  c.outputs = {{"out", {1}}};
  c.forward = [mode](const Tensors& in, Tensors& out) {
    if (mode == GradMode::Accumulate) out[0].copy_from(in[1]);
    sum_of_squares(in[0], out[0], mode);
  };
  c.set_tolerance(1e-6, 1e-6, "double sums in a different order, one float rounding");
  c.exact_on_integers = true;
  return c;
}

OpCase global_norm_case(const Shape& a, const Shape& b) {
  OpCase c;
  c.name = "reduce/global_norm/" + shape_str(a) + "+" + shape_str(b);
  c.inputs = {{"a", a}, {"b", b}};
  c.outputs = {{"norm", {1}}};
  c.forward = [](const Tensors& in, Tensors& out) { out[0].fill_(global_norm({in[0], in[1]})); };
  c.set_tolerance(1e-6, 1e-6, "double sums in a different order");
  return c;
}

OpCase clip_case(const Shape& shape, double max_norm) {
  OpCase c;
  c.name = "reduce/clip_grad_norm/max" + std::to_string(max_norm) + "/" + shape_str(shape);
  c.inputs = {{"grad", shape}};
  c.outputs = {{"clipped", shape}, {"total", {1}}};
  c.forward = [max_norm](const Tensors& in, Tensors& out) {
    out[0].copy_from(in[0]);
    out[1].fill_(clip_grad_norm(out[0], max_norm));
  };
  c.set_tolerance(1e-6, 1e-6, "the norm's double sum in a different order, then one float scaling");
  return c;
}
// A parity row (no gradient) of an entry that turns x into float64 scalars on the device:
// `scalars(x)` returns them, the row writes them in its dtype.
OpCase device_scalars_case(const std::string& name, const Shape& shape, int64_t count,
                           std::function<Tensor(const Tensor&)> scalars, const char* why) {
  OpCase c;
  c.name = "reduce/" + name + "/" + shape_str(shape);
  c.inputs = {{"x", shape}};
  c.outputs = {{name, {count}}};
  c.forward = [scalars](const Tensors& in, Tensors& out) {
    out[0].copy_from(scalars(in[0]).to(Device::cpu()).to(out[0].dtype()).to(out[0].device()));
  };
  c.set_tolerance(1e-6, 1e-6, why);
  return c;
}

// {‖x‖, R, 1/(2R)} of a central difference along x, from Σx² on the device.
OpCase central_difference_case(const Shape& shape, double step) {
  return device_scalars_case(
      "central_difference_scales", shape, 3,
      [step](const Tensor& x) {
        Tensor sum_sq = Tensor::empty({1}, DType::f64, x.device());
        sum_of_squares(x, sum_sq);
        Tensor scales = Tensor::empty({3}, DType::f64, x.device());
        central_difference_scales(sum_sq, step, scales);
        return scales;
      },
      "Σx² in double in a different order, then one sqrt and division");
}

// max_norm / (‖x‖ + 1e-6) from clip_grad_norm_async's norm, on the device.
OpCase clip_coefficient_case(const Shape& shape, double max_norm) {
  return device_scalars_case(
      "clip_coefficient", shape, 1,
      [max_norm](const Tensor& x) {
        Tensor g = x.clone();
        Tensor coefficient = Tensor::empty({1}, DType::f64, x.device());
        clip_coefficient(clip_grad_norm_async(g, max_norm), max_norm, coefficient);
        return coefficient;
      },
      "the norm's double sum in a different order, then one division");
}
}  // namespace

std::vector<OpCase> reduce_cases() {
  std::vector<OpCase> rows;
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max}) {
    rows.push_back(reduce_case(op, {1}, 0));
    rows.push_back(reduce_case(op, {7, 13}, 0));
    rows.push_back(reduce_case(op, {7, 13}, -1));
    rows.push_back(reduce_case(op, {3, 5, 7}, 1));
    rows.push_back(reduce_case(op, {4, 10000}, 1, 8));  // long rows: the block-per-row kernel
  }
  // The search network's global average pool: [64, 256, 8·8] averaged over the pixels.
  rows.push_back(reduce_case(ReduceOp::mean, {64, 256, 64}, 2, 8));
  rows.push_back(reduce_case(ReduceOp::sum, darts_image_shapes()[0], 1, 8));
  rows.push_back(sum_of_squares_case({1}, GradMode::Write));
  rows.push_back(sum_of_squares_case({7, 13}, GradMode::Accumulate));
  rows.push_back(sum_of_squares_case({257, 1031}, GradMode::Write));  // several blocks of pass 1
  rows.push_back(global_norm_case({17}, {3, 5, 7}));
  rows.push_back(clip_case({10, 10}, 0.25));   // norm ≈ 5.8: scaled down
  rows.push_back(clip_case({10, 10}, 1000.0)); // below the limit: untouched
  rows.push_back(central_difference_case({3, 5, 7}, 0.01));
  rows.push_back(clip_coefficient_case({10, 10}, 0.25));
  return rows;
}

TEST(Reduce, HandComputedValues) {
  // x = [[1, 5, 5], [4, 2, 0]]
  Tensor x = Tensor::from_vector<double>({1, 5, 5, 4, 2, 0}, {2, 3});
  Tensor rows = Tensor::empty({2}, DType::f64), cols = Tensor::empty({3}, DType::f64);
  reduce_forward(ReduceOp::sum, x, 1, rows);
  EXPECT_EQ(rows.to_vector<double>(), (std::vector<double>{11, 6}));
  reduce_forward(ReduceOp::sum, x, 0, cols);
  EXPECT_EQ(cols.to_vector<double>(), (std::vector<double>{5, 7, 5}));
  reduce_forward(ReduceOp::mean, x, -1, rows);
  EXPECT_EQ(rows.to_vector<double>(), (std::vector<double>{11.0 / 3, 2}));
  reduce_forward(ReduceOp::max, x, 1, rows);
  EXPECT_EQ(rows.to_vector<double>(), (std::vector<double>{5, 4}));

  // The tie in row 0 sends the gradient to the first 5 only.
  Tensor dy = Tensor::from_vector<double>({10, 20}, {2}), dx = Tensor::empty({2, 3}, DType::f64);
  reduce_backward(ReduceOp::max, x, rows, dy, 1, dx);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 10, 0, 20, 0, 0}));
  reduce_backward(ReduceOp::mean, x, rows, dy, 1, dx);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{10.0 / 3, 10.0 / 3, 10.0 / 3, 20.0 / 3,
                                                         20.0 / 3, 20.0 / 3}));
  Tensor dcols = Tensor::from_vector<double>({1, 2, 3}, {3});
  reduce_backward(ReduceOp::sum, x, cols, dcols, 0, dx);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));

  // A 1-D input reduces to shape [1].
  Tensor v = Tensor::from_vector<float>({-3, 2}, {2}), s = Tensor::empty({1});
  reduce_forward(ReduceOp::max, v, 0, s);
  EXPECT_EQ(s.item(), 2.0);
}

TEST(Reduce, SumOfSquaresGlobalNormAndClip) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor out = Tensor::empty({1});
  sum_of_squares(x, out);
  EXPECT_EQ(out.item(), 14.0);
  sum_of_squares(x, out, GradMode::Accumulate);
  EXPECT_EQ(out.item(), 28.0);
  Tensor out64 = Tensor::full({1}, 0.5, DType::f64);  // f32 input into an f64 total
  sum_of_squares(x, out64, GradMode::Accumulate);
  EXPECT_EQ(out64.item(), 14.5);

  Tensor a = Tensor::from_vector<float>({3}, {1}), b = Tensor::from_vector<float>({0, 4}, {2});
  EXPECT_EQ(global_norm({a, Tensor(), b}), 5.0);  // undefined gradients are skipped
  EXPECT_EQ(global_norm({}), 0.0);

  // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (total + 1e-6), applied when < 1.
  Tensor g = Tensor::from_vector<double>({3, 4}, {2});
  EXPECT_EQ(clip_grad_norm(g, 1.0), 5.0);
  const double coefficient = 1.0 / (5.0 + 1e-6);
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{3 * coefficient, 4 * coefficient}));
  Tensor h = Tensor::from_vector<double>({3, 4}, {2});
  EXPECT_EQ(clip_grad_norm(h, 5.0), 5.0);  // coefficient 5 / (5 + 1e-6) < 1: still scaled
  EXPECT_LT(h.to_vector<double>()[1], 4.0);
  Tensor k = Tensor::from_vector<double>({3, 4}, {2});
  EXPECT_EQ(clip_grad_norm(k, 6.0), 5.0);
  EXPECT_EQ(k.to_vector<double>(), (std::vector<double>{3, 4}));

  // The device-side half: Σx² = 25 read from a tensor, the norm written beside it.
  Tensor m = Tensor::from_vector<float>({3, 4}, {2});
  Tensor sum_sq = Tensor::from_vector<double>({25}, {1}), norm = Tensor::empty({1}, DType::f64);
  scale_to_max_norm(m, sum_sq, 2.5, norm);
  EXPECT_EQ(norm.item(), 5.0);
  const float half = static_cast<float>(2.5 / (5.0 + 1e-6));
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{3 * half, 4 * half}));
  Tensor nan_sum = Tensor::from_vector<double>({std::nan("")}, {1});
  scale_to_max_norm(m, nan_sum, 2.5, norm);  // a NaN norm leaves the gradient as it is
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{3 * half, 4 * half}));
  EXPECT_TRUE(std::isnan(norm.item()));
  EXPECT_EQ(clip_grad_norm_async(m, 100.0).item(), std::sqrt(double(3 * half) * (3 * half) + double(4 * half) * (4 * half)));
}

TEST(Reduce, CentralDifferenceScales) {
  Tensor sum_sq = Tensor::from_vector<double>({25}, {1}), scales = Tensor::empty({3}, DType::f64);
  central_difference_scales(sum_sq, 0.01, scales);  // ‖v‖ = 5, R = 0.002, 1/(2R) = 250
  EXPECT_EQ(scales.to_vector<double>(), (std::vector<double>{5, 0.01 / 5, 1 / (2 * (0.01 / 5))}));
  sum_sq.fill_(0);  // no direction: both points are w, the difference counts nothing
  central_difference_scales(sum_sq, 0.01, scales);
  EXPECT_EQ(scales.to_vector<double>(), (std::vector<double>{0, 0, 0}));
  sum_sq.fill_(std::nan(""));  // the caller's check sees ‖v‖
  central_difference_scales(sum_sq, 0.01, scales);
  for (double s : scales.to_vector<double>()) EXPECT_TRUE(std::isnan(s));
  Tensor f32_scales = Tensor::empty({3}), two = Tensor::empty({2}, DType::f64);
  EXPECT_THROW(central_difference_scales(sum_sq, 0.0, scales), Error);        // step not positive
  EXPECT_THROW(central_difference_scales(sum_sq, 0.01, f32_scales), Error);   // not float64
  EXPECT_THROW(central_difference_scales(sum_sq, 0.01, two), Error);          // not [3]
  EXPECT_THROW(central_difference_scales(scales, 0.01, scales), Error);       // sum_sq not [1]
}

TEST(Reduce, ClipCoefficient) {
  Tensor norm = Tensor::from_vector<double>({4}, {1}), coefficient = Tensor::empty({1}, DType::f64);
  clip_coefficient(norm, 0.25, coefficient);  // as the host computes it: unclamped
  EXPECT_EQ(coefficient.item(), 0.25 / (4 + 1e-6));
  clip_coefficient(norm, 100.0, coefficient);
  EXPECT_EQ(coefficient.item(), 100.0 / (4 + 1e-6));
  Tensor f32 = Tensor::empty({1}), two = Tensor::empty({2}, DType::f64);
  EXPECT_THROW(clip_coefficient(norm, 0.0, coefficient), Error);  // max_norm not positive
  EXPECT_THROW(clip_coefficient(norm, 1.0, f32), Error);          // not float64
  EXPECT_THROW(clip_coefficient(two, 1.0, coefficient), Error);   // norm not [1]
}

// Fixed-order block reductions: the same input gives the same bits every time, and the f64 total
// over many blocks agrees with the CPU's to double rounding.
TEST(Reduce, CudaSumOfSquaresIsDeterministic) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "needs a GPU: " << why;
  Tensor x = Tensor::empty({3000017});
  fill_uniform(x, -1.0, 1.0, 42);
  Tensor xg = x.to(Device::cuda(0));
  Tensor first = Tensor::empty({1}, DType::f64, Device::cuda(0)), again = first.clone();
  sum_of_squares(xg, first);
  sum_of_squares(xg, again);
  EXPECT_EQ(first.item(), again.item());
  Tensor host = Tensor::empty({1}, DType::f64);
  sum_of_squares(x, host);
  EXPECT_NEAR(first.item(), host.item(), 1e-9 * host.item());
  EXPECT_EQ(global_norm({xg, xg}), global_norm({xg, xg}));
}

TEST(Reduce, RejectsBadArguments) {
  Tensor x = Tensor::empty({3, 4}), y = Tensor::empty({3});
  Tensor ok = Tensor::empty({3}), wrong = Tensor::empty({4}), d = Tensor::empty({3}, DType::f64);
  EXPECT_THROW(reduce_forward(ReduceOp::sum, x, 2, ok), Error);      // axis out of range
  EXPECT_THROW(reduce_forward(ReduceOp::sum, x, -3, ok), Error);
  EXPECT_THROW(reduce_forward(ReduceOp::sum, x, 1, wrong), Error);   // y shape
  EXPECT_THROW(reduce_forward(ReduceOp::sum, x, 1, d), Error);       // y dtype
  Tensor undefined;
  EXPECT_THROW(reduce_forward(ReduceOp::sum, x, 1, undefined), Error);
  Tensor ints = Tensor::empty({3, 4}, DType::i32), iy = Tensor::empty({3}, DType::i32);
  EXPECT_THROW(reduce_forward(ReduceOp::sum, ints, 1, iy), Error);   // not float
  Tensor strided = Tensor::empty({3, 8}).slice(1, 0, 8, 2);
  EXPECT_THROW(reduce_forward(ReduceOp::sum, strided, 1, ok), Error);  // non-contiguous
  Tensor empty_axis = Tensor::empty({3, 0});
  EXPECT_THROW(reduce_forward(ReduceOp::max, empty_axis, 1, ok), Error);
  EXPECT_THROW(reduce_forward(ReduceOp::mean, empty_axis, 1, ok), Error);
  EXPECT_THROW(reduce_backward(ReduceOp::max, empty_axis, ok, ok, 1, empty_axis), Error);
  Tensor dx = Tensor::empty({3, 4}), bad_dx = Tensor::empty({4, 3});
  EXPECT_THROW(reduce_backward(ReduceOp::sum, x, y, wrong, 1, dx), Error);   // dy shape
  EXPECT_THROW(reduce_backward(ReduceOp::sum, x, wrong, y, 1, dx), Error);   // y shape
  EXPECT_THROW(reduce_backward(ReduceOp::sum, x, y, y, 1, bad_dx), Error);   // dx shape
  EXPECT_THROW(reduce_backward(ReduceOp::sum, x, y, d, 1, dx), Error);       // dy dtype
  EXPECT_THROW(reduce_backward(ReduceOp::sum, x, y, y, 5, dx), Error);       // axis

  Tensor two = Tensor::empty({2});
  EXPECT_THROW(sum_of_squares(x, two), Error);          // out must be [1]
  Tensor iout = Tensor::empty({1}, DType::i64);
  EXPECT_THROW(sum_of_squares(x, iout), Error);         // out not float
  Tensor one = Tensor::empty({1});
  EXPECT_THROW(sum_of_squares(ints, one), Error);       // x not float
  EXPECT_THROW(sum_of_squares(strided, one), Error);    // x non-contiguous
  Tensor grad = Tensor::empty({4}), ss = Tensor::zeros({1}, DType::f64);
  Tensor nrm = Tensor::empty({1}, DType::f64), f32_norm = Tensor::empty({1});
  EXPECT_THROW(scale_to_max_norm(grad, ss, 0.0, nrm), Error);        // max_norm not positive
  EXPECT_THROW(scale_to_max_norm(grad, ss, 1.0, f32_norm), Error);   // norm not float64
  EXPECT_THROW(scale_to_max_norm(grad, ss, 1.0, ss), Error);         // norm aliases sum_sq
  EXPECT_THROW(scale_to_max_norm(grad, two, 1.0, nrm), Error);       // sum_sq not [1]
  EXPECT_THROW(scale_to_max_norm(strided, ss, 1.0, nrm), Error);     // grad non-contiguous
  Tensor g = Tensor::empty({4});
  EXPECT_THROW(clip_grad_norm(g, 0.0), Error);
  EXPECT_THROW(clip_grad_norm(g, -1.0), Error);
  EXPECT_THROW(clip_grad_norm(g, std::nan("")), Error);
  Tensor ig = Tensor::empty({4}, DType::i32);
  EXPECT_THROW(clip_grad_norm(ig, 1.0), Error);
  EXPECT_THROW(global_norm({ints}), Error);
}

}  // namespace autonet::test
