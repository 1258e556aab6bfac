// DARTS' FactorizedReduce up to its batch norm (the stride-2 skip_connect and the preprocessing
// after a reduction cell, reference darts.md §1) as one op: a ReLU, then two 1×1 stride-2
// convolutions, w1 on the (even, even) pixels and w2 on the (odd, odd) ones (PyTorch's conv_2 on
// x[:, :, 1:, 1:]), their outputs side by side on channels:
//   y[n, o, i, j]        = Σ_c w1[o, c] · relu(x[n, c, 2i, 2j])
//   y[n, Co/2 + o, i, j] = Σ_c w2[o, c] · relu(x[n, c, 2i + 1, 2j + 1])
// x [N, C, H, W] with H and W even, w1 and w2 [Co/2, C, 1, 1], y [N, Co, H/2, W/2]. The ReLU is
// folded into the loads and y written in place: one launch forward and two backward, where relu,
// two im2col convolutions, a slice and a concat launched about 21.
//
// The CPU twin runs conv2d's own GEMMs on the same columns (kernels/cpu/conv2d.cpp), so its
// values are those of relu → conv2d → slice2d → conv2d → concat bit for bit.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

// [N, 2·Co/2, H/2, W/2]; checks x [N, C, H, W] with H, W even, and w1, w2 [Co/2, C, 1, 1].
Shape factorized_reduce_out_shape(const Shape& x, const Shape& w1, const Shape& w2);

AN_KERNEL_ENTRIES(
void factorized_reduce_forward(const Tensor& x, const Tensor& w1, const Tensor& w2, Tensor& y);
// dx (written or added per dx_mode): at (even, even) pixels w1ᵀ · dy[:, :Co/2], at (odd, odd)
// pixels w2ᵀ · dy[:, Co/2:], 0 elsewhere, each times relu'(x) (x > 0). dw1 and dw2 accumulate.
// Any undefined gradient is skipped.
void factorized_reduce_backward(const Tensor& x, const Tensor& w1, const Tensor& w2,
                                const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& dw2,
                                GradMode dx_mode);
)

}  // namespace autonet
