// Rows and hand-computed checks for kernels/elementwise.h.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/elementwise.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
OpCase unary_case(UnaryOp op, const Shape& shape) {
  OpCase c;
  c.name = std::string("elementwise/") + unary_op_name(op) + "/" + shape_str(shape);
  InputSpec x{"x", shape};
  if (op == UnaryOp::relu) x.fill = Fill::nonzero, x.low = 0.05, x.high = 2.0;  // away from the kink
  if (op == UnaryOp::log) x.low = 0.2, x.high = 3.0;                            // inside the domain
  c.inputs = {x};
  c.outputs = {{"y", shape}};
  c.forward = [op](const Tensors& in, Tensors& out) { unary_forward(op, in[0], out[0]); };
  c.backward = [op](const Tensors& in, const Tensors& out, const Tensors& dout, Tensors& din) {
    unary_backward(op, in[0], out[0], dout[0], din[0]);
  };
  c.set_tolerance(
      1e-6, 2e-6,
      "CUDA's tanhf/expf/logf are within 2 ulp of the host's (libm; kernels/vector_math.h, 4 ulp)");
  c.exact_on_integers = op == UnaryOp::relu || op == UnaryOp::identity;
  return c;
}

OpCase binary_case(BinaryOp op, const char* name, const Shape& shape) {
  OpCase c;
  c.name = std::string("elementwise/") + name + "/" + shape_str(shape);
  c.inputs = {{"a", shape}, {"b", shape}};
  c.outputs = {{"out", shape}};
  c.forward = [op](const Tensors& in, Tensors& out) { binary_forward(op, in[0], in[1], out[0]); };
  // d(a∘b): add → (g, g), sub → (g, -g), mul → (g·b, g·a), composed from the same entries.
  c.backward = [op](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    if (op == BinaryOp::mul) {
      binary_forward(BinaryOp::mul, dout[0], in[1], din[0]);
      binary_forward(BinaryOp::mul, dout[0], in[0], din[1]);
    } else {
      axpby(1.0, dout[0], 0.0, din[0]);
      axpby(op == BinaryOp::sub ? -1.0 : 1.0, dout[0], 0.0, din[1]);
    }
  };
  c.exact_on_integers = true;
  return c;
}

OpCase axpby_case(double alpha, double beta, const Shape& shape) {
  OpCase c;
  c.name = "elementwise/axpby/" + shape_str(shape);
  c.inputs = {{"x", shape}, {"y0", shape}};
  c.outputs = {{"y", shape}};
  c.forward = [alpha, beta](const Tensors& in, Tensors& out) {
    out[0].copy_from(in[1]);
    axpby(alpha, in[0], beta, out[0]);
  };
  c.backward = [alpha, beta](const Tensors&, const Tensors&, const Tensors& dout, Tensors& din) {
    axpby(alpha, dout[0], 0.0, din[0]);
    axpby(beta, dout[0], 0.0, din[1]);
  };
  c.exact_on_integers = true;
  return c;
}

// alpha scaled by a float64 value on the device (made on the inputs' device, like a norm would be).
OpCase scaled_axpby_case(double alpha, double value, double beta, const Shape& shape) {
  OpCase c = axpby_case(alpha * value, beta, shape);
  c.name = "elementwise/axpby/device_scale/" + shape_str(shape);
  c.forward = [alpha, value, beta](const Tensors& in, Tensors& out) {
    const Tensor scale = Tensor::full({1}, value, DType::f64, in[0].device());
    out[0].copy_from(in[1]);
    axpby(alpha, in[0], beta, out[0], scale);
  };
  return c;
}
}  // namespace

std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> rows;
  for (UnaryOp op : {UnaryOp::relu, UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::exp, UnaryOp::log,
                     UnaryOp::identity}) {
    rows.push_back(unary_case(op, {1}));
    rows.push_back(unary_case(op, {7, 13}));
  }
  rows.push_back(unary_case(UnaryOp::relu, darts_image_shapes()[0]));
  for (auto [op, name] : {std::pair{BinaryOp::add, "add"}, std::pair{BinaryOp::sub, "sub"},
                          std::pair{BinaryOp::mul, "mul"}}) {
    rows.push_back(binary_case(op, name, {3, 5, 7}));
  }
  rows.push_back(binary_case(BinaryOp::mul, "mul", darts_image_shapes()[2]));
  rows.push_back(axpby_case(0.5, -2.0, {257}));
  rows.push_back(scaled_axpby_case(-2.0, 0.25, 1.0, {257}));  // exact: w − 2R·v with R = 1/4
  return rows;
}

TEST(Elementwise, HandComputedValues) {
  Tensor x = Tensor::from_vector<double>({-1.0, 0.0, 2.0}, {3});
  Tensor y = Tensor::empty({3}, DType::f64);
  unary_forward(UnaryOp::relu, x, y);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0.0, 0.0, 2.0}));
  unary_forward(UnaryOp::sigmoid, x, y);
  EXPECT_NEAR(y.to_vector<double>()[0], 1.0 / (1.0 + std::exp(1.0)), 1e-15);
  EXPECT_DOUBLE_EQ(y.to_vector<double>()[1], 0.5);
  Tensor dy = Tensor::full({3}, 1.0, DType::f64), dx = Tensor::empty({3}, DType::f64);
  unary_forward(UnaryOp::relu, x, y);
  unary_backward(UnaryOp::relu, x, y, dy, dx);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0.0, 0.0, 1.0}));  // relu'(0) = 0

  Tensor a = Tensor::from_vector<float>({1, 2, 3}, {3}), b = Tensor::from_vector<float>({4, 5, 6}, {3});
  Tensor out = Tensor::empty({3});
  binary_forward(BinaryOp::mul, a, b, out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{4, 10, 18}));
  axpby(2.0, a, 3.0, out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{14, 34, 60}));
  // alpha times a device value: 2 · 1.5 = 3.
  Tensor scales = Tensor::from_vector<double>({7.0, 1.5}, {2});
  axpby(2.0, a, 1.0, out, scales.slice(0, 1, 2));
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{17, 40, 69}));
}

// A scaled alpha rounds as the host product would: bit for bit axpby(alpha · value).
TEST(Elementwise, AxpbyWithADeviceScaleIsAxpbyOfTheProduct) {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::empty({1000}, dtype), y0 = Tensor::empty({1000}, dtype);
    fill_uniform(x, -1.0, 1.0, 3);
    fill_uniform(y0, -1.0, 1.0, 4);
    const double alpha = -2.0, value = 0.01 / 3.7;
    Tensor scaled = y0.clone(), product = y0.clone();
    axpby(alpha, x, 0.3, scaled, Tensor::from_vector<double>({value}, {1}));
    axpby(alpha * value, x, 0.3, product);
    EXPECT_EQ(scaled.to(DType::f64).to_vector<double>(),
              product.to(DType::f64).to_vector<double>());
  }
}

TEST(Elementwise, RejectsBadArguments) {
  Tensor a = Tensor::empty({3}), b = Tensor::empty({4}), i = Tensor::empty({3}, DType::i32);
  Tensor out = Tensor::empty({3});
  EXPECT_THROW(binary_forward(BinaryOp::add, a, b, out), Error);
  EXPECT_THROW(unary_forward(UnaryOp::relu, i, i), Error);
  Tensor d = Tensor::empty({3}, DType::f64);
  EXPECT_THROW(unary_forward(UnaryOp::relu, a, d), Error);
  Tensor strided = Tensor::empty({6}).slice(0, 0, 6, 2);
  EXPECT_THROW(unary_forward(UnaryOp::relu, strided, out), Error);
  Tensor f32_scale = Tensor::empty({1}), two_scales = Tensor::empty({2}, DType::f64);
  EXPECT_THROW(axpby(1.0, a, 1.0, out, f32_scale), Error);   // not float64
  EXPECT_THROW(axpby(1.0, a, 1.0, out, two_scales), Error);  // not one value
}

}  // namespace autonet::test
