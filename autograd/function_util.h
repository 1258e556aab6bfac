// Small helpers shared by the functions_*.cpp wrappers (not part of the public API).
#pragma once
#include <utility>
#include <vector>

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
void mode_grad(GradSlot& slot, const TensorSpec& spec, Kernel&& kernel,
               LandsOn on = LandsOn::compute_stream) {
  if (!slot.requires_grad) return;
  GradTarget target(slot, spec, /*can_accumulate=*/true, on);
  kernel(target.tensor, target.mode);
  target.finish();
}

// t as the part it is in a concatenation: itself, or viewed as `shape` (a stacked [1, S...]).
inline Tensor as_part(const Tensor& t, const Shape& shape) {
  return !t.defined() || t.shape() == shape ? t : t.view(shape);
}

// Runs a kernel that writes or adds every input's gradient as one part of a tensor (concat's,
// stack's): input k's target viewed as part_shapes[k] (undefined where it needs none), with its
// mode. kernel(std::vector<Tensor>& dxs, const std::vector<GradMode>& modes).
template <class Kernel>
void parts_grad(const SlotList& in, const std::vector<TensorSpec>& specs,
                const std::vector<Shape>& part_shapes, Kernel&& kernel) {
  std::vector<GradTarget> targets;
  targets.reserve(in.size());
  std::vector<Tensor> dxs;
  std::vector<GradMode> modes;
  for (size_t k = 0; k < in.size(); ++k) {
    targets.emplace_back(*in[k], specs[k], /*can_accumulate=*/true);
    dxs.push_back(as_part(targets.back().tensor, part_shapes[k]));
    modes.push_back(targets.back().mode);
  }
  kernel(dxs, modes);
  for (GradTarget& t : targets) t.finish();
}

}  // namespace autonet::detail
