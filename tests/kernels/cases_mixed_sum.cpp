// Rows and hand-computed checks for kernels/mixed_sum.h.
#include <gtest/gtest.h>

#include "kernels/mixed_sum.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// Inputs are [w, y_0, ..., y_{K−1}]; the lambdas split them back into the entry's arguments.
OpCase mixed_sum_case(int k_count, const Shape& shape, int fd_samples = 24) {
  OpCase c;
  // Appended piecewise: GCC 12 warns (-Wrestrict, falsely) on "literal" + std::string here.
  c.name = "mixed_sum/k";
  c.name += std::to_string(k_count);
  c.name += "/";
  c.name += shape_str(shape);
  InputSpec w{"w", {k_count}};
  w.grad_mode = GradMode::Accumulate;  // α-side parameter gradient
  c.inputs = {w};
  for (int k = 0; k < k_count; ++k) {
    InputSpec y{"y", shape};
    y.name += std::to_string(k);
    c.inputs.push_back(y);
  }
  c.outputs = {{"out", shape}};
  c.forward = [](const Tensors& in, Tensors& out) {
    const std::vector<Tensor> ys(in.begin() + 1, in.end());
    mixed_sum_forward(in[0], ys, out[0]);
  };
  c.backward = [](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    const std::vector<Tensor> ys(in.begin() + 1, in.end());
    std::vector<Tensor> dys(din.begin() + 1, din.end());  // views: writes land in din
    mixed_sum_backward(in[0], ys, dout[0], dys, din[0]);
  };
  const bool big = shape_numel(shape) > 100000;
  c.atol = big ? 2e-4 : 2e-6;
  c.rtol = 1e-5;
  c.why = big ? "dw sums 1M float products in a tree (CPU sums in double); out sums K products"
              : "out sums K float products; the CPU's dw dot product is in double";
  c.exact_on_integers = true;  // |Σ| ≤ 9 · 1M < 2^24: every sum exact in float32
  c.fd_samples = fd_samples;
  return c;
}
}  // namespace

std::vector<OpCase> mixed_sum_cases() {
  std::vector<OpCase> rows;
  rows.push_back(mixed_sum_case(1, {1}));
  rows.push_back(mixed_sum_case(2, {7, 13}));
  rows.push_back(mixed_sum_case(5, {3, 5, 7}));
  rows.push_back(mixed_sum_case(kMaxMixedInputs, {257}));
  // DARTS: 8 candidates. The op is linear, so finite differences on the small rows cover its
  // formula; the two largest shapes (8 × 1M doubles per probe) skip them to stay fast and are
  // here for CUDA parity and the exactness of the 1M-element α reduction.
  for (const Shape& s : darts_image_shapes()) {
    OpCase c = mixed_sum_case(8, s, 2);
    c.check_finite_differences = shape_numel(s) <= 262144;
    rows.push_back(std::move(c));
  }
  return rows;
}

TEST(MixedSum, HandComputedValues) {
  // w = [0.5, −2, 3]; y0 = [1, 2], y1 = [3, 4], y2 = [−1, 0.25].
  // out = [0.5 − 6 − 3, 1 − 8 + 0.75] = [−8.5, −6.25].
  const Tensor w = Tensor::from_vector<double>({0.5, -2.0, 3.0}, {3});
  const std::vector<Tensor> ys = {Tensor::from_vector<double>({1, 2}, {2}),
                                  Tensor::from_vector<double>({3, 4}, {2}),
                                  Tensor::from_vector<double>({-1, 0.25}, {2})};
  Tensor out = Tensor::empty({2}, DType::f64);
  mixed_sum_forward(w, ys, out);
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{-8.5, -6.25}));

  // dout = [1, −2]: dy_k = w[k]·dout; dw = [1 − 4, 3 − 8, −1 − 0.5] added onto 10.
  const Tensor dout = Tensor::from_vector<double>({1, -2}, {2});
  std::vector<Tensor> dys = {Tensor::full({2}, 7.0, DType::f64), Tensor(),
                             Tensor::full({2}, 7.0, DType::f64)};
  Tensor dw = Tensor::full({3}, 10.0, DType::f64);
  mixed_sum_backward(w, ys, dout, dys, dw);
  EXPECT_EQ(dys[0].to_vector<double>(), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(dys[2].to_vector<double>(), (std::vector<double>{3.0, -6.0}));
  EXPECT_EQ(dw.to_vector<double>(), (std::vector<double>{7.0, 5.0, 8.5}));

  // Without dw only the dys are written.
  Tensor no_dw;
  dys[0].fill_(0.0);
  mixed_sum_backward(w, ys, dout, dys, no_dw);
  EXPECT_EQ(dys[0].to_vector<double>(), (std::vector<double>{0.5, -1.0}));
}

TEST(MixedSum, RejectsBadArguments) {
  const Shape s{2, 3};
  const Tensor w3 = Tensor::zeros({3});
  const std::vector<Tensor> ys = {Tensor::zeros(s), Tensor::zeros(s), Tensor::zeros(s)};
  Tensor out = Tensor::zeros(s);
  EXPECT_NO_THROW(mixed_sum_forward(w3, ys, out));
  EXPECT_THROW(mixed_sum_forward(Tensor::zeros({0}), {}, out), Error);  // K = 0
  const std::vector<Tensor> too_many(kMaxMixedInputs + 1, Tensor::zeros(s));
  EXPECT_THROW(mixed_sum_forward(Tensor::zeros({kMaxMixedInputs + 1}), too_many, out), Error);
  EXPECT_THROW(mixed_sum_forward(Tensor::zeros({4}), ys, out), Error);     // K mismatch
  EXPECT_THROW(mixed_sum_forward(Tensor::zeros({3, 1}), ys, out), Error);  // weights not [K]
  EXPECT_THROW(mixed_sum_forward(Tensor::zeros({3}, DType::f64), ys, out), Error);
  EXPECT_THROW(mixed_sum_forward(Tensor::zeros({3}, DType::i32),
                                 std::vector<Tensor>(3, Tensor::zeros(s, DType::i32)), out),
               Error);
  std::vector<Tensor> mixed_shapes = ys;
  mixed_shapes[2] = Tensor::zeros({3, 2});
  EXPECT_THROW(mixed_sum_forward(w3, mixed_shapes, out), Error);
  std::vector<Tensor> strided = ys;
  strided[1] = Tensor::zeros({2, 6}).slice(1, 0, 6, 2);
  EXPECT_THROW(mixed_sum_forward(w3, strided, out), Error);
  std::vector<Tensor> undefined = ys;
  undefined[0] = Tensor();
  EXPECT_THROW(mixed_sum_forward(w3, undefined, out), Error);
  Tensor wrong_out = Tensor::zeros({6});
  EXPECT_THROW(mixed_sum_forward(w3, ys, wrong_out), Error);
  Tensor out64 = Tensor::zeros(s, DType::f64);
  EXPECT_THROW(mixed_sum_forward(w3, ys, out64), Error);

  const Tensor dout = Tensor::zeros(s);
  std::vector<Tensor> dys = {Tensor::zeros(s), Tensor(), Tensor::zeros(s)};
  Tensor dw = Tensor::zeros({3});
  EXPECT_NO_THROW(mixed_sum_backward(w3, ys, dout, dys, dw));
  std::vector<Tensor> two_dys = {Tensor::zeros(s), Tensor::zeros(s)};
  EXPECT_THROW(mixed_sum_backward(w3, ys, dout, two_dys, dw), Error);
  std::vector<Tensor> bad_dys = {Tensor::zeros({6}), Tensor(), Tensor()};
  EXPECT_THROW(mixed_sum_backward(w3, ys, dout, bad_dys, dw), Error);
  Tensor bad_dw = Tensor::zeros({4});
  EXPECT_THROW(mixed_sum_backward(w3, ys, dout, dys, bad_dw), Error);
  EXPECT_THROW(mixed_sum_backward(w3, ys, Tensor::zeros({3, 2}), dys, dw), Error);
  EXPECT_THROW(mixed_sum_backward(w3, ys, Tensor(), dys, dw), Error);
}

}  // namespace autonet::test
