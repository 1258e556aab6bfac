// CPU twin of the pointwise group: each member runs through conv2d's own CPU kernel (its 1×1
// GEMM path, OpenBLAS threading each GEMM), so member k's values are conv2d's bit for bit. On a
// CPU a launch costs nothing; the group only has to keep conv2d's results. A dx added into is
// written apart and then added once, old + dx, as autograd adds a contribution conv2d writes.
#include "kernels/pointwise_group.h"

#include "kernels/conv2d.h"

namespace autonet::cpu {

namespace {
// dst += src elementwise (same shape, contiguous). Single-threaded on purpose, as conv2d's
// im2col is: an OpenMP region between OpenBLAS calls makes the two thread pools fight.
void add_into(Tensor& dst, const Tensor& src) {
  dispatch_float(dst.dtype(), "pointwise_group_backward", [&]<class scalar_t>() {
    scalar_t* pd = dst.data<scalar_t>();
    const scalar_t* ps = src.data<scalar_t>();
    const int64_t n = dst.numel();
    for (int64_t i = 0; i < n; ++i) pd[i] += ps[i];
  });
}
}  // namespace

void pointwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys) {
  for (size_t k = 0; k < xs.size(); ++k)
    cpu::conv2d_forward(xs[k], ws[k], Tensor(), ys[k], Conv2dParams{});
}

void pointwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws, const std::vector<GradMode>& dx_modes) {
  for (size_t k = 0; k < xs.size(); ++k) {
    const bool accumulate = dxs[k].defined() && dx_modes[k] == GradMode::Accumulate;
    if (!dys[k].defined()) {  // no gradient reached member k: a written dx is zero
      if (dxs[k].defined() && !accumulate) dxs[k].fill_(0.0);
      continue;
    }
    Tensor dx = accumulate ? Tensor::empty(dxs[k].shape(), dxs[k].dtype()) : dxs[k];
    Tensor no_bias;
    cpu::conv2d_backward(xs[k], ws[k], dys[k], dx, dws[k], no_bias, Conv2dParams{});
    if (accumulate) add_into(dxs[k], dx);
  }
}

}  // namespace autonet::cpu
