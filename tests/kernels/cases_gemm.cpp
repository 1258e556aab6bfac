// Rows and hand-computed checks for kernels/gemm.h (gemm and linear).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "tests/kernels/op_case.h"

namespace autonet::test {

namespace {
// CUDA vs CPU tolerance for float32 dot products of `terms` products of values in [-1, 1]:
// cuBLAS and OpenBLAS block the sums differently, so roundings differ by O(eps·terms) at worst.
void set_sum_tolerance(OpCase& c, int64_t terms) {
  c.set_tolerance(1e-6 + 4e-7 * static_cast<double>(terms), 1e-5,
                  "float32 sums of up to " + std::to_string(terms) +
                  " products, blocked differently by cuBLAS and OpenBLAS");
}

// C [m, n] = alpha · op(A) · op(B) + beta · C0; C0 is an input (copied into C first) when beta ≠ 0.
OpCase gemm_case(int64_t m, int64_t k, int64_t n, bool ta, bool tb, double alpha = 1.0,
                 double beta = 0.0) {
  OpCase c;
  c.name = "gemm/" + std::string(ta ? "T" : "N") + (tb ? "T" : "N") + "/" + std::to_string(m) +
           "x" + std::to_string(k) + "x" + std::to_string(n) + (beta != 0.0 ? "/beta" : "");
  c.inputs = {{"a", ta ? Shape{k, m} : Shape{m, k}}, {"b", tb ? Shape{n, k} : Shape{k, n}}};
  if (beta != 0.0) c.inputs.push_back({"c0", {m, n}});
  c.outputs = {{"c", {m, n}}};
  const GemmParams p{.trans_a = ta, .trans_b = tb, .alpha = alpha, .beta = beta};
  c.forward = [p](const Tensors& in, Tensors& out) {
    if (p.beta != 0.0) out[0].copy_from(in[2]);
    gemm(in[0], in[1], out[0], p);
  };
  // op(A)' = alpha · dC · op(B)ᵀ and op(B)' = alpha · op(A)ᵀ · dC, stored back through the
  // transposes: every transpose combination of gemm is exercised again here.
  c.backward = [p](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    const Tensor &a = in[0], &b = in[1], &dc = dout[0];
    if (!p.trans_a)
      gemm(dc, b, din[0], {.trans_a = false, .trans_b = !p.trans_b, .alpha = p.alpha});
    else
      gemm(b, dc, din[0], {.trans_a = p.trans_b, .trans_b = true, .alpha = p.alpha});
    if (!p.trans_b)
      gemm(a, dc, din[1], {.trans_a = !p.trans_a, .trans_b = false, .alpha = p.alpha});
    else
      gemm(dc, a, din[1], {.trans_a = true, .trans_b = p.trans_a, .alpha = p.alpha});
    if (p.beta != 0.0) axpby(p.beta, dc, 0.0, din[2]);
  };
  set_sum_tolerance(c, std::max({m, k, n}));
  c.exact_on_integers = true;  // alpha, beta are powers of two: every sum stays an exact integer
  return c;
}

// y [N, out] = x · weightᵀ + bias.
OpCase linear_case(int64_t batch, int64_t in, int64_t out, bool with_bias) {
  OpCase c;
  c.name = "linear/" + std::to_string(batch) + "x" + std::to_string(in) + "to" +
           std::to_string(out) + (with_bias ? "/bias" : "");
  c.inputs = {{"x", {batch, in}}, {"weight", {out, in}}};
  c.inputs[1].grad_mode = GradMode::Accumulate;
  if (with_bias) c.inputs.push_back({"bias", {out}, Fill::uniform, -1, 1, true, GradMode::Accumulate});
  c.outputs = {{"y", {batch, out}}};
  c.forward = [with_bias](const Tensors& in, Tensors& out) {
    linear_forward(in[0], in[1], with_bias ? in[2] : Tensor(), out[0]);
  };
  c.backward = [with_bias](const Tensors& in, const Tensors&, const Tensors& dout, Tensors& din) {
    Tensor no_bias;
    linear_backward(in[0], in[1], dout[0], din[0], din[1], with_bias ? din[2] : no_bias);
  };
  set_sum_tolerance(c, std::max({batch, in, out}));
  c.exact_on_integers = true;
  return c;
}
}  // namespace

std::vector<OpCase> gemm_cases() {
  std::vector<OpCase> rows;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      rows.push_back(gemm_case(1, 1, 1, ta, tb));
      rows.push_back(gemm_case(7, 13, 5, ta, tb));
      rows.push_back(gemm_case(64, 256, 10, ta, tb));  // the DARTS classifier's product
    }
  }
  rows.push_back(gemm_case(1, 17, 3, false, false, 2.0, -0.5));
  rows.push_back(gemm_case(31, 7, 11, true, false, 0.5, 2.0));
  rows.push_back(gemm_case(16, 16, 1024, false, false));  // a pointwise conv's per-sample GEMM
  rows.push_back(linear_case(1, 7, 3, true));
  rows.push_back(linear_case(5, 13, 11, false));
  rows.push_back(linear_case(64, 256, 10, true));  // the DARTS search classifier
  return rows;
}

TEST(Gemm, HandComputedProducts) {
  // A = [[1, 2, 3], [4, 5, 6]], B = [[1, 0], [0, 1], [1, 1]]: A·B = [[4, 5], [10, 11]].
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor c = Tensor::full({2, 2}, std::numeric_limits<double>::quiet_NaN());
  gemm(a, b, c);  // beta = 0 ignores the NaN C held
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{4, 5, 10, 11}));
  // Aᵀ·A = [[17, 22, 27], [22, 29, 36], [27, 36, 45]].
  Tensor ata = Tensor::empty({3, 3});
  gemm(a, a, ata, {.trans_a = true});
  EXPECT_EQ(ata.to_vector<float>(), (std::vector<float>{17, 22, 27, 22, 29, 36, 27, 36, 45}));
  // A·Aᵀ = [[14, 32], [32, 77]]; then 2·A·Aᵀ − 1·C.
  Tensor aat = Tensor::empty({2, 2});
  gemm(a, a, aat, {.trans_b = true});
  EXPECT_EQ(aat.to_vector<float>(), (std::vector<float>{14, 32, 32, 77}));
  gemm(a, a, aat, {.trans_b = true, .alpha = 2.0, .beta = -1.0});
  EXPECT_EQ(aat.to_vector<float>(), (std::vector<float>{14, 32, 32, 77}));
  // Bᵀ·Aᵀ = (A·B)ᵀ = [[4, 10], [5, 11]].
  Tensor btat = Tensor::empty({2, 2});
  gemm(b, a, btat, {.trans_a = true, .trans_b = true});
  EXPECT_EQ(btat.to_vector<float>(), (std::vector<float>{4, 10, 5, 11}));
  // An empty inner dimension: C = beta · C.
  Tensor e = Tensor::empty({2, 0}), f = Tensor::empty({0, 2});
  Tensor g = Tensor::full({2, 2}, 3.0);
  gemm(e, f, g, {.beta = 2.0});
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{6, 6, 6, 6}));
}

TEST(Gemm, HandComputedLinear) {
  // x = [[1, 2]], W = [[1, 0], [0, 1], [1, 1]], b = [1, 2, 3]: y = [2, 4, 6].
  Tensor x = Tensor::from_vector<double>({1, 2}, {1, 2});
  Tensor w = Tensor::from_vector<double>({1, 0, 0, 1, 1, 1}, {3, 2});
  Tensor b = Tensor::from_vector<double>({1, 2, 3}, {3});
  Tensor y = Tensor::empty({1, 3}, DType::f64);
  linear_forward(x, w, b, y);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{2, 4, 6}));
  linear_forward(x, w, Tensor(), y);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  // dy = [1, 1, 2]: dx = dy·W = [3, 3]; dW += dyᵀ·x; db += dy.
  Tensor dy = Tensor::from_vector<double>({1, 1, 2}, {1, 3});
  Tensor dx = Tensor::empty({1, 2}, DType::f64), dw = Tensor::full({3, 2}, 1.0, DType::f64);
  Tensor db = Tensor::full({3}, 10.0, DType::f64);
  linear_backward(x, w, dy, dx, dw, db);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{3, 3}));
  EXPECT_EQ(dw.to_vector<double>(), (std::vector<double>{2, 3, 2, 3, 3, 5}));
  EXPECT_EQ(db.to_vector<double>(), (std::vector<double>{11, 11, 12}));
  Tensor none;
  linear_backward(x, w, dy, none, none, db);  // only dbias wanted
  EXPECT_EQ(db.to_vector<double>(), (std::vector<double>{12, 12, 14}));
}

TEST(Gemm, RejectsBadArguments) {
  Tensor a = Tensor::empty({2, 3}), b = Tensor::empty({3, 4}), c = Tensor::empty({2, 4});
  EXPECT_NO_THROW(gemm(a, b, c));
  Tensor none;
  EXPECT_THROW(gemm(none, b, c), Error);
  EXPECT_THROW(gemm(Tensor::empty({2, 3, 1}), b, c), Error);                    // not 2-D
  EXPECT_THROW(gemm(Tensor::empty({2, 3}, DType::i32), b, c), Error);           // not float
  EXPECT_THROW(gemm(a, Tensor::empty({3, 4}, DType::f64), c), Error);           // dtypes differ
  Tensor c64 = Tensor::empty({2, 4}, DType::f64);
  EXPECT_THROW(gemm(a, b, c64), Error);
  EXPECT_THROW(gemm(a, Tensor::empty({4, 4}), c), Error);                       // inner dims
  EXPECT_THROW(gemm(a, b, c, {.trans_a = true}), Error);
  Tensor c_wrong = Tensor::empty({4, 2});
  EXPECT_THROW(gemm(a, b, c_wrong), Error);                                     // output shape
  Tensor strided = Tensor::empty({2, 6}).slice(1, 0, 6, 2);
  EXPECT_THROW(gemm(a, Tensor::empty({3, 3}), strided), Error);                 // not contiguous
  EXPECT_THROW(gemm(Tensor::empty({2, 6}).slice(1, 0, 3), b, c), Error);       // a not contiguous
  EXPECT_THROW(gemm(a, b, c, {.alpha = std::nan("")}), Error);                  // non-finite
  EXPECT_THROW(gemm(a, b, c, {.beta = INFINITY}), Error);
  Tensor square = Tensor::empty({3, 3});
  EXPECT_THROW(gemm(square, square, square), Error);                            // c aliases a
  Tensor flat = Tensor::empty({18});
  Tensor first = flat.slice(0, 0, 9).view({3, 3}), overlapping = flat.slice(0, 8, 17).view({3, 3});
  Tensor disjoint = flat.slice(0, 9, 18).view({3, 3});
  EXPECT_THROW(gemm(first, square, overlapping), Error);
  EXPECT_NO_THROW(gemm(first, square, disjoint));                               // same storage, apart

  Tensor x = Tensor::empty({5, 3}), w = Tensor::empty({4, 3}), bias = Tensor::empty({4});
  Tensor y = Tensor::empty({5, 4});
  EXPECT_NO_THROW(linear_forward(x, w, bias, y));
  EXPECT_THROW(linear_forward(x, Tensor::empty({4, 2}), bias, y), Error);       // weight's inputs
  EXPECT_THROW(linear_forward(x, w, Tensor::empty({5}), y), Error);             // bias shape
  EXPECT_THROW(linear_forward(x, w, Tensor::empty({4}, DType::f64), y), Error);
  Tensor y_wrong = Tensor::empty({4, 5});
  EXPECT_THROW(linear_forward(x, w, bias, y_wrong), Error);
  Tensor dy = Tensor::empty({5, 4}), dx = Tensor::empty({5, 3}), dw = Tensor::empty({4, 3});
  Tensor db = Tensor::empty({4});
  EXPECT_NO_THROW(linear_backward(x, w, dy, dx, dw, db));
  EXPECT_THROW(linear_backward(x, w, Tensor::empty({5, 3}), dx, dw, db), Error);  // dy shape
  Tensor dx_wrong = Tensor::empty({3, 5}), dw_wrong = Tensor::empty({4, 3}, DType::f64);
  Tensor db_wrong = Tensor::empty({3});
  EXPECT_THROW(linear_backward(x, w, dy, dx_wrong, dw, db), Error);
  EXPECT_THROW(linear_backward(x, w, dy, dx, dw_wrong, db), Error);
  EXPECT_THROW(linear_backward(x, w, dy, dx, dw, db_wrong), Error);
  EXPECT_THROW(linear_backward(x, Tensor::empty({4, 2}), dy, dx, dw, db), Error);  // weight shape
}

}  // namespace autonet::test
