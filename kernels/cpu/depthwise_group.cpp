// CPU twin of the depthwise group: each member runs through depthwise_conv2d's CPU kernel (framed
// planes, taps fixed at compile time for DARTS' geometries, parallel over planes), in member
// order. On a CPU a launch costs nothing, so one pass over the group would gain nothing; the
// members share no tensor, so each result is its own op's, bit for bit. A member with a folded
// batch norm convolves x̂, formed first as the BN would write it (batch_norm_math.h).
#include "kernels/batch_norm_math.h"
#include "kernels/depthwise_group.h"

namespace autonet::cpu {

namespace {
// Member k's input as its conv reads it: x, or x̂ = (x − mean)·invstd per channel in a new tensor.
Tensor conv_input(const std::vector<Tensor>& xs, const std::vector<InputNorm>& norms, size_t k) {
  if (norms.empty() || !norms[k].defined()) return xs[k];
  const Tensor& x = xs[k];
  Tensor xhat = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), "depthwise_group", [&]<class T>() {
    const BnDims d(x);
    const T *px = x.data<T>(), *mean = norms[k].mean.data<T>(), *invstd = norms[k].invstd.data<T>();
    T* out = xhat.data<T>();
#pragma omp parallel for if (x.numel() > 65536)
    for (int64_t plane = 0; plane < d.N * d.C; ++plane) {
      const int64_t c = plane % d.C, at = plane * d.S;
      for (int64_t s = 0; s < d.S; ++s) out[at + s] = bn_xhat(px[at + s], mean[c], invstd[c]);
    }
  });
  return xhat;
}
}  // namespace

void depthwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys,
                             const std::vector<DepthwiseConv2dParams>& params,
                             const std::vector<InputNorm>& norms) {
  for (size_t k = 0; k < params.size(); ++k)
    cpu::depthwise_conv2d_forward(conv_input(xs, norms, k), ws[k], ys[k], params[k]);
}

void depthwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws,
                              const std::vector<DepthwiseConv2dParams>& params,
                              const std::vector<GradMode>& dx_modes,
                              const std::vector<InputNorm>& norms) {
  for (size_t k = 0; k < params.size(); ++k) {
    if (!dys[k].defined()) {  // no gradient: a written dx is zero, an accumulated one unchanged
      if (dxs[k].defined() && dx_modes[k] == GradMode::Write) dxs[k].fill_(0.0);
      continue;
    }
    if (dxs[k].defined() || dws[k].defined())
      cpu::depthwise_conv2d_backward(conv_input(xs, norms, k), ws[k], dys[k], dxs[k], dws[k],
                                     params[k], dx_modes[k]);
  }
}

}  // namespace autonet::cpu
