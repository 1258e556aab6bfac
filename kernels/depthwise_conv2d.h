// Depthwise 2-D convolution (groups = channels), NCHW, weight [C, 1, R, S]: the first half of
// DARTS' separable and dilated convs (kernel 3/5, stride 1/2, dilation 1/2, any padding).
// `relu_input` folds the preceding ReLU into the input loads (DARTS' ReLU → conv → ... order), so
// the ReLU output is never stored.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

struct DepthwiseConv2dParams {
  int64_t stride = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation = 1;
  bool relu_input = false;  // y = conv(relu(x))
};

// [N, C, Ho, Wo], Ho = (H + 2·pad_h − dilation·(R − 1) − 1) / stride + 1.
Shape depthwise_conv2d_out_shape(const Shape& x, const Shape& weight,
                                 const DepthwiseConv2dParams& p);

AN_KERNEL_ENTRIES(
void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y,
                              const DepthwiseConv2dParams& p);
// dx written (the gradient w.r.t. x itself, through the folded ReLU when relu_input); dw
// accumulates; undefined gradients are skipped.
void depthwise_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, const DepthwiseConv2dParams& p);
)

}  // namespace autonet
