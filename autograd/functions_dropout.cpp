// Philox dropout: the mask is recomputed from the key in backward, nothing is stored.
#include "autograd/function_util.h"
#include "autograd/functions.h"

namespace autonet {
using namespace detail;

Variable dropout(const Variable& x, double p, const PhiloxKey& key, int64_t mask_period) {
  if (p == 0.0) return x;
  DropoutParams params;
  params.p = p;
  params.key = key;
  params.mask_period = mask_period;
  Tensor y = empty_like(x.value());
  dropout_forward(x.value(), y, params);
  const TensorSpec spec = TensorSpec::of(y);
  return make_result("dropout", y, {x}, [=](const Tensor& dy, const SlotList& in) {
    mode_grad(*in[0], spec,
              [&](Tensor& dx, GradMode mode) { dropout_backward(dy, dx, params, mode); });
  });
}

std::vector<Variable> stack_dropout(const std::vector<Variable>& xs, double p,
                                    const PhiloxKey& key, int64_t mask_period) {
  AN_CHECK(!xs.empty() && p > 0.0)
      << "stack_dropout: needs states and a drop probability > 0, got " << xs.size()
      << " states and p = " << p;
  Shape part{1}, out;
  part.insert(part.end(), xs[0].shape().begin(), xs[0].shape().end());
  out = part;
  out[0] = std::ssize(xs);
  std::vector<Tensor> parts;
  for (const Variable& x : xs) {
    AN_CHECK(x.shape() == xs[0].shape()) << "stack_dropout: " << x.value().describe() << " and "
                                          << xs[0].value().describe() << " differ in shape";
    parts.push_back(as_part(x.value(), part));
  }
  DropoutParams params;
  params.p = p;
  params.key = key;
  params.mask_period = mask_period;
  Tensor y = empty_as(out, parts[0]), y_dropped = empty_as(out, parts[0]);
  stack_dropout_forward(parts, y, y_dropped, params);
  const std::vector<TensorSpec> specs(xs.size(), TensorSpec::of(xs[0].value()));
  const std::vector<Shape> part_shapes(xs.size(), part);
  return make_results(
      "stack_dropout", {y, y_dropped}, xs,
      [specs, part_shapes, params](const std::vector<Tensor>& dys, const SlotList& in) {
        parts_grad(in, specs, part_shapes,
                   [&](std::vector<Tensor>& dxs, const std::vector<GradMode>& modes) {
                     stack_dropout_backward(dys[0], dys[1], dxs, modes, params);
                   });
      });
}

}  // namespace autonet
