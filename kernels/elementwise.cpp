// Public entries of the elementwise family: validate once, then dispatch to a twin.
#include "kernels/elementwise.h"

#include "kernels/op_cost.h"

namespace autonet {

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::relu: return "relu";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::identity: return "identity";
  }
  return "?";
}

namespace {
void check_pair(const Tensor& a, const Tensor& b, const char* what) {
  check_contiguous(a, what);
  check_float(a, what);
  check_matches(b, a, a.shape(), what);
}
}  // namespace

void unary_forward(UnaryOp op, const Tensor& x, Tensor& y) {
  check_pair(x, y, "unary_forward");
  count_op("unary_forward", [&] {
    return x.numel() == 0 ? OpCost{} : launch(bytes_of(x), bytes_of(y), x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::unary_forward(op, x, y), cuda::unary_forward(op, x, y));
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                    GradMode mode) {
  check_pair(x, y, "unary_backward");
  check_pair(x, dy, "unary_backward");
  check_pair(x, dx, "unary_backward");
  count_op("unary_backward", [&] {  // the kernel loads x, y and dy (+ dx to accumulate)
    if (x.numel() == 0) return OpCost{};
    const int64_t accumulated = mode == GradMode::Accumulate ? bytes_of(dx) : 0;
    return launch(bytes_of(x, y, dy) + accumulated, bytes_of(dx), 2 * x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::unary_backward(op, x, y, dy, dx, mode),
               cuda::unary_backward(op, x, y, dy, dx, mode));
}

void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  check_pair(a, b, "binary_forward");
  check_pair(a, out, "binary_forward");
  count_op("binary_forward", [&] {
    return a.numel() == 0 ? OpCost{} : launch(bytes_of(a, b), bytes_of(out), a.numel());
  });
  AN_ON_DEVICE(a.device(), cpu::binary_forward(op, a, b, out), cuda::binary_forward(op, a, b, out));
}

void axpby(double alpha, const Tensor& x, double beta, Tensor& y, const Tensor& alpha_scale) {
  const char* what = "axpby";
  check_pair(x, y, what);
  if (alpha_scale.defined()) {
    check_contiguous(alpha_scale, what);
    check_same_device(x, alpha_scale, what);
    AN_CHECK(alpha_scale.dtype() == DType::f64 && alpha_scale.numel() == 1)
        << what << ": alpha_scale must be one float64 value, got " << alpha_scale.describe();
  }
  count_op(what, [&] {  // beta = 0 reads no y
    if (x.numel() == 0) return OpCost{};
    return launch(bytes_of(x, alpha_scale) + (beta != 0 ? bytes_of(y) : 0), bytes_of(y),
                  3 * x.numel());
  });
  AN_ON_DEVICE(x.device(), cpu::axpby(alpha, x, beta, y, alpha_scale),
               cuda::axpby(alpha, x, beta, y, alpha_scale));
}

void fill(Tensor& y, double value) {
  check_contiguous(y, "fill");
  check_float(y, "fill");
  count_op("fill", [&] { return y.numel() == 0 ? OpCost{} : launch(0, bytes_of(y)); });
  AN_ON_DEVICE(y.device(), cpu::fill(y, value), cuda::fill(y, value));
}

}  // namespace autonet
