// CPU twin of the stencil group: each stencil runs through its own family's CPU kernel (tiled,
// vectorised, parallel over planes), in stencil order. On a CPU a launch costs nothing, so the
// group gains nothing from one pass; what it must keep is the result and the rounding the CUDA
// twin's pass produces: dx receives the stencils' contributions one after another, each added
// once rounded, ((dx + dx_0) + dx_1) + …, exactly the sequence of accumulating kernels below.
#include "kernels/stencil_group.h"

namespace autonet::cpu {

namespace {
bool is_pool(const Stencil& s) { return s.kind == Stencil::Kind::pool; }
}  // namespace

void stencil_group_forward(const Tensor& x, const std::vector<Tensor>& weights,
                           std::vector<Tensor>& ys, const std::vector<Stencil>& stencils) {
  for (size_t k = 0; k < stencils.size(); ++k) {
    if (is_pool(stencils[k]))
      cpu::pool2d_forward(x, ys[k], stencils[k].pool);
    else
      cpu::depthwise_conv2d_forward(x, weights[k], ys[k], stencils[k].conv);
  }
}

void stencil_group_backward(const Tensor& x, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& dys, Tensor& dx,
                            std::vector<Tensor>& dweights, const std::vector<Stencil>& stencils,
                            GradMode dx_mode) {
  GradMode mode = dx_mode;  // the first contribution lands as asked, the later ones add
  for (size_t k = 0; k < stencils.size(); ++k) {
    if (!dys[k].defined()) continue;
    if (is_pool(stencils[k])) {
      if (dx.defined()) cpu::pool2d_backward(x, dys[k], dx, stencils[k].pool, mode);
    } else if (dx.defined() || dweights[k].defined()) {
      cpu::depthwise_conv2d_backward(x, weights[k], dys[k], dx, dweights[k], stencils[k].conv, mode);
    }
    if (dx.defined()) mode = GradMode::Accumulate;
  }
  // No stencil had a gradient: a written dx is zero.
  if (dx.defined() && mode == GradMode::Write) dx.fill_(0.0);
}

}  // namespace autonet::cpu
