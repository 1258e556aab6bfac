// CPU twin of the depthwise group: each member runs through depthwise_conv2d's CPU kernel (framed
// planes, taps fixed at compile time for DARTS' geometries, parallel over planes), in member
// order. On a CPU a launch costs nothing, so one pass over the group would gain nothing; the
// members share no tensor, so each result is its own op's, bit for bit.
#include "kernels/depthwise_group.h"

namespace autonet::cpu {

void depthwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys,
                             const std::vector<DepthwiseConv2dParams>& params) {
  for (size_t k = 0; k < params.size(); ++k)
    cpu::depthwise_conv2d_forward(xs[k], ws[k], ys[k], params[k]);
}

void depthwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws,
                              const std::vector<DepthwiseConv2dParams>& params,
                              const std::vector<GradMode>& dx_modes) {
  for (size_t k = 0; k < params.size(); ++k) {
    if (!dys[k].defined()) {  // no gradient: a written dx is zero, an accumulated one unchanged
      if (dxs[k].defined() && dx_modes[k] == GradMode::Write) dxs[k].fill_(0.0);
      continue;
    }
    if (dxs[k].defined() || dws[k].defined())
      cpu::depthwise_conv2d_backward(xs[k], ws[k], dys[k], dxs[k], dws[k], params[k], dx_modes[k]);
  }
}

}  // namespace autonet::cpu
