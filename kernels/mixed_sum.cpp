// Public entries of the mixed-op weighted sum: validate once, then dispatch to a twin.
#include "kernels/mixed_sum.h"

#include "kernels/op_cost.h"

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
  count_op("mixed_sum_forward", [&] {
    if (out.numel() == 0) return OpCost{};
    int64_t read = bytes_of(weights);
    for (const Tensor& y : ys) read += bytes_of(y);
    return launch(read, bytes_of(out), 2 * static_cast<int64_t>(ys.size()) * out.numel());
  });
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
  // One kernel writes the dys (and, for dweights, per-block dot products, reading the ys); a
  // second sums the blocks' dots into dweights.
  count_op("mixed_sum_backward", [&] {
    const int64_t n = dout.numel();
    if (n == 0) return OpCost{};
    int64_t read = bytes_of(weights, dout), written = 0, flops = 0;
    for (size_t k = 0; k < ys.size(); ++k) {
      if (dweights.defined()) read += bytes_of(ys[k]), flops += 2 * n;
      if (dys[k].defined()) written += bytes_of(dys[k]), flops += n;
    }
    OpCost cost = launch(read, written, flops);
    if (dweights.defined()) cost += launch(bytes_of(dweights), bytes_of(dweights));
    return cost;
  });
  AN_ON_DEVICE(weights.device(), cpu::mixed_sum_backward(weights, ys, dout, dys, dweights),
               cuda::mixed_sum_backward(weights, ys, dout, dys, dweights));
}

}  // namespace autonet
