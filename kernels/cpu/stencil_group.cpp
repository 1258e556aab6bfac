// CPU twin of the stencil group: each stencil runs through its own family's CPU kernel (tiled,
// vectorised, parallel over planes), in stencil order; a pool with an earlier one's windows copies
// its values. On a CPU a launch costs nothing, so the
// group gains nothing from one pass; what it must keep is the result and the rounding of the
// CUDA twin's pass: the contributions summed in stencil order, dx_0 + dx_1 + …, each added once
// rounded (the accumulating kernels below), and that sum added to an existing dx once. Moment
// parts are formed from each finished output (channel_moments.h's CPU twin).
#include <cstring>

#include "kernels/cpu/isa.h"
#include "kernels/pool2d_math.h"
#include "kernels/stencil_group.h"

AN_CPU_KERNELS_BEGIN

namespace {
bool is_pool(const Stencil& s) { return s.kind == Stencil::Kind::pool; }

// The first stencil of the group that is a pool with stencil k's windows (k itself when none
// before it is, or k is no pool).
size_t first_same_pool(const Tensor& x, const Shape& out, const std::vector<Stencil>& stencils,
                       size_t k) {
  if (!is_pool(stencils[k])) return k;
  const PoolGeometry g = pool_geometry(stencils[k].pool, x.shape(), out);
  for (size_t j = 0; j < k; ++j)
    if (is_pool(stencils[j]) && pool_geometry(stencils[j].pool, x.shape(), out) == g) return j;
  return k;
}

// dst = src, element for element (same shape and dtype), inside the twin: not an op of its own.
void copy_values(const Tensor& src, const Tensor& dst) {
  std::memcpy(dst.raw_data(), src.raw_data(), src.nbytes());
}
}  // namespace

void stencil_group_forward(const Tensor& x, const std::vector<Tensor>& weights,
                           std::vector<Tensor>& ys, const std::vector<Stencil>& stencils,
                           const std::vector<Tensor>& moments) {
  for (size_t k = 0; k < stencils.size(); ++k) {
    // The edges leaving one state pool it alike: a pool with the windows of an earlier one (as
    // the CUDA twin's `same_as`) takes its values, and its moment parts where both have them.
    const size_t same_as = first_same_pool(x, ys[k].shape(), stencils, k);
    if (same_as < k) {
      copy_values(ys[same_as], ys[k]);
      if (has_parts(moments, k) && has_parts(moments, same_as))
        copy_values(moments[same_as], moments[k]);
      else if (has_parts(moments, k))
        form_moment_parts_of(ys[k], moments[k], "stencil_group_forward");
      continue;
    }
    if (is_pool(stencils[k]))
      cpu::pool2d_forward(x, ys[k], stencils[k].pool);
    else
      cpu::depthwise_conv2d_forward(x, weights[k], ys[k], stencils[k].conv);
    if (has_parts(moments, k)) form_moment_parts_of(ys[k], moments[k], "stencil_group_forward");
  }
}

void stencil_group_backward(const Tensor& x, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& dys, Tensor& dx,
                            std::vector<Tensor>& dweights, const std::vector<Stencil>& stencils,
                            GradMode dx_mode) {
  const bool accumulate = dx.defined() && dx_mode == GradMode::Accumulate;
  Tensor sum = accumulate ? Tensor::empty(dx.shape(), dx.dtype(), dx.device()) : dx;
  GradMode mode = GradMode::Write;  // the first contribution is written, the later ones add
  for (size_t k = 0; k < stencils.size(); ++k) {
    if (!dys[k].defined()) continue;
    if (is_pool(stencils[k])) {
      if (sum.defined()) cpu::pool2d_backward(x, dys[k], sum, stencils[k].pool, mode);
    } else if (sum.defined() || dweights[k].defined()) {
      cpu::depthwise_conv2d_backward(x, weights[k], dys[k], sum, dweights[k], stencils[k].conv,
                                     mode);
    }
    if (sum.defined()) mode = GradMode::Accumulate;
  }
  if (!dx.defined()) return;
  if (mode == GradMode::Write) {  // no stencil had a gradient: nothing to add, or a zero dx
    if (!accumulate) dx.fill_(0.0);
    return;
  }
  if (!accumulate) return;
  dispatch_float(dx.dtype(), "stencil_group_backward", [&]<class scalar_t>() {
    scalar_t* pdx = dx.data<scalar_t>();
    const scalar_t* ps = sum.data<scalar_t>();
    const int64_t n = dx.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) pdx[i] += ps[i];
  });
}

AN_CPU_KERNELS_END
