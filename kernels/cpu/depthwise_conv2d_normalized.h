// depthwise_conv2d's CPU kernels with an affine-free batch norm folded into the loads: each plane
// reads x̂ = (x − mean[c])·invstd[c] where it reads x (before its folded ReLU; PlaneNorm in
// kernels/depthwise_conv2d_math.h), as depthwise_group's normalised members ask, and dx is then
// the gradient at x̂. mean / invstd [C], or both undefined: depthwise_conv2d itself.
#pragma once
#include "kernels/depthwise_conv2d.h"

namespace autonet {

AN_CPU_TWINS(void depthwise_conv2d_forward_normalized(const Tensor& x, const Tensor& w, Tensor& y,
                                                      const DepthwiseConv2dParams& p,
                                                      const Tensor& mean, const Tensor& invstd);
             void depthwise_conv2d_backward_normalized(const Tensor& x, const Tensor& w,
                                                       const Tensor& dy, Tensor& dx, Tensor& dw,
                                                       const DepthwiseConv2dParams& p,
                                                       GradMode dx_mode, const Tensor& mean,
                                                       const Tensor& invstd);)

}  // namespace autonet
