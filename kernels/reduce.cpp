// Public entries of the reduction family: validate once, then dispatch to a twin.
#include "kernels/reduce.h"

#include "kernels/op_cost.h"

#include <cmath>

#include "kernels/elementwise.h"

namespace autonet {

namespace {
// x a float tensor with `axis` (mean and max over a non-empty one); returns the axis counted from
// the front.
int64_t check_reduction(ReduceOp op, const Tensor& x, int64_t axis, const char* what) {
  check_contiguous(x, what);
  check_float(x, what);
  const int64_t k = normalize_axis(axis, x.dim(), what);
  AN_CHECK(op == ReduceOp::sum || x.size(k) > 0)
      << what << ": mean/max over an empty axis " << k << " of " << x.describe();
  return k;
}

// A limit or step the norm entries take: positive and finite.
void check_positive(double value, const char* name, const char* what) {
  AN_CHECK(std::isfinite(value) && value > 0)
      << what << ": " << name << " must be positive and finite, got " << value;
}

// Device-side scalars of the norm entries: contiguous float64 of `shape` on `on`'s device.
void check_scalars(const std::vector<const Tensor*>& ts, const Shape& shape, const Tensor& on,
                   const char* what) {
  for (const Tensor* t : ts) {
    check_same_device(on, *t, what);
    check_contiguous(*t, what);
    check_shape(*t, shape, what);
    AN_CHECK(t->dtype() == DType::f64) << what << ": expects float64 scalars, got "
                                       << t->describe();
  }
}
}  // namespace

Shape reduce_out_shape(const Shape& x, int64_t axis) {
  const int64_t dim = static_cast<int64_t>(x.size());
  const int64_t k = normalize_axis(axis, dim, "reduce_out_shape");
  Shape out;
  for (int64_t d = 0; d < dim; ++d)
    if (d != k) out.push_back(x[d]);
  if (out.empty()) out.push_back(1);
  return out;
}

void reduce_forward(ReduceOp op, const Tensor& x, int64_t axis, Tensor& y) {
  const char* what = "reduce_forward";
  const int64_t k = check_reduction(op, x, axis, what);
  check_matches(y, x, reduce_out_shape(x.shape(), k), what);
  count_op(what, [&] {  // an empty sum is a memset
    if (y.numel() == 0) return OpCost{};
    if (x.size(k) == 0) return launch(0, bytes_of(y));
    return launch(bytes_of(x), bytes_of(y), x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::reduce_forward(op, x, k, y), cuda::reduce_forward(op, x, k, y));
}

void reduce_backward(ReduceOp op, const Tensor& x, const Tensor& y, const Tensor& dy,
                     int64_t axis, Tensor& dx) {
  const char* what = "reduce_backward";
  const int64_t k = check_reduction(op, x, axis, what);
  const Shape out_shape = reduce_out_shape(x.shape(), k);
  check_matches(y, x, out_shape, what);
  check_matches(dy, x, out_shape, what);
  check_matches(dx, x, x.shape(), what);
  count_op(what, [&] {  // max re-finds each first maximum in x
    if (x.numel() == 0) return OpCost{};
    return launch(bytes_of(dy) + (op == ReduceOp::max ? bytes_of(x) : 0), bytes_of(dx), x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::reduce_backward(op, x, y, dy, k, dx),
               cuda::reduce_backward(op, x, y, dy, k, dx));
}

// out may be f32 or f64 whatever x holds: global_norm sums many f32 tensors into one f64 scalar.
void sum_of_squares(const Tensor& x, Tensor& out, GradMode mode) {
  const char* what = "sum_of_squares";
  check_contiguous(x, what);
  check_float(x, what);
  check_contiguous(out, what);
  check_float(out, what);
  check_same_device(x, out, what);
  check_shape(out, {1}, what);
  count_op(what, [&] {  // per-block partial sums, then one block adds them in a fixed order
    return launch(bytes_of(x), 0, 2 * x.numel()) +
           launch(mode == GradMode::Accumulate ? bytes_of(out) : 0, bytes_of(out));
  });
  AN_ON_DEVICE(x.device(), cpu::sum_of_squares(x, out, mode), cuda::sum_of_squares(x, out, mode));
}

// Undefined tensors are skipped, as torch's clip_grad_norm_ skips parameters without a gradient.
double global_norm(const std::vector<Tensor>& xs) {
  const Tensor* first = nullptr;
  for (const Tensor& x : xs) {
    if (!x.defined()) continue;
    if (first == nullptr) first = &x;
    check_same_device(*first, x, "global_norm");
  }
  if (first == nullptr) return 0.0;
  Tensor total = Tensor::zeros({1}, DType::f64, first->device());  // Σ x², stays on the device
  for (const Tensor& x : xs)
    if (x.defined()) sum_of_squares(x, total, GradMode::Accumulate);
  return std::sqrt(total.item());  // the one host sync
}

void scale_to_max_norm(Tensor& grad, const Tensor& sum_sq, double max_norm, Tensor& norm) {
  const char* what = "scale_to_max_norm";
  check_positive(max_norm, "max_norm", what);
  check_contiguous(grad, what);
  check_float(grad, what);
  check_scalars({&sum_sq, &norm}, {1}, grad, what);
  AN_CHECK(norm.raw_data() != sum_sq.raw_data()) << what << ": norm must not alias sum_sq";
  // Counted as if it clips: below max_norm the kernel leaves grad untouched (known on the device).
  count_op(what, [&] {
    return launch(bytes_of(grad, sum_sq), bytes_of(grad, norm), grad.numel());
  });
  AN_ON_DEVICE(grad.device(), cpu::scale_to_max_norm(grad, sum_sq, max_norm, norm),
               cuda::scale_to_max_norm(grad, sum_sq, max_norm, norm));
}

void central_difference_scales(const Tensor& sum_sq, double step, Tensor& scales) {
  const char* what = "central_difference_scales";
  check_positive(step, "step", what);
  check_scalars({&sum_sq}, {1}, sum_sq, what);
  check_scalars({&scales}, {3}, sum_sq, what);
  count_op(what, [&] { return launch(bytes_of(sum_sq), bytes_of(scales), 4); });
  AN_ON_DEVICE(sum_sq.device(), cpu::central_difference_scales(sum_sq, step, scales),
               cuda::central_difference_scales(sum_sq, step, scales));
}

void clip_coefficient(const Tensor& norm, double max_norm, Tensor& coefficient) {
  const char* what = "clip_coefficient";
  check_positive(max_norm, "max_norm", what);
  check_scalars({&norm, &coefficient}, {1}, norm, what);
  count_op(what, [&] { return launch(bytes_of(norm), bytes_of(coefficient), 2); });
  AN_ON_DEVICE(norm.device(), cpu::clip_coefficient(norm, max_norm, coefficient),
               cuda::clip_coefficient(norm, max_norm, coefficient));
}

Tensor clip_grad_norm_async(Tensor& grad, double max_norm) {
  check_positive(max_norm, "max_norm", "clip_grad_norm");
  check_contiguous(grad, "clip_grad_norm");
  check_float(grad, "clip_grad_norm");
  Tensor sum_sq = Tensor::empty({1}, DType::f64, grad.device());
  Tensor norm = Tensor::empty({1}, DType::f64, grad.device());
  sum_of_squares(grad, sum_sq, GradMode::Write);
  scale_to_max_norm(grad, sum_sq, max_norm, norm);
  return norm;
}

double clip_grad_norm(Tensor& grad, double max_norm) {
  return clip_grad_norm_async(grad, max_norm).item();
}

}  // namespace autonet
