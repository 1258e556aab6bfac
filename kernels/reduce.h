// Reductions: sum/mean/max over one axis, and the sum of squares behind global gradient norms.
#pragma once
#include <vector>

#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

enum class ReduceOp { sum, mean, max };

// x's shape with `axis` removed (a 1-D x reduces to shape [1]).
Shape reduce_out_shape(const Shape& x, int64_t axis);

AN_KERNEL_ENTRIES(
// y = op over `axis` (negative counts from the end).
void reduce_forward(ReduceOp op, const Tensor& x, int64_t axis, Tensor& y);
// dx written; max routes the gradient to the first maximum along the axis.
void reduce_backward(ReduceOp op, const Tensor& x, const Tensor& y, const Tensor& dy,
                     int64_t axis, Tensor& dx);
// out [1] = Σ x² (Write) or out += Σ x² (Accumulate); stays on the device.
void sum_of_squares(const Tensor& x, Tensor& out, GradMode mode = GradMode::Write);
// clip_grad_norm's clipping half: grad *= max_norm / (sqrt(sum_sq[0]) + 1e-6) when that factor is
// < 1 (a NaN factor leaves grad as is), reading Σx² (a [1] float64 tensor) on the device; norm [1]
// float64 is written with sqrt(sum_sq[0]).
void scale_to_max_norm(Tensor& grad, const Tensor& sum_sq, double max_norm, Tensor& norm);
// The scalars of a central difference along v (points w ± R·v with R·‖v‖ = step > 0) from Σv², a
// [1] float64 tensor, on the device: scales [3] float64 = {‖v‖, R, 1 / (2R)}. With ‖v‖ = 0 (no
// direction) R and 1/(2R) are 0: both points are w and their difference counts nothing. A
// non-finite ‖v‖ gives non-finite scales: the caller checks ‖v‖ when it reads it.
void central_difference_scales(const Tensor& sum_sq, double step, Tensor& scales);
// clip_grad_norm_'s coefficient max_norm / (norm + 1e-6), unclamped, from a norm [1] float64 on
// the device (clip_grad_norm_async's) into coefficient [1] float64 there: a step scaled by it
// (axpby's alpha_scale) needs no host sync.
void clip_coefficient(const Tensor& norm, double max_norm, Tensor& coefficient);
)

// Built on the entries above (no twins of their own).
// sqrt(Σ_t Σ x_t²) over several tensors on one device: one host sync at the end.
double global_norm(const std::vector<Tensor>& xs);
// torch.nn.utils.clip_grad_norm_ on one flat gradient buffer: total = ‖grad‖₂; when
// max_norm / (total + 1e-6) < 1, grad is scaled by that factor. Returns total (one host sync).
double clip_grad_norm(Tensor& grad, double max_norm);
// The same without the host sync (a step stays capturable and the GPU never drains): returns
// ‖grad‖₂ as a [1] float64 tensor on grad's device, to be read when the caller wants it.
Tensor clip_grad_norm_async(Tensor& grad, double max_norm);

}  // namespace autonet
