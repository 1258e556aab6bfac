// Several 1×1 convolutions (stride 1, no padding, no bias), each on its own input with its own
// weight, as one op: y_k = w_k · x_k per pixel, x_k [N, C, H, W], w_k [Co, C, 1, 1],
// y_k [N, Co, H, W], every member of one shape. A DARTS search cell's sep/dil convs close each
// stage with such a convolution; all edges leaving one state run theirs as one group: one
// forward kernel, one kernel for every dx and one for every dw, where one conv2d each would
// launch 1 and 3.
//
// Member k's results and rounding are those of conv2d on its own (kernels/conv2d.h, the
// pointwise path): y_k = conv2d(x_k, w_k), dw_k += its weight gradient, and dx_k written or
// added per its GradMode; an added dx_k is old + (conv2d's dx) once rounded.
//
// `relu_input` folds a ReLU before every member's convolution into the loads (a search cell's
// ReLU → 1×1 conv → BN preprocessing): y_k = w_k · relu(x_k), dw_k from relu(x_k), and dx_k the
// gradient through the ReLU, (w_kᵀ · dy_k)·relu'(x_k) as relu's own backward forms it
// (elementwise_math.h), so the group equals relu then conv2d bit for bit on the CPU.
//
// `moments` asks forward for each output's per-channel moments in parts
// (kernels/channel_moments.h), formed from the values as they are written: the batch norm after
// a 1×1 conv (every one in a DARTS search cell) then needs no pass over its input for its
// statistics.
#pragma once
#include <vector>

#include "kernels/channel_moments.h"
#include "kernels/dispatch.h"
#include "kernels/group_limits.h"

namespace autonet {

AN_KERNEL_ENTRIES(
// xs[k] [N, C, H, W], ws[k] [Co, C, 1, 1], ys[k] [N, Co, H, W]: one shape each for all k;
// 1 ≤ K ≤ kMaxGroupMembers. moments: empty, or per member float64 [moment_parts(y), Co, 3] that
// forward fills with y_k's moment parts (undefined: none for that member).
void pointwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys, bool relu_input,
                             const std::vector<Tensor>& moments = {});
// dxs[k] written or added per dx_modes[k] (undefined: skipped); dws[k] accumulate (undefined:
// skipped); dys[k] undefined: member k receives no gradient (its dx, if defined and Write, is
// zero-filled; nothing added in Accumulate).
void pointwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws, const std::vector<GradMode>& dx_modes,
                              bool relu_input);
)

}  // namespace autonet
