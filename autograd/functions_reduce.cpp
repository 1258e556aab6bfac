// Sum and mean, over all elements or one axis.
#include "autograd/function_util.h"
#include "autograd/functions.h"
#include "kernels/reduce.h"

namespace autonet {
using namespace detail;

namespace {
// Sum and mean backward read neither x nor y, only their shapes: the closure keeps x's spec, and
// the kernel gets an uninitialised stand-in for x and dy (y's shape) for y.
Variable reduce(ReduceOp op, const char* name, const Variable& x, const Tensor& x_value,
                int64_t axis) {
  Tensor y = empty_as(reduce_out_shape(x_value.shape(), axis), x_value);
  reduce_forward(op, x_value, axis, y);
  const TensorSpec reduced_spec = TensorSpec::of(x_value);  // the (possibly flattened) input
  const TensorSpec x_spec = TensorSpec::of(x.value());
  return make_result(name, y, {x}, [=](const Tensor& dy, const SlotList& in) {
    write_grad(*in[0], x_spec, [&](Tensor& dx) {
      Tensor dx_reduced = dx.view(reduced_spec.shape);
      reduce_backward(op, empty_of(reduced_spec), dy, dy, axis, dx_reduced);
    });
  });
}

// All elements: reduce the flat view along its only axis → [1].
Tensor flat(const Variable& x) { return x.value().view({x.numel()}); }
}  // namespace

Variable sum(const Variable& x) { return reduce(ReduceOp::sum, "sum", x, flat(x), 0); }
Variable mean(const Variable& x) { return reduce(ReduceOp::mean, "mean", x, flat(x), 0); }
Variable sum(const Variable& x, int64_t axis) {
  return reduce(ReduceOp::sum, "sum", x, x.value(), axis);
}
Variable mean(const Variable& x, int64_t axis) {
  return reduce(ReduceOp::mean, "mean", x, x.value(), axis);
}

}  // namespace autonet
