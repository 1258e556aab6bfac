// The fused FactorizedReduce op (autograd factorized_reduce, kernels/factorized_reduce.h) against
// float64 finite differences through the tape, and against the composition it replaced in
// darts/cnn/ops.cpp: relu → conv2d stride 2 on it and on its slice [:, :, 1:, 1:] → concat.
#include <gtest/gtest.h>

#include <cstring>

#include "autograd/functions.h"
#include "gradcheck.h"

namespace autonet {
namespace {
using test::expect_gradients_match;
using test::leaf;

// The composition FactorizedReduce ran before the fused op.
Variable composed_factorized_reduce(const Variable& x, const Variable& w1, const Variable& w2) {
  Conv2dParams stride2;
  stride2.stride_h = stride2.stride_w = 2;
  Slice2dParams shift;
  shift.offset_h = shift.offset_w = 1;
  shift.out_h = x.size(2) - 1;
  shift.out_w = x.size(3) - 1;
  const Variable r = relu(x);
  return concat(
      {conv2d(r, w1, Variable(), stride2), conv2d(slice2d(r, shift), w2, Variable(), stride2)}, 1);
}

TEST(FactorizedReduce, GradientsMatchFiniteDifferences) {
  // x away from the ReLU's kink; x feeds two ops, so its second gradient is added (Accumulate).
  Tensor xt = Tensor::empty({2, 3, 6, 4}, DType::f64);
  fill_uniform(xt, 0.1, 1.0, 21);
  const std::vector<double> sign{1, -1, -1, 1, 1, -1, 1};
  double* p = xt.data<double>();
  for (int64_t i = 0; i < xt.numel(); ++i) p[i] *= sign[i % sign.size()];
  Variable x(xt, true), w1 = leaf({5, 3, 1, 1}, 22), w2 = leaf({5, 3, 1, 1}, 23);
  Variable w3 = leaf({5, 3, 1, 1}, 24), w4 = leaf({5, 3, 1, 1}, 25);
  expect_gradients_match([&] { return factorized_reduce(x, w1, w2); }, {x, w1, w2});
  expect_gradients_match(
      [&] { return add(factorized_reduce(x, w1, w2), factorized_reduce(x, w3, w4)); },
      {x, w1, w2, w3, w4});
  EXPECT_THROW(factorized_reduce(leaf({2, 3, 5, 4}, 26), w1, w2), Error);  // odd H
}

// On the CPU the fused op's output and every gradient equal the composition's bit for bit, in
// float32 and float64: the same columns through the same OpenBLAS GEMMs (the CPU twin), the ReLU's
// mask applied to the same sums. Covered: dx written (x's first gradient) and added (its second,
// through a second op on x), and a weight that needs no gradient.
TEST(FactorizedReduce, EqualsTheComposedOpsBitForBitOnTheCpu) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    auto make = [dtype](const Shape& shape, uint64_t seed, bool grad = true) {
      return Variable(leaf(shape, seed).value().to(dtype), grad);
    };
    const Shape x_shape{3, 5, 8, 6};
    struct Run {
      Tensor y, dx, dw1, dw3;
    };
    auto run = [&](auto&& fr) {
      Variable x = make(x_shape, 31), w1 = make({7, 5, 1, 1}, 32), w2 = make({7, 5, 1, 1}, 33);
      Variable w3 = make({7, 5, 1, 1}, 34), w4 = make({7, 5, 1, 1}, 35, /*grad=*/false);
      const Variable y = fr(x, w1, w2);
      const Variable z = add(y, fr(x, w3, w4));
      backward(z, leaf(z.shape(), 36).value().to(dtype));
      return Run{y.value(), x.grad(), w1.grad(), w3.grad()};
    };
    const Run fused = run([](const Variable& x, const Variable& a, const Variable& b) {
      return factorized_reduce(x, a, b);
    });
    const Run composed = run(composed_factorized_reduce);
    auto expect_same_bits = [](const Tensor& got, const Tensor& want, const char* what) {
      ASSERT_EQ(got.shape(), want.shape()) << what;
      EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()), 0) << what;
    };
    expect_same_bits(fused.y, composed.y, "y");
    expect_same_bits(fused.dx, composed.dx, "dx");
    expect_same_bits(fused.dw1, composed.dw1, "dw1");
    expect_same_bits(fused.dw3, composed.dw3, "dw3");
  }
}

}  // namespace
}  // namespace autonet
