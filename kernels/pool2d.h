// Max and average pooling over NCHW windows (DARTS: 3×3 stride 1/2 padding 1 with
// count_include_pad = false; the auxiliary head's 5×5 stride 3), and global average pooling.
// Floor output size. Padding never wins a max; max backward recomputes the arg-max from x (first
// maximum in window scan order) instead of storing indices.
#pragma once
#include "kernels/dispatch.h"
#include "runtime/tensor.h"

namespace autonet {

enum class PoolMode { max, avg };

struct Pool2dParams {
  PoolMode mode = PoolMode::max;
  int64_t kernel_h = 3, kernel_w = 3;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  bool count_include_pad = false;  // avg only: divide by the window size incl. padding
};

Shape pool2d_out_shape(const Shape& x, const Pool2dParams& p);

AN_KERNEL_ENTRIES(
void pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p);
// dx written.
void pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                     const Pool2dParams& p);
// x [N, C, H, W] → y [N, C]; dx written.
void global_avg_pool_forward(const Tensor& x, Tensor& y);
void global_avg_pool_backward(const Tensor& dy, Tensor& dx);
)

}  // namespace autonet
