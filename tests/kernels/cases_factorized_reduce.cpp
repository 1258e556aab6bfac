// Rows and checks for kernels/factorized_reduce.h: the table's rows, a hand-computed case, and
// the argument errors (each naming its tensor).
#include <gtest/gtest.h>

#include <string>

#include "kernels/factorized_reduce.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// Which gradients a row asks for: dx written or added, and whether each weight wants one.
struct Wanted {
  GradMode dx_mode = GradMode::Write;
  bool dw1 = true, dw2 = true;
};
constexpr Wanted kAll{}, kAddDx{GradMode::Accumulate, true, true};

// Inputs [x, w1, w2]; output y [N, 2·half, H/2, W/2].
OpCase fr_case(const std::string& variant, const Shape& x_shape, int64_t half,
               const Wanted& wanted = kAll, int fd_samples = 24) {
  OpCase c;
  c.name = "factorized_reduce/" + variant + (wanted.dx_mode == GradMode::Accumulate ? "_acc" : "") +
           (wanted.dw1 ? "" : "_nodw1") + (wanted.dw2 ? "" : "_nodw2") + "/" + shape_str(x_shape) +
           "/Co" + std::to_string(2 * half);
  const Shape w_shape{half, x_shape[1], 1, 1};
  // The folded ReLU: |x| ≥ 0.05, so no finite-difference probe crosses the kink.
  InputSpec x{"x", x_shape, Fill::nonzero, 0.05, 1.0};
  x.grad_mode = wanted.dx_mode;
  InputSpec w1{"w1", w_shape, Fill::nonzero, 0.1, 1.0}, w2{"w2", w_shape, Fill::nonzero, 0.1, 1.0};
  w1.grad_mode = w2.grad_mode = GradMode::Accumulate;
  w1.differentiable = wanted.dw1;
  w2.differentiable = wanted.dw2;
  c.inputs = {x, w1, w2};
  c.outputs = {{"y", factorized_reduce_out_shape(x_shape, w_shape, w_shape)}};
  c.forward = [](const Tensors& in, Tensors& out) {
    factorized_reduce_forward(in[0], in[1], in[2], out[0]);
  };
  c.backward = [mode = wanted.dx_mode](const Tensors& in, const Tensors&, const Tensors& dout,
                                       Tensors& din) {
    factorized_reduce_backward(in[0], in[1], in[2], dout[0], din[0], din[1], din[2], mode);
  };
  // Sums of products as the 1×1 conv rows (y over C, dx over Co/2, dw over N·H/2·W/2); the ReLU
  // only drops terms, so the bounds the runner derives on non-negative (squared) inputs, which
  // keep every term, are if anything loose.
  c.set_tolerance(1e-6, 1e-5,
                  "per element: 20·u·sqrt(n·Σa²) of its own sum of products, in "
                  "another order on the GPU's threads than in OpenBLAS");
  c.sums_of_products = true;
  c.exact_on_integers = true;  // products of ints ≤ 3 summed 16,384 times stay below 2^24
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> factorized_reduce_cases() {
  std::vector<OpCase> rows;
  // One sample, channel and output pixel; odd channel counts and Co/2 on a non-square image.
  rows.push_back(fr_case("one", {1, 1, 2, 2}, 1));
  rows.push_back(fr_case("odd", {2, 3, 4, 6}, 5));
  rows.push_back(fr_case("odd", {1, 7, 6, 2}, 3, kAddDx));
  // A weight that needs no gradient (the other's still accumulates), and one with neither.
  rows.push_back(fr_case("partial", {3, 5, 8, 4}, 2, {GradMode::Write, true, false}));
  rows.push_back(fr_case("partial", {3, 5, 8, 4}, 2, {GradMode::Accumulate, false, true}));
  rows.push_back(fr_case("partial", {2, 4, 4, 4}, 3, {GradMode::Write, false, false}));
  // More channels than the CUDA dw's 16 per pass (17 = 16 + 1), and a batch its cluster of 8
  // blocks splits unevenly (11 samples of 2×2 output pixels).
  rows.push_back(fr_case("channels", {2, 17, 4, 4}, 4, kAll, 8));
  rows.push_back(fr_case("batch", {11, 3, 4, 4}, 2, kAddDx, 8));
  // The DARTS shapes: a reduction cell's skip_connect (C → C, at 32 and 16 pixels) and the
  // preprocessing after a reduction cell (4C → C). Few probes: each runs two full forwards.
  const std::vector<Shape>& darts = darts_image_shapes();
  rows.push_back(fr_case("darts", darts[0], 16, kAll, 2));
  rows.push_back(fr_case("darts", darts[1], 16, kAddDx, 2));
  rows.push_back(fr_case("darts", darts[1], 32, kAll, 2));
  rows.push_back(fr_case("darts_pre", {64, 64, 16, 16}, 16, kAddDx, 2));
  return rows;
}

// x 1×1×2×2 = [[1, −2], [−3, 4]]: w1 sees relu(1) at (0, 0), w2 relu(4) at (1, 1); dx is w1·dy at
// (0, 0), w2·dy at (1, 1) (x > 0 there) and 0 on the other phase.
TEST(FactorizedReduce, HandComputed) {
  const Tensor x = Tensor::from_vector<double>({1, -2, -3, 4}, {1, 1, 2, 2});
  const Tensor w1 = Tensor::from_vector<double>({2, 3}, {2, 1, 1, 1});
  const Tensor w2 = Tensor::from_vector<double>({5, -1}, {2, 1, 1, 1});
  Tensor y = Tensor::empty({1, 4, 1, 1}, DType::f64);
  factorized_reduce_forward(x, w1, w2, y);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{2, 3, 20, -4}));
  const Tensor dy = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 4, 1, 1});
  Tensor dx = Tensor::full({1, 1, 2, 2}, 9.0, DType::f64);
  Tensor dw1 = Tensor::full({2, 1, 1, 1}, 1.0, DType::f64), dw2 = dw1.clone();
  factorized_reduce_backward(x, w1, w2, dy, dx, dw1, dw2, GradMode::Write);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{2 + 6, 0, 0, 15 - 4}));
  EXPECT_EQ(dw1.to_vector<double>(), (std::vector<double>{1 + 1, 1 + 2}));    // += dy·relu(1)
  EXPECT_EQ(dw2.to_vector<double>(), (std::vector<double>{1 + 12, 1 + 16}));  // += dy·relu(4)
  factorized_reduce_backward(x, w1, w2, dy, dx, dw1, dw2, GradMode::Accumulate);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{16, 0, 0, 22}));
  // A non-positive input passes no gradient: x at (0, 0) now −1.
  const Tensor x_neg = Tensor::from_vector<double>({-1, -2, -3, 4}, {1, 1, 2, 2});
  Tensor none;
  factorized_reduce_backward(x_neg, w1, w2, dy, dx, none, none, GradMode::Write);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 0, 0, 11}));
}

// Every bad argument is an error naming the tensor at fault.
TEST(FactorizedReduce, ErrorsNameTheTensor) {
  auto expect_names = [](auto&& call, const std::string& what) {
    const std::string m = error_message_of(call);
    EXPECT_NE(m.find(what), std::string::npos) << "expected '" << what << "' in: " << m;
  };
  const Tensor x = Tensor::zeros({2, 3, 4, 6}), w = Tensor::zeros({5, 3, 1, 1});
  Tensor y = Tensor::zeros({2, 10, 2, 3});
  EXPECT_NO_THROW(factorized_reduce_forward(x, w, w.clone(), y));
  const Tensor x_odd_h = Tensor::zeros({2, 3, 5, 6}), x_odd_w = Tensor::zeros({2, 3, 4, 7});
  expect_names([&] { factorized_reduce_forward(x_odd_h, w, w, y); },
               "x [2, 3, 5, 6] needs an even");
  expect_names([&] { factorized_reduce_forward(x_odd_w, w, w, y); },
               "x [2, 3, 4, 7] needs an even");
  expect_names(
      [&] {
        factorized_reduce_forward(Tensor::zeros({3, 4, 6}), w, w, y);
      },
      "factorized_reduce_forward: x");
  // Co odd: y's 9 channels cannot be two halves of 5 (nor of 4.5).
  Tensor y_odd = Tensor::zeros({2, 9, 2, 3});
  expect_names([&] { factorized_reduce_forward(x, w, w, y_odd); }, "factorized_reduce_forward: y");
  expect_names([&] { factorized_reduce_forward(x, w, Tensor::zeros({4, 3, 1, 1}), y); }, "w2");
  expect_names([&] { factorized_reduce_forward(x, Tensor::zeros({5, 2, 1, 1}), w, y); }, "w1");
  expect_names([&] { factorized_reduce_forward(x, w, Tensor::zeros({5, 3, 3, 3}), y); }, "w2");
  expect_names(
      [&] {
        factorized_reduce_forward(x, w, Tensor::zeros({5, 3, 1, 1}, DType::f64), y);
      },
      "w2");
  Tensor y_like_x = Tensor::zeros(x.shape());
  expect_names([&] { factorized_reduce_forward(x, w, w, y_like_x); },
               "factorized_reduce_forward: y");

  const Tensor dy = Tensor::zeros({2, 10, 2, 3});
  Tensor dx = Tensor::zeros(x.shape()), dw1 = Tensor::zeros(w.shape()),
         dw2 = Tensor::zeros(w.shape());
  EXPECT_NO_THROW(factorized_reduce_backward(x, w, w, dy, dx, dw1, dw2, GradMode::Write));
  const Tensor dy_wrong = Tensor::zeros({2, 10, 3, 2});
  expect_names(
      [&] { factorized_reduce_backward(x, w, w, dy_wrong, dx, dw1, dw2, GradMode::Write); },
      "factorized_reduce_backward: dy");
  Tensor dx_wrong = Tensor::zeros({2, 3, 6, 4});
  expect_names(
      [&] { factorized_reduce_backward(x, w, w, dy, dx_wrong, dw1, dw2, GradMode::Write); },
      "factorized_reduce_backward: dx");
  Tensor dw_wrong = Tensor::zeros({5, 3, 1, 2});
  expect_names([&] { factorized_reduce_backward(x, w, w, dy, dx, dw1, dw_wrong, GradMode::Write); },
               "factorized_reduce_backward: dw2");
  Tensor shared = dw1;  // one gradient for both weights
  expect_names([&] { factorized_reduce_backward(x, w, w, dy, dx, dw1, shared, GradMode::Write); },
               "dw2");
}

}  // namespace autonet::test
