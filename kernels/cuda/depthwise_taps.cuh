// One depthwise convolution at one position, a thread's whole share of work in the group kernels
// (stencil_group.cu: the convs among a shared input's stencils; depthwise_group.cu: convs of their
// own inputs): the output value at (oh, ow), and the input gradient at (ih, iw) gathered from
// every output that read it. Both sum their taps in (r, s) order. Host and device code: a CPU test
// (DepthwiseTaps.*) runs them against the CPU twin of depthwise_conv2d.
#pragma once
#include <climits>

#include "kernels/depthwise_conv2d_math.h"
#include "kernels/stride_math.h"

namespace autonet::cuda {

// The group kernels' launch shape, one for both families.
constexpr int kThreads = 256;
constexpr int kWeightGradCluster = 8;  // blocks per (member, channel): the portable cluster size
constexpr int kTapsPerPass = 25;       // dw accumulators per thread: a 5×5 filter in one pass
// Blocks of the dw kernels an SM keeps resident: their sums wait on loads, so occupancy comes
// first (at most 85 registers a thread, which they fit unspilled; unbounded, the depthwise
// group's unrolled taps took 107, two blocks an SM).
constexpr int kWeightGradMinBlocks = 3;

// y at (oh, ow) of the plane xp, filter wp [R·S] (its channel's); `norm`: the plane's folded BN.
template <class T>
AN_HOST_DEVICE T depthwise_output(const DepthwiseGeometry& g, const T* wp,
                                  const T* __restrict__ xp, int oh, int ow,
                                  PlaneNorm<T> norm = {}) {
  const int ih0 = oh * g.stride - g.pad_h, iw0 = ow * g.stride - g.pad_w;
  T acc = 0;
  if (depthwise_window_inside(g, ih0, iw0)) {  // the same products in the same order, unchecked
    const T* row = xp + ih0 * g.W + iw0;
    for (int r = 0; r < g.R; ++r, row += g.dilation * g.W)
      for (int s = 0; s < g.S; ++s)
        acc += wp[r * g.S + s] * depthwise_value(row[s * g.dilation], g, norm);
    return acc;
  }
  for (int r = 0; r < g.R; ++r)
    for (int s = 0; s < g.S; ++s)
      acc += wp[r * g.S + s] *
             depthwise_input(xp, g, ih0 + r * g.dilation, iw0 + s * g.dilation, norm);
  return acc;
}

// dx at (ih, iw) of the plane xp: Σ w[r, s]·dy over the outputs whose tap (r, s) read it, with dyp
// the plane's output gradient [Ho·Wo]. With a folded BN (`norm`), the gradient at x̂.
template <class T>
AN_HOST_DEVICE T depthwise_input_grad(const DepthwiseGeometry& g, const T* wp,
                                      const T* __restrict__ xp, const T* dyp, int ih, int iw,
                                      PlaneNorm<T> norm = {}) {
  // The folded ReLU passes no gradient where the input was clamped.
  if (g.relu_input && !(norm(xp[ih * g.W + iw]) > T(0))) return T(0);
  T acc = 0;
  const int top = ih + g.pad_h, left = iw + g.pad_w;  // output (top, left) reads (ih, iw) by tap 0
  if (g.stride == 1 && top - (g.R - 1) * g.dilation >= 0 && top < g.Ho &&
      left - (g.S - 1) * g.dilation >= 0 && left < g.Wo) {
    // Stride 1 and every tap's output inside (most inputs): the same products, unchecked.
    const T* row = dyp + top * g.Wo + left;
    for (int r = 0; r < g.R; ++r, row -= g.dilation * g.Wo)
      for (int s = 0; s < g.S; ++s) acc += wp[r * g.S + s] * row[-s * g.dilation];
    return acc;
  }
  for (int r = 0; r < g.R; ++r) {
    // ih + pad_h − r·dilation = oh·stride for the output row oh whose tap r reads row ih.
    const int oh = exact_stride_quotient(ih + g.pad_h - r * g.dilation, g.stride);
    if (oh < 0 || oh >= g.Ho) continue;
    for (int s = 0; s < g.S; ++s) {
      const int ow = exact_stride_quotient(iw + g.pad_w - s * g.dilation, g.stride);
      if (ow < 0 || ow >= g.Wo) continue;
      acc += wp[r * g.S + s] * dyp[oh * g.Wo + ow];
    }
  }
  return acc;
}

// Element i of an [N, C, height, width] tensor: its (n, c) plane, channel, row and column (the
// group kernels run a thread per element). In 32-bit arithmetic where i fits: a 64-bit division
// is a subroutine of ~70 instructions, more than a 3×3 tap loop costs.
struct Position {
  int64_t plane;
  int c, row, col;
};
AN_HOST_DEVICE Position position_of(int64_t i, int C, int height, int width) {
  const int plane_size = height * width;  // one plane's coordinates fit in int
  if (i <= INT_MAX) {
    const int plane = static_cast<int>(i) / plane_size;
    const int at = static_cast<int>(i) - plane * plane_size;
    return {plane, plane % C, at / width, at % width};
  }
  const int64_t plane = i / plane_size;
  const int at = static_cast<int>(i - plane * plane_size);
  return {plane, static_cast<int>(plane % C), at / width, at % width};
}

}  // namespace autonet::cuda
