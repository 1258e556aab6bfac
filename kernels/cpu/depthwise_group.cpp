// CPU twin of the depthwise group: each member runs through depthwise_conv2d's CPU kernel (framed
// planes, taps fixed at compile time for DARTS' geometries, parallel over planes), in member
// order. On a CPU a launch costs nothing, so one pass over the group would gain nothing; the
// members share no tensor, so each result is its own op's, bit for bit. A member with a folded
// batch norm normalises each plane as it frames it (kernels/cpu/depthwise_conv2d_normalized.h):
// the values the BN would have written (batch_norm_math.h's x̂), never written. Gradient sums are
// summed per run from the finished dx and x, the terms and order of the BN's own pass.
#include "kernels/depthwise_group.h"
#include "kernels/batch_norm_math.h"
#include "kernels/cpu/depthwise_conv2d_normalized.h"
#include "kernels/cpu/isa.h"

AN_CPU_KERNELS_BEGIN

namespace {
// Member k's folded batch norm, or none.
InputNorm norm_of(const std::vector<InputNorm>& norms, size_t k) {
  return norms.empty() ? InputNorm{} : norms[k];
}
}  // namespace

void depthwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys,
                             const std::vector<DepthwiseConv2dParams>& params,
                             const std::vector<InputNorm>& norms) {
  for (size_t k = 0; k < params.size(); ++k) {
    const InputNorm norm = norm_of(norms, k);
    depthwise_conv2d_forward_normalized(xs[k], ws[k], ys[k], params[k], norm.mean, norm.invstd);
  }
}

void depthwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws,
                              const std::vector<DepthwiseConv2dParams>& params,
                              const std::vector<GradMode>& dx_modes,
                              const std::vector<InputNorm>& norms,
                              const std::vector<Tensor>& grad_sums) {
  for (size_t k = 0; k < params.size(); ++k) {
    if (!dys[k].defined()) {  // no gradient: a written dx is zero, an accumulated one unchanged
      if (dxs[k].defined() && dx_modes[k] == GradMode::Write) dxs[k].fill_(0.0);
      continue;
    }
    const InputNorm norm = norm_of(norms, k);
    if (dxs[k].defined() || dws[k].defined())
      depthwise_conv2d_backward_normalized(xs[k], ws[k], dys[k], dxs[k], dws[k], params[k],
                                           dx_modes[k], norm.mean, norm.invstd);
  }
  // The gradient sums from the written dx and x (after the members: a dx without a dy is zeros).
  for (size_t k = 0; k < grad_sums.size(); ++k) {
    if (!grad_sums[k].defined()) continue;
    const Tensor& x = xs[k];
    dispatch_float(x.dtype(), "depthwise_group_backward", [&]<class T>() {
      form_grad_sum_parts(x.data<T>(), dxs[k].data<T>(), x.size(0), x.size(1),
                          x.size(2) * x.size(3), norms[k].mean.data<T>(),
                          norms[k].invstd.data<T>(), grad_sums[k].data<double>());
    });
  }
}

AN_CPU_KERNELS_END
