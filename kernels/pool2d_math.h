// Window arithmetic of pool2d, shared by the CPU loops and the CUDA kernels so that both twins
// clip windows, count divisors and pick the arg-max the same way.
#pragma once
#include "kernels/pool2d.h"
#include "kernels/stride_math.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// Plain-int copy of Pool2dParams for kernels (coordinates inside one plane fit in int).
struct PoolGeometry {
  int kh, kw, sh, sw, ph, pw;
  int H, W, Ho, Wo;
  bool is_max, count_include_pad;
  // Equal geometries read the same windows the same way: their values and arg-maxes agree.
  bool operator==(const PoolGeometry&) const = default;
};

inline PoolGeometry pool_geometry(const Pool2dParams& p, const Shape& x, const Shape& y) {
  return {static_cast<int>(p.kernel_h), static_cast<int>(p.kernel_w),
          static_cast<int>(p.stride_h), static_cast<int>(p.stride_w),
          static_cast<int>(p.pad_h),    static_cast<int>(p.pad_w),
          static_cast<int>(x[2]),       static_cast<int>(x[3]),
          static_cast<int>(y[2]),       static_cast<int>(y[3]),
          p.mode == PoolMode::max,      p.count_include_pad};
}

// Rows [h0, h1) and columns [w0, w1) of output (oh, ow)'s window, clipped to the image.
struct PoolWindow {
  int h0, h1, w0, w1;
};

AN_HOST_DEVICE PoolWindow pool_window(const PoolGeometry& g, int oh, int ow) {
  const int hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  PoolWindow win;
  win.h0 = hs < 0 ? 0 : hs;
  win.w0 = ws < 0 ? 0 : ws;
  win.h1 = hs + g.kh > g.H ? g.H : hs + g.kh;
  win.w1 = ws + g.kw > g.W ? g.W : ws + g.kw;
  return win;
}

// What an average divides by: the window clipped to the padded image (PyTorch's
// count_include_pad), or only the image elements it covers.
AN_HOST_DEVICE int pool_avg_divisor(const PoolGeometry& g, int oh, int ow, const PoolWindow& win) {
  if (!g.count_include_pad) return (win.h1 - win.h0) * (win.w1 - win.w0);
  const int hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  const int he = hs + g.kh > g.H + g.ph ? g.H + g.ph : hs + g.kh;
  const int we = ws + g.kw > g.W + g.pw ? g.W + g.pw : ws + g.kw;
  return (he - hs) * (we - ws);
}

// Index inside the plane of the window's first maximum in row-major scan order. Padding is never
// part of the window, so it never wins. Windows are never empty (the entries check pad ≤ k/2).
template <class T>
AN_HOST_DEVICE int pool_argmax(const T* plane, const PoolGeometry& g, const PoolWindow& win) {
  int best_at = win.h0 * g.W + win.w0;
  T best = plane[best_at];
  for (int h = win.h0; h < win.h1; ++h)
    for (int w = win.w0; w < win.w1; ++w) {
      const T v = plane[h * g.W + w];
      if (v > best) {
        best = v;
        best_at = h * g.W + w;
      }
    }
  return best_at;
}

// Outputs whose window covers input coordinate i (one axis): [o0, o1).
AN_HOST_DEVICE void pool_outputs_covering(int i, int k, int s, int p, int n_out, int& o0, int& o1) {
  // o·s − p ≤ i ≤ o·s − p + k − 1  ⇔  (i + p − k + 1)/s ≤ o ≤ (i + p)/s
  const int lo = i + p - k + 1;
  o0 = lo <= 0 ? 0 : divide_by_stride(lo + s - 1, s);
  o1 = divide_by_stride(i + p, s) + 1;
  if (o1 > n_out) o1 = n_out;
}

// The pool windows covering input (ih, iw): outputs [oh0, oh1) × [ow0, ow1).
struct PoolCovering {
  int oh0, oh1, ow0, ow1;
  AN_HOST_DEVICE PoolCovering(const PoolGeometry& g, int ih, int iw) {
    pool_outputs_covering(ih, g.kh, g.sh, g.ph, g.Ho, oh0, oh1);
    pool_outputs_covering(iw, g.kw, g.sw, g.pw, g.Wo, ow0, ow1);
  }
};

}  // namespace autonet
