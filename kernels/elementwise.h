// Elementwise math over same-shape contiguous float tensors.
//
// Gradient contract: backward kernels write dx (GradMode::Write) unless told to accumulate.
// In-place use (y aliasing x) is allowed for every forward op here.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

enum class UnaryOp { relu, tanh, sigmoid, exp, log, identity };
const char* unary_op_name(UnaryOp op);

enum class BinaryOp { add, sub, mul };

AN_KERNEL_ENTRIES(
// y = op(x).
void unary_forward(UnaryOp op, const Tensor& x, Tensor& y);
// dx (=|+=) dy * op'(x); uses y where that is cheaper (tanh, sigmoid, exp).
void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                    GradMode mode = GradMode::Write);
// out = a (+|-|*) b.
void binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
// y = alpha * x + beta * y (beta = 0 ignores what y held, NaN included). With `alpha_scale` (a
// [1] float64 tensor on the device) alpha is multiplied by its value, read there by the kernel:
// a coefficient computed on the device (a step size, a norm) needs no host sync, and the result is
// bit for bit that of axpby(alpha · value, ...).
void axpby(double alpha, const Tensor& x, double beta, Tensor& y,
           const Tensor& alpha_scale = Tensor());
// y = value, on any device, without a host round trip.
void fill(Tensor& y, double value);
)

}  // namespace autonet
