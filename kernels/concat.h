// Concatenation along an axis (DARTS cells concatenate node outputs on channels), its inverse
// split, and strided spatial slicing (e.g. x[:, :, 1::2, 1::2]).
#pragma once
#include <vector>

#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

struct Slice2dParams {
  int64_t offset_h = 0, offset_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t out_h = 0, out_w = 0;  // y[n, c, i, j] = x[n, c, offset_h + i·stride_h, offset_w + j·stride_w]
};

AN_KERNEL_ENTRIES(
// y = concat(xs) along axis; all xs agree on every other dimension.
void concat_forward(const std::vector<Tensor>& xs, int64_t axis, Tensor& y);
// dxs[k] written with its part of dy, or that added into it where dx_modes[k] is Accumulate (old +
// it, rounded as writing it and adding it with axpby; dx_modes empty: all written). At most one
// entry may be undefined (skipped): its extent along the axis is what the defined entries leave
// over. The dxs share no memory (an added part would be added twice).
void concat_backward(const Tensor& dy, int64_t axis, std::vector<Tensor>& dxs,
                     const std::vector<GradMode>& dx_modes = {});
// x [N, C, H, W] → y [N, C, out_h, out_w]; every read index must lie inside x.
void slice2d_forward(const Tensor& x, Tensor& y, const Slice2dParams& p);
// dx written: dy scattered back, zero elsewhere; or, when dx_mode is Accumulate, that added
// into dx (old + it, rounded as writing it and adding it with axpby).
void slice2d_backward(const Tensor& dy, Tensor& dx, const Slice2dParams& p,
                      GradMode dx_mode = GradMode::Write);
)

}  // namespace autonet
