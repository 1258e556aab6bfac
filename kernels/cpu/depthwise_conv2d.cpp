// CPU reference of depthwise_conv2d: the convolution sum written out, one (n, c) plane at a time.
// Loops run tap by tap over whole output rows, with each tap's in-image column range worked out
// once instead of testing every read against the border.
#include <algorithm>
#include <vector>

#include "kernels/depthwise_conv2d_math.h"

namespace autonet::cpu {

namespace {
// Outputs o in [lo, hi) whose input coordinate o·stride + offset lies in [0, extent).
void valid_outputs(int offset, int stride, int extent, int n_out, int& lo, int& hi) {
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  hi = extent - 1 - offset < 0 ? 0 : (extent - 1 - offset) / stride + 1;
  if (hi > n_out) hi = n_out;
  if (lo > hi) lo = hi;
}

template <class T>
T folded_relu(T v, bool relu) {
  return relu && !(v > T(0)) ? T(0) : v;
}
}  // namespace

// y[n,c,oh,ow] = Σ_{r,s} w[c,r,s] · relu?(x[n,c, oh·stride − pad_h + r·dil, ow·stride − pad_w + s·dil])
void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y,
                              const DepthwiseConv2dParams& p) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), y.shape(), p);
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_float(x.dtype(), "depthwise_conv2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H, W]
    const scalar_t* pw = w.data<scalar_t>();  // [C, R, S]
    scalar_t* py = y.data<scalar_t>();        // [N·C, Ho, Wo]
#pragma omp parallel for if (planes * g.Ho * g.Wo > 8192)
    for (int64_t plane = 0; plane < planes; ++plane) {
      const scalar_t* xp = px + plane * g.H * g.W;
      const scalar_t* wc = pw + (plane % g.C) * g.R * g.S;
      std::vector<double> acc(g.Wo);
      for (int oh = 0; oh < g.Ho; ++oh) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int r = 0; r < g.R; ++r) {
          const int ih = oh * g.stride - g.pad_h + r * g.dilation;
          if (ih < 0 || ih >= g.H) continue;  // zero padding
          const scalar_t* xrow = xp + ih * g.W;
          for (int s = 0; s < g.S; ++s) {
            const int offset = s * g.dilation - g.pad_w;
            int lo, hi;
            valid_outputs(offset, g.stride, g.W, g.Wo, lo, hi);
            const double wv = wc[r * g.S + s];
            for (int ow = lo; ow < hi; ++ow)
              acc[ow] += wv * folded_relu(xrow[ow * g.stride + offset], g.relu_input);
          }
        }
        scalar_t* yrow = py + (plane * g.Ho + oh) * g.Wo;
        for (int ow = 0; ow < g.Wo; ++ow) yrow[ow] = static_cast<scalar_t>(acc[ow]);
      }
    }
  });
}

// dx[n,c,ih,iw] = relu'(x) · Σ over the (output, tap) pairs that read (ih, iw) of w·dy (written);
// dw[c,r,s] += Σ_{n,oh,ow} dy · relu?(x at that tap) (accumulated).
void depthwise_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, const DepthwiseConv2dParams& p) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), dy.shape(), p);
  const int64_t N = x.size(0), planes = N * g.C;
  dispatch_float(x.dtype(), "depthwise_conv2d_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // [N·C, H, W]
    const scalar_t* pw = w.data<scalar_t>();    // [C, R, S]
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C, Ho, Wo]
    if (dx.defined()) {
      scalar_t* pdx = dx.data<scalar_t>();  // [N·C, H, W]
#pragma omp parallel for if (planes * g.Ho * g.Wo > 8192)
      for (int64_t plane = 0; plane < planes; ++plane) {
        const scalar_t* xp = px + plane * g.H * g.W;
        const scalar_t* wc = pw + (plane % g.C) * g.R * g.S;
        const scalar_t* dyp = pdy + plane * g.Ho * g.Wo;
        std::vector<double> acc(static_cast<size_t>(g.H) * g.W, 0.0);  // scatter target
        for (int oh = 0; oh < g.Ho; ++oh)
          for (int r = 0; r < g.R; ++r) {
            const int ih = oh * g.stride - g.pad_h + r * g.dilation;
            if (ih < 0 || ih >= g.H) continue;
            for (int s = 0; s < g.S; ++s) {
              const int offset = s * g.dilation - g.pad_w;
              int lo, hi;
              valid_outputs(offset, g.stride, g.W, g.Wo, lo, hi);
              const double wv = wc[r * g.S + s];
              for (int ow = lo; ow < hi; ++ow)
                acc[ih * g.W + ow * g.stride + offset] += wv * dyp[oh * g.Wo + ow];
            }
          }
        scalar_t* dxp = pdx + plane * g.H * g.W;
        for (int i = 0; i < g.H * g.W; ++i)
          dxp[i] = g.relu_input && !(xp[i] > scalar_t(0)) ? scalar_t(0)
                                                          : static_cast<scalar_t>(acc[i]);
      }
    }
    if (dw.defined()) {
      scalar_t* pdw = dw.data<scalar_t>();  // [C, R, S]
#pragma omp parallel for collapse(2) if (planes * g.Ho * g.Wo > 8192)
      for (int c = 0; c < g.C; ++c)
        for (int tap = 0; tap < g.R * g.S; ++tap) {
          const int r = tap / g.S, s = tap % g.S;
          const int offset = s * g.dilation - g.pad_w;
          int lo, hi;
          valid_outputs(offset, g.stride, g.W, g.Wo, lo, hi);
          double sum = 0;
          for (int64_t n = 0; n < N; ++n) {
            const scalar_t* xp = px + (n * g.C + c) * g.H * g.W;
            const scalar_t* dyp = pdy + (n * g.C + c) * g.Ho * g.Wo;
            for (int oh = 0; oh < g.Ho; ++oh) {
              const int ih = oh * g.stride - g.pad_h + r * g.dilation;
              if (ih < 0 || ih >= g.H) continue;
              for (int ow = lo; ow < hi; ++ow)
                sum += double(dyp[oh * g.Wo + ow]) *
                       folded_relu(xp[ih * g.W + ow * g.stride + offset], g.relu_input);
            }
          }
          pdw[c * g.R * g.S + tap] += static_cast<scalar_t>(sum);
        }
    }
  });
}

}  // namespace autonet::cpu
