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

}  // namespace autonet
