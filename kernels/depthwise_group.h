// Several depthwise convolutions, each of ITS OWN input, as one op: member k is
// depthwise_conv2d (kernels/depthwise_conv2d.h) of xs[k] with filter ws[k] and params[k] (kernel
// size, padding, dilation, stride and the folded ReLU may differ between members), and all
// members' outputs share one shape. A DARTS search state's second depthwise stages: the
// sep_conv_3x3/5x5 of every edge leaving the state each read their own middle batch norm's
// output; one forward kernel computes them all, one backward kernel every dx, one every dw.
// (stencil_group.h is the sibling whose members all read one x.)
//
// Each member's result and gradients are exactly its own op's: y_k = conv_k(x_k), dx_k written
// or added per dx_modes[k], dw_k += its weight gradient. The members share no tensor, so nothing
// is summed across them.
//
// `norms` folds an affine-free batch norm in front of the members (the sep convs' middle BN): a
// member with a norm convolves x̂ = (x − mean)·invstd per channel (then its folded ReLU), with the
// statistics its BN normalised with (batch_norm_group_forward's save_means / save_invstds, which
// can form them without writing x̂). Its dx is then the gradient at x̂, what the BN's backward
// takes on to x (batch_norm_group_backward, given x). On the CPU the member equals the BN's
// output run through the plain member bit for bit. Backward can also sum, as it writes that
// gradient g, the BN backward's Σg and Σg·x̂ in parts (`grad_sums`, kernels/channel_moments.h):
// the BN then reads neither g nor x for them.
#pragma once
#include <vector>

#include "kernels/channel_moments.h"
#include "kernels/depthwise_conv2d.h"
#include "kernels/dispatch.h"
#include "kernels/group_limits.h"

namespace autonet {

// The common output shape of the members (an error names the member that differs).
Shape depthwise_group_out_shape(const std::vector<Shape>& xs, const std::vector<Shape>& ws,
                                const std::vector<DepthwiseConv2dParams>& params);

// A member's folded batch norm: mean and invstd [C] (both undefined: none).
struct InputNorm {
  Tensor mean, invstd;
  bool defined() const { return mean.defined(); }
};

AN_KERNEL_ENTRIES(
// xs[k] [N, C, H, W] (one shape for all), ws[k] [C, 1, R_k, S_k], ys[k] of
// depthwise_group_out_shape. 1 ≤ K ≤ kMaxGroupMembers. norms: empty, or one per member.
void depthwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys,
                             const std::vector<DepthwiseConv2dParams>& params,
                             const std::vector<InputNorm>& norms = {});
// dxs[k] written or added per dx_modes[k] (undefined: skipped); dws[k] accumulate (undefined:
// skipped); dys[k] undefined: member k receives no gradient (dx zero-filled if Write).
// grad_sums: empty, or per member float64 [moment_parts(x), C, 2] (undefined: none) that
// backward fills with the gradient-sum parts of dx_k against its folded BN's x̂ (a member with a
// norm and a written dx).
void depthwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws,
                              const std::vector<DepthwiseConv2dParams>& params,
                              const std::vector<GradMode>& dx_modes,
                              const std::vector<InputNorm>& norms = {},
                              const std::vector<Tensor>& grad_sums = {});
)

}  // namespace autonet
