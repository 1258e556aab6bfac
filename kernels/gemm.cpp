// Public entries of the gemm family (gemm, linear): validate once, then dispatch to a twin.
#include "kernels/gemm.h"

#include "kernels/op_cost.h"

#include <climits>
#include <cmath>

namespace autonet {

namespace {
// A BLAS operand: defined, contiguous, float, 2-D, with dimensions BLAS's int can hold.
void check_matrix(const Tensor& t, const char* what) {
  check_float_tensor(t, 2, what);
  AN_CHECK(t.size(0) <= INT_MAX && t.size(1) <= INT_MAX)
      << what << ": dimensions exceed BLAS's int range: " << t.describe();
}

}  // namespace

void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmParams& p) {
  check_matrix(a, "gemm: a");
  check_matrix(b, "gemm: b");
  check_matrix(c, "gemm: c");
  check_matches(b, a, "gemm: a and b");
  check_matches(c, a, "gemm: a and c");
  const int64_t m = p.trans_a ? a.size(1) : a.size(0), k = p.trans_a ? a.size(0) : a.size(1);
  const int64_t kb = p.trans_b ? b.size(1) : b.size(0), n = p.trans_b ? b.size(0) : b.size(1);
  AN_CHECK(k == kb) << "gemm: inner dimensions differ: op(a) is [" << m << ", " << k
                    << "] (trans_a " << p.trans_a << "), op(b) is [" << kb << ", " << n
                    << "] (trans_b " << p.trans_b << "); a " << a.describe() << ", b "
                    << b.describe();
  check_shape(c, {m, n}, "gemm: c");
  AN_CHECK(std::isfinite(p.alpha) && std::isfinite(p.beta))
      << "gemm: alpha and beta must be finite, got " << p.alpha << " and " << p.beta;
  AN_CHECK(!overlaps(c, a) && !overlaps(c, b))  // BLAS forbids C aliasing A or B
      << "gemm: c " << c.describe() << " overlaps an input (a " << a.describe() << ", b "
      << b.describe() << ")";
  // One cuBLAS call (an empty inner dimension: one kernel of ours scaling C by beta).
  count_op("gemm", [&] {
    if (m == 0 || n == 0) return OpCost{};
    const int64_t c_read = p.beta != 0 ? bytes_of(c) : 0;
    const OpCost cost = k == 0 ? launch(c_read, bytes_of(c))
                               : library_call(bytes_of(a, b) + c_read, bytes_of(c), 2 * m * n * k);
    return p.side_stream ? on_side_stream(cost) : cost;
  });
  AN_ON_DEVICE(a.device(), cpu::gemm(a, b, c, p), cuda::gemm(a, b, c, p));
}

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& y) {
  check_matrix(x, "linear_forward: x");
  check_matrix(weight, "linear_forward: weight");
  check_matches(weight, x, "linear_forward: x and weight");
  const int64_t batch = x.size(0), in = x.size(1), out = weight.size(0);
  AN_CHECK(weight.size(1) == in) << "linear_forward: weight " << weight.describe()
                                 << " does not take " << in << " inputs (x " << x.describe() << ")";
  check_matches_if_defined(bias, x, {out}, "linear_forward: bias");
  check_matches(y, x, {batch, out}, "linear_forward: y");
  gemm(x, weight, y, {.trans_a = false, .trans_b = true});  // y = x · weightᵀ
  if (bias.defined() && y.numel() > 0) {
    count_op("linear_bias", [&] { return launch(bytes_of(bias, y), bytes_of(y), y.numel()); });
    AN_ON_DEVICE(y.device(), cpu::add_row_bias(bias, y), cuda::add_row_bias(bias, y));
  }
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, Tensor& dx,
                     Tensor& dweight, Tensor& dbias) {
  check_matrix(x, "linear_backward: x");
  check_matrix(weight, "linear_backward: weight");
  check_matrix(dy, "linear_backward: dy");
  check_matches(weight, x, "linear_backward: x and weight");
  check_matches(dy, x, "linear_backward: x and dy");
  const int64_t batch = x.size(0), in = x.size(1), out = weight.size(0);
  check_shape(weight, {out, in}, "linear_backward: weight");
  check_shape(dy, {batch, out}, "linear_backward: dy");
  check_matches_if_defined(dx, x, {batch, in}, "linear_backward: dx");
  check_matches_if_defined(dweight, x, {out, in}, "linear_backward: dweight");
  check_matches_if_defined(dbias, x, {out}, "linear_backward: dbias");
  if (dx.defined()) gemm(dy, weight, dx);  // dx = dy · weight
  if (dweight.defined()) gemm(dy, x, dweight, {.trans_a = true, .beta = 1.0});  // += dyᵀ · x
  if (dbias.defined() && dbias.numel() > 0) {
    count_op("linear_bias_backward",
             [&] { return launch(bytes_of(dy, dbias), bytes_of(dbias), dy.numel()); });
    AN_ON_DEVICE(dy.device(), cpu::sum_rows_accumulate(dy, dbias),
                 cuda::sum_rows_accumulate(dy, dbias));
  }
}

}  // namespace autonet
