// Dense 2-D convolution, NCHW, weight [K, C, R, S], no groups: the DARTS stem (3×3), the 1×1
// pointwise convs (a GEMM), the auxiliary head's 2×2 (FactorizedReduce's 1×1 stride-2 pair has
// its own fused family, kernels/factorized_reduce.h).
// Computed as im2col + GEMM (1×1 stride-1 unpadded convs skip the im2col).
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};

// [N, K, Ho, Wo] with Ho = (H + 2·pad_h − dilation_h·(R − 1) − 1) / stride_h + 1.
Shape conv2d_out_shape(const Shape& x, const Shape& weight, const Conv2dParams& p);

AN_KERNEL_ENTRIES(
// y = conv(x, w) + bias (bias [K] or undefined).
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                    const Conv2dParams& p);
// dx written, or added into when dx_mode is Accumulate (old + dx rounded once, as writing it
// and adding it with axpby gives); dw and dbias accumulate; any undefined gradient is skipped.
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                     Tensor& dbias, const Conv2dParams& p, GradMode dx_mode = GradMode::Write);
)

}  // namespace autonet
