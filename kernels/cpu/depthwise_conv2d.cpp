// CPU reference of depthwise_conv2d: the convolution sum written out, one (n, c) plane at a time.
//
// Every plane is first copied into a zero-bordered buffer (ReLU applied when folded), so the tap
// loops below read like the formula with no bounds tests, and with the kernel size and stride
// known at compile time (DARTS: 3×3/5×5, stride 1/2) the loop over output columns vectorises.
// Sums run in scalar_t like the CUDA twin's (≤ R·S terms per output); only dw's long sum over
// N·Ho·Wo goes through double, per plane and then across planes.
#include <algorithm>
#include <vector>

#include "kernels/cpu/depthwise_conv2d_normalized.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/lane_sum.h"
#include "kernels/depthwise_conv2d_math.h"

AN_CPU_KERNELS_BEGIN

namespace {

template <class T>
T folded_relu(T v, bool relu) {
  return relu && !(v > T(0)) ? T(0) : v;
}

// A plane surrounded by a zero frame: element (i, j) of the image sits at
// data[(i + top)·width + (j + left)], and every position in [0, height) × [0, width) is readable.
template <class T>
struct FramedPlane {
  std::vector<T> data;
  int width = 0;

  // Copies the h × w block at `src` (rows `src_stride` apart) with `top`/`left` rows/columns of
  // zeros before it and enough after it to make the frame height × width; norm and relu fold a
  // batch norm and the ReLU in, in that order.
  void fill(const T* src, int src_stride, int h, int w, int top, int left, int height,
            int frame_width, bool relu, PlaneNorm<T> norm = {}) {
    width = frame_width;
    data.assign(static_cast<size_t>(height) * width, T(0));
    // Each case a loop of its own, so that each vectorises: in one loop choosing per element,
    // GCC does not compute a normalisation it might not need (it could raise an FP exception).
    auto rows = [&](auto value) {
      for (int i = 0; i < h; ++i) {
        const T* in = src + static_cast<int64_t>(i) * src_stride;
        T* row = data.data() + static_cast<size_t>(i + top) * width + left;
        for (int j = 0; j < w; ++j) row[j] = value(in[j]);
      }
    };
    const T mean = norm.mean, invstd = norm.invstd;
    if (norm.on && relu)
      rows([=](T x) { return folded_relu(bn_xhat(x, mean, invstd), true); });
    else if (norm.on)
      rows([=](T x) { return bn_xhat(x, mean, invstd); });
    else if (relu)
      rows([](T x) { return folded_relu(x, true); });
    else
      rows([](T x) { return x; });
  }
  const T* row(int i) const { return data.data() + static_cast<size_t>(i) * width; }
};

// A fixed-size filter's taps, copied where the loops below keep them in registers, and taken a
// few filter rows a pass (all of a 3×3, one row of a 5×5: as many as registers hold), so each pass
// unrolls inside the loop over outputs and that loop vectorises.
template <int KR, int KS, class T>
struct FixedTaps {
  static constexpr int kRowsPerPass = KR * KS <= 9 ? KR : 1;
  T w[KR * KS];
  explicit FixedTaps(const T* weights) {
    for (int t = 0; t < KR * KS; ++t) w[t] = weights[t];
  }
  // sum + the taps of filter rows [r0, r0 + kRowsPerPass) on `rows` (their input rows) at column
  // `at`, in (r, s) order.
  T add_pass(T sum, const T* const* rows, int r0, int64_t at, int dil) const {
#pragma GCC unroll 8
    for (int i = 0; i < kRowsPerPass; ++i)
#pragma GCC unroll 8
      for (int s = 0; s < KS; ++s) sum += w[(r0 + i) * KS + s] * rows[i][at + s * dil];
    return sum;
  }
};

// Stride 1 with the filter size fixed: out[o, q] = Σ_{r,s} w[r, s] · in[o + r·dil, q + s·dil].
// Laid end to end, the frame's rows make the plane one run, output (o, q) at run position
// o·width + q and its taps at fixed offsets from it, so one loop over the run vectorises across
// rows (DARTS' rows are 7–32 wide: short for vectors on their own; the forward 1.2–2× faster). The
// width − Wo positions after each row's outputs are computed into `run` and dropped. One update of
// the run per pass of FixedTaps; each output sums its taps in (r, s) order.
template <int KR, int KS, class T>
void correlate_run(const FramedPlane<T>& in, const T* w, int dil, T* out, int Ho, int Wo,
                   std::vector<T>& run) {
  using Taps = FixedTaps<KR, KS, T>;
  const Taps taps(w);
  const int64_t width = in.width, n = (Ho - 1) * width + Wo;
  run.resize(n);
  T* acc = run.data();
  for (int r0 = 0; r0 < KR; r0 += Taps::kRowsPerPass) {
    const T* in_rows[Taps::kRowsPerPass];
    for (int i = 0; i < Taps::kRowsPerPass; ++i) in_rows[i] = in.row((r0 + i) * dil);
    for (int64_t p = 0; p < n; ++p)  // the first pass starts the sums
      acc[p] = taps.add_pass(r0 == 0 ? T(0) : acc[p], in_rows, r0, p, dil);
  }
  for (int o = 0; o < Ho; ++o)
    for (int q = 0; q < Wo; ++q) out[o * Wo + q] = acc[o * width + q];
}

// out[o, q] = Σ_{r,s} w[r, s] · in[o·stride + r·dil, q·stride + s·dil] for o < Ho, q < Wo: the
// convolution on an already framed input. KR/KS/KSTRIDE > 0 fix R/S/stride at compile time so the
// tap loops unroll and the loops over outputs vectorise (stride 1 as one run, above, with `run`
// its scratch); 0 takes the runtime value (any other geometry). The same sum order everywhere.
template <int KR, int KS, int KSTRIDE, class T>
void correlate(const FramedPlane<T>& in, const T* w, int R_, int S_, int stride_, int dil, T* out,
               int Ho, int Wo, std::vector<T>& run) {
  const int R = KR ? KR : R_, S = KS ? KS : S_, stride = KSTRIDE ? KSTRIDE : stride_;
  if constexpr (KR > 0 && KS > 0 && KSTRIDE == 1) {
    return correlate_run<KR, KS>(in, w, dil, out, Ho, Wo, run);
  } else if constexpr (KR > 0 && KS > 0) {  // other strides row by row, a pass at a time
    using Taps = FixedTaps<KR, KS, T>;
    const Taps taps(w);
    for (int o = 0; o < Ho; ++o) {
      T* out_row = out + o * Wo;
      for (int q = 0; q < Wo; ++q) out_row[q] = T(0);
      for (int r0 = 0; r0 < KR; r0 += Taps::kRowsPerPass) {
        const T* in_rows[Taps::kRowsPerPass];
        for (int i = 0; i < Taps::kRowsPerPass; ++i)
          in_rows[i] = in.row(o * stride + (r0 + i) * dil);
        for (int q = 0; q < Wo; ++q)
          out_row[q] = taps.add_pass(out_row[q], in_rows, r0, q * stride, dil);
      }
    }
    return;
  }
  for (int o = 0; o < Ho; ++o) {
    T* out_row = out + o * Wo;
    for (int q = 0; q < Wo; ++q) out_row[q] = T(0);
    for (int r = 0; r < R; ++r) {
      const T* in_row = in.row(o * stride + r * dil);
      for (int s = 0; s < S; ++s) {
        const T wv = w[r * S + s];
        const T* src = in_row + s * dil;
        for (int q = 0; q < Wo; ++q) out_row[q] += wv * src[q * stride];
      }
    }
  }
}

// Stride 1 with the filter size fixed: dy framed to the input frame's width (zeros after each
// row's Wo outputs) makes the plane one run, as in correlate_run, and tap (r, s) the run's dot
// product with the frame at the fixed offset r·dil·width + s·dil. A pass of FixedTaps reads each dy
// value once for all its taps, kLanes products a tap at a time in T (vectorised), every kChunk
// positions added into the taps' double totals: each T sum has at most kChunk / kLanes terms.
template <int KR, int KS, class T>
void weight_sums_run(const FramedPlane<T>& in, const T* dy, int dil, int Ho, int Wo, double* dw_tap,
                     FramedPlane<T>& dy_run) {
  using Taps = FixedTaps<KR, KS, T>;
  constexpr int kPassTaps = Taps::kRowsPerPass * KS, kLanes = 4, kChunk = 64;
  const int64_t width = in.width, n = (Ho - 1) * width + Wo;
  dy_run.fill(dy, Wo, Ho, Wo, 0, 0, Ho, in.width, false);
  const T* d = dy_run.data.data();
  for (int r0 = 0; r0 < KR; r0 += Taps::kRowsPerPass) {
    const T* tap_in[kPassTaps];  // the frame shifted to each tap of the pass
    for (int t = 0; t < kPassTaps; ++t) tap_in[t] = in.row((r0 + t / KS) * dil) + (t % KS) * dil;
    double total[kPassTaps] = {};
    for (int64_t p0 = 0; p0 < n; p0 += kChunk) {
      const int64_t end = std::min(n, p0 + kChunk);
      T lanes[kPassTaps][kLanes] = {};
      int64_t p = p0;
      for (; p + kLanes <= end; p += kLanes)
#pragma GCC unroll 25
        for (int t = 0; t < kPassTaps; ++t)
#pragma omp simd
          for (int l = 0; l < kLanes; ++l) lanes[t][l] += d[p + l] * tap_in[t][p + l];
      for (; p < end; ++p)
        for (int t = 0; t < kPassTaps; ++t) lanes[t][0] += d[p] * tap_in[t][p];
      for (int t = 0; t < kPassTaps; ++t)
        for (int l = 0; l < kLanes; ++l) total[t] += lanes[t][l];
    }
    for (int t = 0; t < kPassTaps; ++t) dw_tap[r0 * KS + t] = total[t];
  }
}

// dw_tap[r, s] = Σ_{o,q} dy[o, q] · in[o·stride + r·dil, q·stride + s·dil] over one framed plane:
// at stride 1 with a fixed filter as one run (above, `dy_run` its scratch), else summed per row
// in T (in four fixed lanes) and across rows in double.
template <int KR, int KS, int KSTRIDE, class T>
void weight_sums(const FramedPlane<T>& in, const T* dy, int R_, int S_, int stride_, int dil,
                 int Ho, int Wo, double* dw_tap, FramedPlane<T>& dy_run) {
  if constexpr (KR > 0 && KS > 0 && KSTRIDE == 1)
    return weight_sums_run<KR, KS>(in, dy, dil, Ho, Wo, dw_tap, dy_run);
  const int R = KR ? KR : R_, S = KS ? KS : S_, stride = KSTRIDE ? KSTRIDE : stride_;
  for (int r = 0; r < R; ++r)
    for (int s = 0; s < S; ++s) {
      double total = 0;
      for (int o = 0; o < Ho; ++o) {
        const T* src = in.row(o * stride + r * dil) + s * dil;
        const T* dy_row = dy + o * Wo;
        total += sum_in_lanes<4, T>(Wo, [&](int64_t q) { return dy_row[q] * src[q * stride]; });
      }
      dw_tap[r * S + s] = total;
    }
}

// Calls f.template operator()<KR, KS, KSTRIDE>() with the DARTS geometries fixed at compile time
// and <0, 0, 0> (all runtime) for every other one.
template <class F>
void with_fixed_geometry(int R, int S, int stride, F&& f) {
  if (R == 3 && S == 3 && stride == 1) return f.template operator()<3, 3, 1>();
  if (R == 3 && S == 3 && stride == 2) return f.template operator()<3, 3, 2>();
  if (R == 5 && S == 5 && stride == 1) return f.template operator()<5, 5, 1>();
  if (R == 5 && S == 5 && stride == 2) return f.template operator()<5, 5, 2>();
  return f.template operator()<0, 0, 0>();
}

// The input frame the forward and dw read: pad_h/pad_w zeros before the image and room for every
// tap of every output after it.
int input_frame_height(const DepthwiseGeometry& g) {
  return std::max(g.pad_h + g.H, (g.Ho - 1) * g.stride + (g.R - 1) * g.dilation + 1);
}
int input_frame_width(const DepthwiseGeometry& g) {
  return std::max(g.pad_w + g.W, (g.Wo - 1) * g.stride + (g.S - 1) * g.dilation + 1);
}
template <class T>
void frame_input(FramedPlane<T>& f, const T* xp, const DepthwiseGeometry& g, PlaneNorm<T> norm) {
  f.fill(xp, g.W, g.H, g.W, g.pad_h, g.pad_w, input_frame_height(g), input_frame_width(g),
         g.relu_input, norm);
}

// Plane `plane`'s folded batch norm: channel plane % C's statistics (none without them).
template <class T>
PlaneNorm<T> plane_norm(const Tensor& mean, const Tensor& invstd, int64_t plane, int C) {
  if (!mean.defined()) return {};
  const int64_t c = plane % C;
  return {true, mean.data<T>()[c], invstd.data<T>()[c]};
}

}  // namespace

// y[n,c,oh,ow] = Σ_{r,s} w[c,r,s] · relu?(x[n,c, oh·stride − pad_h + r·dil, ow·stride − pad_w + s·dil])
void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y,
                              const DepthwiseConv2dParams& p) {
  depthwise_conv2d_forward_normalized(x, w, y, p, Tensor(), Tensor());
}

void depthwise_conv2d_forward_normalized(const Tensor& x, const Tensor& w, Tensor& y,
                                         const DepthwiseConv2dParams& p, const Tensor& mean,
                                         const Tensor& invstd) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), y.shape(), p);
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_float(x.dtype(), "depthwise_conv2d_forward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();  // [N·C, H, W]
    const scalar_t* pw = w.data<scalar_t>();  // [C, R, S]
    scalar_t* py = y.data<scalar_t>();        // [N·C, Ho, Wo]
    with_fixed_geometry(g.R, g.S, g.stride, [&]<int KR, int KS, int KSTRIDE>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 8192)
      {
        FramedPlane<scalar_t> framed;  // x with the zero padding, per thread
        std::vector<scalar_t> run;     // correlate's scratch
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane) {
          frame_input(framed, px + plane * g.H * g.W, g,
                      plane_norm<scalar_t>(mean, invstd, plane, g.C));
          correlate<KR, KS, KSTRIDE>(framed, pw + (plane % g.C) * g.R * g.S, g.R, g.S, g.stride,
                                     g.dilation, py + plane * g.Ho * g.Wo, g.Ho, g.Wo, run);
        }
      }
    });
  });
}

// dx[n,c,ih,iw] (=|+=) relu'(x) · Σ over the (output, tap) pairs that read (ih, iw) of w·dy;
// dw[c,r,s] += Σ_{n,oh,ow} dy · relu?(x at that tap) (accumulated). Accumulating dx computes the
// plane's sum apart and then adds it: dx + (the same sum), as the CUDA twin rounds it.
void depthwise_conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx,
                               Tensor& dw, const DepthwiseConv2dParams& p, GradMode dx_mode) {
  depthwise_conv2d_backward_normalized(x, w, dy, dx, dw, p, dx_mode, Tensor(), Tensor());
}

void depthwise_conv2d_backward_normalized(const Tensor& x, const Tensor& w, const Tensor& dy,
                                          Tensor& dx, Tensor& dw, const DepthwiseConv2dParams& p,
                                          GradMode dx_mode, const Tensor& mean,
                                          const Tensor& invstd) {
  const DepthwiseGeometry g = depthwise_geometry(x.shape(), w.shape(), dy.shape(), p);
  const int64_t N = x.size(0), planes = N * g.C;
  const int taps = g.R * g.S;
  const bool accumulate = dx_mode == GradMode::Accumulate;
  // dw per plane in double, reduced per channel after the parallel loop (no shared writes, and
  // the result does not depend on the thread count).
  std::vector<double> plane_dw(dw.defined() ? static_cast<size_t>(planes) * taps : 0);
  dispatch_float(x.dtype(), "depthwise_conv2d_backward", [&]<class scalar_t>() {
    const scalar_t* px = x.data<scalar_t>();    // [N·C, H, W]
    const scalar_t* pw = w.data<scalar_t>();    // [C, R, S]
    const scalar_t* pdy = dy.data<scalar_t>();  // [N·C, Ho, Wo]
    scalar_t* pdx = dx.defined() ? dx.data<scalar_t>() : nullptr;  // [N·C, H, W]
    with_fixed_geometry(g.R, g.S, g.stride, [&]<int KR, int KS, int KSTRIDE>() {
#pragma omp parallel if (planes * g.Ho * g.Wo > 8192)
      {
        FramedPlane<scalar_t> framed_x, framed_dy;
        std::vector<scalar_t> flipped(taps), acc, run;
        std::vector<scalar_t> plane_dx(accumulate ? static_cast<size_t>(g.H) * g.W : 0);
#pragma omp for
        for (int64_t plane = 0; plane < planes; ++plane) {
          const scalar_t* xp = px + plane * g.H * g.W;
          const scalar_t* wc = pw + (plane % g.C) * taps;
          const scalar_t* dyp = pdy + plane * g.Ho * g.Wo;
          const PlaneNorm<scalar_t> norm = plane_norm<scalar_t>(mean, invstd, plane, g.C);
          if (pdx) {
            scalar_t* dx_plane = pdx + plane * g.H * g.W;
            scalar_t* dxp = accumulate ? plane_dx.data() : dx_plane;
            if (KSTRIDE == 1) {
              // Stride 1: the scatter is itself a convolution, of dy framed by (R−1)·dil − pad
              // rows/columns with the flipped filter: dx[i, j] = Σ_{r,s} w[R−1−r, S−1−s] ·
              // dy[i + r·dil − ((R−1)·dil − pad_h), ...]. A gather, so it vectorises like the
              // forward. (Padding wider than the filter reach never touches dx: crop it.)
              const int top = (g.R - 1) * g.dilation - g.pad_h, left = (g.S - 1) * g.dilation - g.pad_w;
              const int crop_t = std::max(0, -top), crop_l = std::max(0, -left);
              const int rows = std::max(0, std::min(g.Ho - crop_t, g.H + g.pad_h - crop_t));
              const int cols = std::max(0, std::min(g.Wo - crop_l, g.W + g.pad_w - crop_l));
              framed_dy.fill(dyp + crop_t * g.Wo + crop_l, g.Wo, rows, cols, std::max(0, top),
                             std::max(0, left), g.H + (g.R - 1) * g.dilation,
                             g.W + (g.S - 1) * g.dilation, false);
              for (int t = 0; t < taps; ++t) flipped[t] = wc[taps - 1 - t];
              correlate<KR, KS, 1>(framed_dy, flipped.data(), g.R, g.S, 1, g.dilation, dxp, g.H,
                                   g.W, run);
            } else {
              // Other strides: scatter w·dy into a frame shaped like forward's input frame (so no
              // tap needs a bounds test), then crop the padding away.
              const int frame_w = input_frame_width(g);
              acc.assign(static_cast<size_t>(input_frame_height(g)) * frame_w, scalar_t(0));
              const int stride = KSTRIDE ? KSTRIDE : g.stride, R = KR ? KR : g.R, S = KS ? KS : g.S;
              for (int o = 0; o < g.Ho; ++o)
                for (int r = 0; r < R; ++r) {
                  scalar_t* acc_row = acc.data() + static_cast<size_t>(o * stride + r * g.dilation) * frame_w;
                  for (int s = 0; s < S; ++s) {
                    const scalar_t wv = wc[r * S + s];
                    scalar_t* dst = acc_row + s * g.dilation;
                    for (int q = 0; q < g.Wo; ++q) dst[q * stride] += wv * dyp[o * g.Wo + q];
                  }
                }
              for (int i = 0; i < g.H; ++i)
                for (int j = 0; j < g.W; ++j)
                  dxp[i * g.W + j] = acc[static_cast<size_t>(i + g.pad_h) * frame_w + j + g.pad_w];
            }
            // Through the folded ReLU: no gradient where the (normalised) input was clamped. A
            // select, not a conditional store, so the loop vectorises (the signs are random: a
            // branch mispredicts half the time).
            if (g.relu_input)
              for (int i = 0; i < g.H * g.W; ++i)
                dxp[i] = norm(xp[i]) > scalar_t(0) ? dxp[i] : scalar_t(0);
            if (accumulate)
              for (int i = 0; i < g.H * g.W; ++i) dx_plane[i] += dxp[i];
          }
          if (!plane_dw.empty()) {
            frame_input(framed_x, xp, g, norm);
            weight_sums<KR, KS, KSTRIDE>(framed_x, dyp, g.R, g.S, g.stride, g.dilation, g.Ho, g.Wo,
                                         plane_dw.data() + plane * taps, framed_dy);
          }
        }
      }
    });
    if (dw.defined()) {
      scalar_t* pdw = dw.data<scalar_t>();  // [C, R, S]
      for (int c = 0; c < g.C; ++c)
        for (int t = 0; t < taps; ++t) {
          double sum = 0;
          for (int64_t n = 0; n < N; ++n) sum += plane_dw[(n * g.C + c) * taps + t];
          pdw[c * taps + t] += static_cast<scalar_t>(sum);
        }
    }
  });
}

AN_CPU_KERNELS_END
