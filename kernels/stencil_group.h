// Several stencils reading one input, as one op: depthwise convolutions (their folded ReLU
// included) and poolings of the same x [N, C, H, W], each with its own output of one common
// shape. A DARTS search edge's first stages: the depthwise convs opening sep_conv_3x3/5x5 and
// dil_conv_3x3/5x5 and the two 3×3 pools all read the edge's input state; one forward kernel reads
// x once for the six, one backward kernel gathers the six gradients into dx in one pass, and one
// kernel forms every depthwise weight gradient.
//
// Each stencil's result and gradients are those of its own kernel (depthwise_conv2d.h,
// pool2d.h): y_k = stencil_k(x), dw_k += its weight gradient, and
//   dx (=|+=) (dx_0 + dx_1 + …) summed in stencil order,
// where dx_k is stencil k's input gradient from dys[k] (through its folded ReLU). An undefined
// dys[k] (an output nobody used) contributes nothing. Accumulating adds the sum once, so it
// rounds exactly like the sum written apart and then added (autograd's reference path).
//
// `moments` asks forward for outputs' per-channel moments in parts (kernels/channel_moments.h),
// formed from the values as they are written: a search edge's pools feed their closing batch
// norm straight away, which then needs no pass over them for its statistics.
#pragma once
#include <vector>

#include "kernels/channel_moments.h"
#include "kernels/depthwise_conv2d.h"
#include "kernels/dispatch.h"
#include "kernels/pool2d.h"

namespace autonet {

constexpr int kMaxStencils = 24;  // a DARTS state's 4 edges of 6 stencils each

// One member of a group: a depthwise convolution (weight [C, 1, R, S]) or a pooling (no weight).
struct Stencil {
  enum class Kind { depthwise, pool };
  Kind kind = Kind::depthwise;
  DepthwiseConv2dParams conv;  // Kind::depthwise
  Pool2dParams pool;           // Kind::pool
  static Stencil depthwise(const DepthwiseConv2dParams& p) { return {Kind::depthwise, p, {}}; }
  static Stencil pooling(const Pool2dParams& p) { return {Kind::pool, {}, p}; }
};

// The common output shape of the stencils on input x (an error names the stencil that differs).
// weights[k]: stencil k's filter shape ([C, 1, R, S]), ignored for pools.
Shape stencil_group_out_shape(const Shape& x, const std::vector<Shape>& weights,
                              const std::vector<Stencil>& stencils);

AN_KERNEL_ENTRIES(
// x [N, C, H, W]; weights[k] stencil k's filter (undefined for a pool); ys[k] its output, all of
// stencil_group_out_shape. 1 ≤ K ≤ kMaxStencils. moments: empty, or per stencil float64
// [moment_parts(y), C, 3] that forward fills with y_k's moment parts (undefined: none for it).
void stencil_group_forward(const Tensor& x, const std::vector<Tensor>& weights,
                           std::vector<Tensor>& ys, const std::vector<Stencil>& stencils,
                           const std::vector<Tensor>& moments = {});
// dx written, or added into when dx_mode is Accumulate (undefined: skipped); dweights[k]
// accumulates (undefined: skipped; always undefined for a pool); dys[k] undefined: stencil k
// receives no gradient. Max pools re-find their arg-max in x.
void stencil_group_backward(const Tensor& x, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& dys, Tensor& dx,
                            std::vector<Tensor>& dweights, const std::vector<Stencil>& stencils,
                            GradMode dx_mode = GradMode::Write);
)

}  // namespace autonet
