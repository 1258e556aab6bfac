// Small helpers shared by the functions_*.cpp wrappers (not part of the public API).
#pragma once
#include <utility>

#include "autograd/variable.h"
#include "kernels/dispatch.h"

namespace autonet::detail {

inline Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }
inline Tensor empty_of(const TensorSpec& s) { return Tensor::empty(s.shape, s.dtype, s.device); }
inline Tensor empty_as(const Shape& shape, const Tensor& like) {
  return Tensor::empty(shape, like.dtype(), like.device());
}

// Runs a kernel that can only WRITE an input gradient, landing the result in `slot` (skipped when
// the slot needs none): kernel(Tensor& dx).
template <class Kernel>
void write_grad(GradSlot& slot, const TensorSpec& spec, Kernel&& kernel) {
  if (!slot.requires_grad) return;
  GradTarget target(slot, spec);
  kernel(target.tensor);
  target.finish();
}

// Runs a kernel that can write or accumulate (a GradMode flag, or gemm's beta): it adds straight
// into an existing gradient, so no temporary is needed. kernel(Tensor& dx, GradMode mode).
template <class Kernel>
void mode_grad(GradSlot& slot, const TensorSpec& spec, Kernel&& kernel) {
  if (!slot.requires_grad) return;
  GradTarget target(slot, spec, /*can_accumulate=*/true);
  kernel(target.tensor, target.mode);
  target.finish();
}

}  // namespace autonet::detail
