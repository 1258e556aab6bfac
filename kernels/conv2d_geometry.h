// The index arithmetic of im2col and its adjoint, shared by the CPU loops and the CUDA kernels so
// the two twins cannot drift apart.
//
// im2col lays one sample x [C, H, W] out as col [C·R·S, Ho·Wo]: row (c, r, s), column (oh, ow)
// holds x[c, oh·sh − ph + r·dh, ow·sw − pw + s·dw] (0 in the padding). The convolution is then
// y [K, Ho·Wo] = weight [K, C·R·S] · col.
#pragma once
#include "kernels/conv2d.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

struct Conv2dGeometry {
  int64_t N, C, H, W;  // x [N, C, H, W]
  int64_t K, R, S;     // weight [K, C, R, S]
  int64_t Ho, Wo;      // y [N, K, Ho, Wo]
  int64_t sh, sw, ph, pw, dh, dw;

  AN_HOST_DEVICE int64_t rows() const { return C * R * S; }  // im2col rows
  AN_HOST_DEVICE int64_t pixels() const { return Ho * Wo; }  // im2col columns per sample
  // A 1×1 stride-1 unpadded conv reads x [C, H·W] as its own im2col matrix.
  AN_HOST_DEVICE bool pointwise() const {
    return R == 1 && S == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
  }
};

// Host only: the shapes were validated by the public entry.
inline Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& w, const Conv2dParams& p) {
  const Shape y = conv2d_out_shape(x, w, p);
  return {x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3],
          p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w};
}

// col[row, oh·Wo + ow] of one sample x [C, H, W], row = (c·R + r)·S + s.
template <class T>
AN_HOST_DEVICE T im2col_value(const T* x, const Conv2dGeometry& g, int64_t row, int64_t oh,
                              int64_t ow) {
  const int64_t s = row % g.S, r = (row / g.S) % g.R, c = row / (g.R * g.S);
  const int64_t ih = oh * g.sh - g.ph + r * g.dh, iw = ow * g.sw - g.pw + s * g.dw;
  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return T(0);
  return x[(c * g.H + ih) * g.W + iw];
}

// dx[c, ih, iw] = Σ dcol[(c, r, s), (oh, ow)] over every tap that im2col copied x[c, ih, iw] to:
// the adjoint of im2col, as a gather (each input pixel written once, no atomics, fixed order).
// dcol's rows are `ld` apart; its column oh·Wo + ow belongs to this sample.
template <class T>
AN_HOST_DEVICE T col2im_value(const T* dcol, int64_t ld, const Conv2dGeometry& g, int64_t c,
                              int64_t ih, int64_t iw) {
  T sum = T(0);
  for (int64_t r = 0; r < g.R; ++r) {
    const int64_t h = ih + g.ph - r * g.dh;  // = oh·sh when this tap reads row ih
    if (h < 0 || h % g.sh != 0 || h / g.sh >= g.Ho) continue;
    for (int64_t s = 0; s < g.S; ++s) {
      const int64_t w = iw + g.pw - s * g.dw;
      if (w < 0 || w % g.sw != 0 || w / g.sw >= g.Wo) continue;
      sum += dcol[((c * g.R + r) * g.S + s) * ld + (h / g.sh) * g.Wo + w / g.sw];
    }
  }
  return sum;
}

}  // namespace autonet
