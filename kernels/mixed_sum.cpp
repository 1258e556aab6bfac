// Public entries of the mixed-op weighted sum: validate once, then dispatch to a twin.
#include "kernels/mixed_sum.h"

#include "kernels/op_cost.h"

namespace autonet {

void check_mixed_inputs(const Tensor& weights, const std::vector<Tensor>& candidates,
                        const char* what, int max_inputs) {
  const int64_t k = static_cast<int64_t>(candidates.size());
  AN_CHECK(k >= 1 && k <= max_inputs)
      << what << ": needs 1 to " << max_inputs << " candidates, got " << k;
  check_contiguous(weights, what);
  check_float(weights, what);
  check_shape(weights, {k}, what);
  for (const Tensor& c : candidates) check_matches(c, weights, candidates[0].shape(), what);
}

void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys, Tensor& out) {
  check_mixed_inputs(weights, ys, "mixed_sum_forward");
  check_matches(out, ys[0], ys[0].shape(), "mixed_sum_forward");
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
  check_mixed_inputs(weights, ys, what);
  check_matches(dout, ys[0], ys[0].shape(), what);
  AN_CHECK(dys.size() == ys.size())
      << what << ": dys has " << dys.size() << " entries for " << ys.size()
      << " candidate outputs (use undefined tensors for gradients not wanted)";
  for (const Tensor& dy : dys)
    check_matches_if_defined(dy, ys[0], ys[0].shape(), what);
  check_matches_if_defined(dweights, weights, weights.shape(), what);
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
