// Geometry of depthwise_conv2d, shared by the CPU loops and the CUDA kernels.
#pragma once
#include "kernels/batch_norm_math.h"  // bn_xhat
#include "kernels/depthwise_conv2d.h"
#include "kernels/plane_walk.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// Plain-int copy of the parameters and sizes (coordinates inside one plane fit in int).
struct DepthwiseGeometry {
  int C, H, W, R, S, Ho, Wo;
  int stride, pad_h, pad_w, dilation;
  bool relu_input;
};

inline DepthwiseGeometry depthwise_geometry(const Shape& x, const Shape& w, const Shape& y,
                                            const DepthwiseConv2dParams& p) {
  return {static_cast<int>(x[1]),       static_cast<int>(x[2]),     static_cast<int>(x[3]),
          static_cast<int>(w[2]),       static_cast<int>(w[3]),     static_cast<int>(y[2]),
          static_cast<int>(y[3]),       static_cast<int>(p.stride), static_cast<int>(p.pad_h),
          static_cast<int>(p.pad_w),    static_cast<int>(p.dilation), p.relu_input};
}

// An affine-free batch norm folded in front of a plane's convolution (depthwise_group's norms):
// the conv reads x̂ = (x − mean)·invstd, as the BN would have written it (off: x itself).
template <class T>
struct PlaneNorm {
  bool on = false;
  T mean = T(0), invstd = T(1);
  AN_HOST_DEVICE T operator()(T x) const { return on ? bn_xhat(x, mean, invstd) : x; }
};

// A value through a folded ReLU (on: folded; NaN is clamped like any value not above zero).
template <class T>
AN_HOST_DEVICE T folded_relu(T v, bool on) {
  return on && !(v > T(0)) ? T(0) : v;
}

// What a tap makes of an input value x inside the plane: normalised and ReLU'd when those are
// folded.
template <class T>
AN_HOST_DEVICE T depthwise_value(T x, const DepthwiseGeometry& g, PlaneNorm<T> norm = {}) {
  return folded_relu(norm(x), g.relu_input);
}

// The input value tap (r, s) of output (oh, ow) reads: zero in the padding, else depthwise_value.
template <class T>
AN_HOST_DEVICE T depthwise_input(const T* plane, const DepthwiseGeometry& g, int ih, int iw,
                                 PlaneNorm<T> norm = {}) {
  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return T(0);
  return depthwise_value(plane[ih * g.W + iw], g, norm);
}

// Whether every tap of the window whose top-left tap is (ih0, iw0) lies inside the plane (most
// windows): then the taps need no bounds checks.
AN_HOST_DEVICE bool depthwise_window_inside(const DepthwiseGeometry& g, int ih0, int iw0) {
  return ih0 >= 0 && iw0 >= 0 && ih0 + (g.R - 1) * g.dilation < g.H &&
         iw0 + (g.S - 1) * g.dilation < g.W;
}

}  // namespace autonet
