// Elementwise ops, views and zeros: the wrappers built on kernels/elementwise.h alone.
#include "autograd/function_util.h"
#include "autograd/functions.h"
#include "kernels/elementwise.h"

namespace autonet {
using namespace detail;

namespace {
Variable binary(BinaryOp op, const char* name, const Variable& a, const Variable& b) {
  Tensor out = empty_like(a.value());
  binary_forward(op, a.value(), b.value(), out);
  if (op != BinaryOp::mul) {
    // d(a ± b) = da ± db: nothing to keep.
    const double sign_b = op == BinaryOp::add ? 1.0 : -1.0;
    return make_result(name, out, {a, b}, [sign_b](const Tensor& dy, const SlotList& in) {
      accumulate_grad(*in[0], dy, 1.0);
      accumulate_grad(*in[1], dy, sign_b);
    });
  }
  // d(a·b) = b·da + a·db: keep each factor only if the other one needs its gradient.
  const SavedValue keep_a = b.requires_grad() ? SavedValue(a) : SavedValue();
  const SavedValue keep_b = a.requires_grad() ? SavedValue(b) : SavedValue();
  const TensorSpec spec = TensorSpec::of(out);
  return make_result(name, out, {a, b}, [keep_a, keep_b, spec](const Tensor& dy,
                                                              const SlotList& in) {
    write_grad(*in[0], spec,
               [&](Tensor& da) { binary_forward(BinaryOp::mul, dy, keep_b.get(), da); });
    write_grad(*in[1], spec,
               [&](Tensor& db) { binary_forward(BinaryOp::mul, dy, keep_a.get(), db); });
  });
}

Variable unary(UnaryOp op, const Variable& x) {
  Tensor y = empty_like(x.value());
  unary_forward(op, x.value(), y);
  // tanh', sigmoid' and exp' read only the output, log' only the input; the kernel gets the kept
  // tensor in both slots. relu' reads x > 0, which is y > 0: relu keeps its input, and a consumer
  // that needs the output (a convolution, for its weight gradient) rebuilds it. The two ReLUs
  // that read a cell's output (the next two cells' preprocessing) then keep one tensor, not two.
  const bool keep_relu_input = op == UnaryOp::relu && rebuilding_values();
  const Tensor kept = op == UnaryOp::log || keep_relu_input ? x.value() : y;
  Recompute rebuild;
  if (keep_relu_input)
    rebuild = [kept] {
      Tensor again = empty_like(kept);
      unary_forward(UnaryOp::relu, kept, again);
      return again;
    };
  return make_result(
      unary_op_name(op), y, {x},
      [op, kept](const Tensor& dy, const SlotList& in) {
        mode_grad(*in[0], TensorSpec::of(kept), [&](Tensor& dx, GradMode mode) {
          unary_backward(op, kept, kept, dy, dx, mode);
        });
      },
      std::move(rebuild));
}
}  // namespace

Variable add(const Variable& a, const Variable& b) { return binary(BinaryOp::add, "add", a, b); }
Variable sub(const Variable& a, const Variable& b) { return binary(BinaryOp::sub, "sub", a, b); }
Variable mul(const Variable& a, const Variable& b) { return binary(BinaryOp::mul, "mul", a, b); }

Variable scale(const Variable& x, double factor) {
  Tensor y = empty_like(x.value());
  axpby(factor, x.value(), 0.0, y);
  return make_result("scale", y, {x}, [factor](const Tensor& dy, const SlotList& in) {
    accumulate_grad(*in[0], dy, factor);
  });
}

Variable relu(const Variable& x) { return unary(UnaryOp::relu, x); }
Variable tanh(const Variable& x) { return unary(UnaryOp::tanh, x); }
Variable sigmoid(const Variable& x) { return unary(UnaryOp::sigmoid, x); }
Variable exp(const Variable& x) { return unary(UnaryOp::exp, x); }
Variable log(const Variable& x) { return unary(UnaryOp::log, x); }

Variable view(const Variable& x, const Shape& shape) {
  Tensor y = x.value().view(shape);
  const Shape x_shape = x.shape();
  return make_result("view", y, {x}, [x_shape](const Tensor& dy, const SlotList& in) {
    accumulate_grad(*in[0], dy.view(x_shape));
  });
}

Variable reshape(const Variable& x, const Shape& shape) {
  if (x.value().is_contiguous()) return view(x, shape);
  Tensor y = x.value().contiguous().view(shape);
  const Shape x_shape = x.shape();
  return make_result("reshape", y, {x}, [x_shape](const Tensor& dy, const SlotList& in) {
    accumulate_grad(*in[0], dy.view(x_shape));
  });
}

Variable select(const Variable& x, int64_t index) {
  AN_CHECK(x.dim() >= 1 && index >= 0 && index < x.size(0))
      << "select(" << index << ") of " << x.value().describe();
  Tensor y = x.value().select(0, index);  // contiguous: a block of the leading axis
  const TensorSpec x_spec = TensorSpec::of(x.value());
  return make_result("select", y, {x}, [x_spec, index](const Tensor& dy, const SlotList& in) {
    Tensor grad = accumulate_target(*in[0], x_spec);
    if (!grad.defined()) return;
    Tensor row = grad.select(0, index);
    axpby(1.0, dy, 1.0, row);
  });
}

Variable zeros(const Shape& shape, DType dtype, Device device) {
  Tensor z = Tensor::empty(shape, dtype, device);
  fill(z, 0.0);
  return Variable(z);
}

Variable zeros_like(const Variable& x) { return zeros(x.shape(), x.dtype(), x.device()); }

}  // namespace autonet
