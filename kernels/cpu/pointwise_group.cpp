// CPU twin of the pointwise group: each member runs through conv2d's own CPU kernel (its 1×1
// GEMM path, OpenBLAS threading each GEMM), so member k's values are conv2d's bit for bit. On a
// CPU a launch costs nothing; the group only has to keep conv2d's results, an added dx included
// (conv2d's own Accumulate mode: old + dx rounded once).
#include "kernels/pointwise_group.h"

#include "kernels/conv2d.h"

namespace autonet::cpu {

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
    Tensor no_bias;
    cpu::conv2d_backward(xs[k], ws[k], dys[k], dxs[k], dws[k], no_bias, Conv2dParams{},
                         dx_modes[k]);
  }
}

}  // namespace autonet::cpu
