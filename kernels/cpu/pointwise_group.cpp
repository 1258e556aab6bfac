// CPU twin of the pointwise group: each member runs through conv2d's own CPU kernel (its 1×1
// GEMM path, OpenBLAS threading each GEMM), so member k's values are conv2d's bit for bit. On a
// CPU a launch costs nothing; the group only has to keep conv2d's results, an added dx included
// (conv2d's own Accumulate mode: old + dx rounded once). A folded ReLU runs as relu's own CPU
// kernels around it: relu(x) into a scratch tensor, and relu's backward formula on conv2d's dx.
#include "kernels/pointwise_group.h"

#include "kernels/conv2d.h"
#include "kernels/cpu/isa.h"
#include "kernels/elementwise.h"

AN_CPU_KERNELS_BEGIN

namespace {
// x, or relu(x) in a new tensor.
Tensor input_of(const Tensor& x, bool relu_input) {
  if (!relu_input) return x;
  Tensor r = Tensor::empty(x.shape(), x.dtype(), x.device());
  cpu::unary_forward(UnaryOp::relu, x, r);
  return r;
}

}  // namespace

void pointwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys, bool relu_input,
                             const std::vector<Tensor>& moments) {
  for (size_t k = 0; k < xs.size(); ++k) {
    cpu::conv2d_forward(input_of(xs[k], relu_input), ws[k], Tensor(), ys[k], Conv2dParams{});
    if (has_parts(moments, k)) form_moment_parts_of(ys[k], moments[k], "pointwise_group_forward");
  }
}

void pointwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws, const std::vector<GradMode>& dx_modes,
                              bool relu_input) {
  for (size_t k = 0; k < xs.size(); ++k) {
    const bool accumulate = dxs[k].defined() && dx_modes[k] == GradMode::Accumulate;
    if (!dys[k].defined()) {  // no gradient reached member k: a written dx is zero
      if (dxs[k].defined() && !accumulate) dxs[k].fill_(0.0);
      continue;
    }
    Tensor no_bias;
    if (!relu_input) {
      cpu::conv2d_backward(xs[k], ws[k], dys[k], dxs[k], dws[k], no_bias, Conv2dParams{},
                           dx_modes[k]);
      continue;
    }
    // The convolution's dx into a scratch tensor, then through the ReLU into dx.
    Tensor g = dxs[k].defined() ? Tensor::empty(xs[k].shape(), xs[k].dtype(), xs[k].device())
                                : Tensor();
    // Only dw reads the convolution's input: relu(x) is formed for it alone.
    const Tensor x = dws[k].defined() ? input_of(xs[k], true) : xs[k];
    cpu::conv2d_backward(x, ws[k], dys[k], g, dws[k], no_bias, Conv2dParams{}, GradMode::Write);
    if (dxs[k].defined())  // relu's backward (relu' reads x only)
      cpu::unary_backward(UnaryOp::relu, xs[k], xs[k], g, dxs[k], dx_modes[k]);
  }
}

AN_CPU_KERNELS_END
