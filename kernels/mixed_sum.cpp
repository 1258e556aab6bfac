// Public entries of the mixed-op weighted sum: validate once, then dispatch to a twin.
#include "kernels/mixed_sum.h"

namespace autonet {

namespace {
// weights [K] and K same-shape candidate outputs, all contiguous floats of one dtype and device.
void check_inputs(const Tensor& weights, const std::vector<Tensor>& ys, const char* what) {
  const int64_t k = static_cast<int64_t>(ys.size());
  AN_CHECK(k >= 1 && k <= kMaxMixedInputs)
      << what << ": needs 1 to " << kMaxMixedInputs << " candidate outputs, got " << k;
  check_defined(weights, what);
  check_contiguous(weights, what);
  check_float(weights, what);
  check_shape(weights, {k}, what);
  for (const Tensor& y : ys) {
    check_defined(y, what);
    check_contiguous(y, what);
    check_same_dtype(weights, y, what);
    check_same_device(weights, y, what);
    check_shape(y, ys[0].shape(), what);
  }
}

void check_like(const Tensor& t, const Tensor& ref, const char* what) {
  check_defined(t, what);
  check_contiguous(t, what);
  check_same_dtype(ref, t, what);
  check_same_device(ref, t, what);
  check_shape(t, ref.shape(), what);
}
}  // namespace

void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys, Tensor& out) {
  check_inputs(weights, ys, "mixed_sum_forward");
  check_like(out, ys[0], "mixed_sum_forward");
  AN_ON_DEVICE(weights.device(), cpu::mixed_sum_forward(weights, ys, out),
               cuda::mixed_sum_forward(weights, ys, out));
}

void mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& ys, const Tensor& dout,
                        std::vector<Tensor>& dys, Tensor& dweights) {
  const char* what = "mixed_sum_backward";
  check_inputs(weights, ys, what);
  check_like(dout, ys[0], what);
  AN_CHECK(dys.size() == ys.size())
      << what << ": dys has " << dys.size() << " entries for " << ys.size()
      << " candidate outputs (use undefined tensors for gradients not wanted)";
  for (const Tensor& dy : dys)
    if (dy.defined()) check_like(dy, ys[0], what);
  if (dweights.defined()) check_like(dweights, weights, what);
  AN_ON_DEVICE(weights.device(), cpu::mixed_sum_backward(weights, ys, dout, dys, dweights),
               cuda::mixed_sum_backward(weights, ys, dout, dys, dweights));
}

}  // namespace autonet
