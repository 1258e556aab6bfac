// The depthwise convolution's CPU work a plane at a time (depthwise_conv2d's CPU twin, and the
// stencil group's, which runs several stencils over each plane in turn): framed planes, their
// stride's phases, the runs of taps, and each plane's forward and backward. Plans are worked out
// once a call; the per-plane functions take a thread's scratch. Every definition lies in the
// including translation unit's CPU variant (kernels/cpu/isa.h), so each variant compiles its own.
#pragma once
#include <algorithm>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/row_copy.h"
#include "kernels/depthwise_conv2d_math.h"

AN_CPU_KERNELS_BEGIN
namespace depthwise_planes {

// The indices jj with k·jj + phase − offset in [0, count): the positions of phase `phase` in a
// frame that holds `count` values from `offset` on. {first, end}.
inline std::pair<int, int> phase_range(int offset, int count, int phase, int k) {
  return {(offset - phase + k - 1) / k, std::max(0, (count + offset - phase + k - 1) / k)};
}

// A plane surrounded by a zero frame, split into its stride's phases: frame element (I, J) sits in
// phase (I mod k, J mod k) at (I / k, J / k), each phase a height × width block, so the frame
// positions a convolution of stride k reads from one output row are adjacent. At k = 1 it is the
// frame itself. Only the phases a dilation reaches are kept (dilation 2 at stride 2: one). The
// layout is the same for every plane of a call: worked out once, as are the taps' offsets in it.
struct FrameLayout {
  int k = 1, phases = 1, height = 0, width = 0;
  FrameLayout(int frame_height, int frame_width, int k_, int kept)
      : k(k_), phases(kept), height((frame_height + k - 1) / k), width((frame_width + k - 1) / k) {}
  size_t size() const { return static_cast<size_t>(phases) * phases * height * width; }
  int64_t phase(int a, int b) const {
    return static_cast<int64_t>(a * phases + b) * height * width;
  }
  // Where the tap at frame offset (dr, ds) from an output's first tap reads, for output (o, q) at
  // run position o·width + q.
  int64_t tap(int dr, int ds) const {
    return phase(dr % k, ds % k) + static_cast<int64_t>(dr / k) * width + ds / k;
  }
};

template <class T>
struct FramedPlane {
  std::vector<T> data;
  std::vector<T> line;  // one frame row, at stride k > 1

  // Frames the h × w block at `src` (rows `src_stride` apart) with `top`/`left` rows/columns of
  // zeros before it in layout `f` (K: its stride fixed at compile time, 0 at run time); norm and
  // relu fold a batch norm and the ReLU in, in that order.
  template <int K>
  void fill(const FrameLayout& f, const T* src, int src_stride, int h, int w, int top, int left,
            bool relu, PlaneNorm<T> norm = {}) {
    data.assign(f.size() + kCopyChunk, T(0));  // room for copy_rows' whole chunks
    const int k = K ? K : f.k;
    // At stride 1 the image's rows go straight into the frame; at k > 1 each image row is framed
    // whole (contiguous: it vectorises), then dealt into its phases.
    auto rows = [&](auto value) {
      if (k == 1) {
        T* first = data.data() + static_cast<int64_t>(top) * f.width + left;
        copy_rows(src, src_stride, first, f.width, h, w, T(0), value);
        return;
      }
      line.assign(static_cast<size_t>(k) * f.width, T(0));
      for (int i = 0; i < h; ++i) {
        const int I = i + top;
        if (I % k >= f.phases) continue;
        const T* in = src + static_cast<int64_t>(i) * src_stride;
        for (int j = 0; j < w; ++j) line[left + j] = value(in[j]);
        T* row = data.data() + f.phase(I % k, 0) + static_cast<int64_t>(I / k) * f.width;
        for (int b = 0; b < f.phases; ++b, row += static_cast<int64_t>(f.height) * f.width)
          for (int jj = 0; jj < f.width; ++jj) row[jj] = line[k * jj + b];
      }
    };
    // Each case a loop of its own, so that each vectorises: in one loop choosing per element,
    // GCC does not compute a normalisation it might not need (it could raise an FP exception).
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
};

// The taps of a run over a framed plane: run position p reads frame[offset[t] + p], weighted by
// filter tap filter_tap[t].
struct RunTaps {
  std::vector<int64_t> offset;
  std::vector<int> filter_tap;
  void add(int64_t at, int tap) { offset.push_back(at), filter_tap.push_back(tap); }
  int count() const { return static_cast<int>(offset.size()); }
};

// Calls f.template operator()<P>() for P = count in [1, kMaxPassTaps]: a pass's taps fixed at
// compile time, so the loop over them unrolls (its weights and pointers in registers) and the loop
// over run positions vectorises.
constexpr int kMaxPassTaps = 9;  // a 3×3 filter whole
template <class F, int... Ps>
void with_pass_size(int count, F&& f, std::integer_sequence<int, Ps...>) {
  ((count == Ps + 1 ? (f.template operator()<Ps + 1>(), 0) : 0), ...);
}
template <class F>
void with_pass_size(int count, F&& f) {
  with_pass_size(count, f, std::make_integer_sequence<int, kMaxPassTaps>());
}

// acc[p] = Σ_t w[tap t] · frame[offset t + p] for p < n: the taps added in their order,
// kMaxPassTaps a pass over the run (the first pass starts from zero, the later ones from acc).
template <class T>
void correlate_run(const T* frame, const RunTaps& taps, const T* w, int64_t n, T* acc) {
  if (taps.count() == 0) std::fill(acc, acc + n, T(0));
  for (int t0 = 0; t0 < taps.count(); t0 += kMaxPassTaps) {
    with_pass_size(std::min(kMaxPassTaps, taps.count() - t0), [&]<int P>() {
      const T* in[P];
      T wt[P];
      for (int t = 0; t < P; ++t)
        in[t] = frame + taps.offset[t0 + t], wt[t] = w[taps.filter_tap[t0 + t]];
      auto pass = [&](auto first) {
#pragma omp simd  // acc is the run's scratch, never an input
        for (int64_t p = 0; p < n; ++p) {
          T sum = first ? T(0) : acc[p];
#pragma GCC unroll 16
          for (int t = 0; t < P; ++t) sum += wt[t] * in[t][p];
          acc[p] = sum;
        }
      };
      if (t0 == 0)
        pass(std::true_type());
      else
        pass(std::false_type());
    });
  }
}

// total[tap t] = Σ_{p<n} d[p] · frame[offset t + p]: a pass reads each d value once for its taps,
// kLanes products a tap at a time in T (vectorised), every kChunk positions added into the taps'
// double totals: each T sum has at most kChunk / kLanes terms.
template <class T>
void dot_run(const T* d, const T* frame, const RunTaps& taps, int64_t n, double* total) {
  constexpr int kLanes = 4, kChunk = 64;
  for (int t0 = 0; t0 < taps.count(); t0 += kMaxPassTaps) {
    with_pass_size(std::min(kMaxPassTaps, taps.count() - t0), [&]<int P>() {
      const T* in[P];
      for (int t = 0; t < P; ++t) in[t] = frame + taps.offset[t0 + t];
      double sums[P] = {};
      for (int64_t p0 = 0; p0 < n; p0 += kChunk) {
        const int64_t end = std::min(n, p0 + kChunk);
        T lanes[P][kLanes] = {};
        int64_t p = p0;
        for (; p + kLanes <= end; p += kLanes)
#pragma GCC unroll 16
          for (int t = 0; t < P; ++t)
#pragma omp simd
            for (int l = 0; l < kLanes; ++l) lanes[t][l] += d[p + l] * in[t][p + l];
        for (; p < end; ++p)
          for (int t = 0; t < P; ++t) lanes[t][0] += d[p] * in[t][p];
        for (int t = 0; t < P; ++t)
          for (int l = 0; l < kLanes; ++l) sums[t] += lanes[t][l];
      }
      for (int t = 0; t < P; ++t) total[taps.filter_tap[t0 + t]] = sums[t];
    });
  }
}

// Calls f.template operator()<K>() with the DARTS strides (1, 2) fixed at compile time and 0 (the
// stride at run time) for every other one.
template <class F>
void with_stride(int stride, F&& f) {
  if (stride == 1) return f.template operator()<1>();
  if (stride == 2) return f.template operator()<2>();
  return f.template operator()<0>();
}

// The forward's and dw's plan: the input framed with pad_h/pad_w zeros before the image and room
// for every tap of every output after it, in its stride's phases (only those r·dil and s·dil
// reach: all k, or phase 0 alone where k divides the dilation), and tap (r, s) of every output in
// (r, s) order. Output (o, q) is run position o·width + q; the width − Wo positions after each
// row's outputs are computed and dropped (DARTS' rows are 4–32 wide: short for vectors alone).
struct InputPlan {
  FrameLayout frame;
  RunTaps taps;
  int64_t n;
  explicit InputPlan(const DepthwiseGeometry& g)
      : frame(std::max(g.pad_h + g.H, (g.Ho - 1) * g.stride + (g.R - 1) * g.dilation + 1),
              std::max(g.pad_w + g.W, (g.Wo - 1) * g.stride + (g.S - 1) * g.dilation + 1), g.stride,
              g.dilation % g.stride == 0 ? 1 : g.stride),
        n((g.Ho - 1) * static_cast<int64_t>(frame.width) + g.Wo) {
    for (int r = 0; r < g.R; ++r)
      for (int s = 0; s < g.S; ++s)
        taps.add(frame.tap(r * g.dilation, s * g.dilation), r * g.S + s);
  }
  template <int K, class T>
  void frame_input(FramedPlane<T>& f, const T* xp, const DepthwiseGeometry& g,
                   PlaneNorm<T> norm) const {
    f.template fill<K>(frame, xp, g.W, g.H, g.W, g.pad_h, g.pad_w, g.relu_input, norm);
  }
};

// out[o, q] = Σ_{r,s} w[r, s] · frame[o·stride + r·dil, q·stride + s·dil] for o < Ho, q < Wo.
template <class T>
void correlate_plane(const InputPlan& plan, const FramedPlane<T>& in, const DepthwiseGeometry& g,
                     const T* w, T* out, std::vector<T>& run) {
  run.resize(plan.n + kCopyChunk);
  correlate_run(in.data.data(), plan.taps, w, plan.n, run.data());
  copy_rows(run.data(), plan.frame.width, out, g.Wo, g.Ho, g.Wo);
}

// dw_tap[r, s] = Σ_{o,q} dy[o, q] · frame[o·stride + r·dil, q·stride + s·dil] over one plane: dy
// framed to the input's phase width (zeros after each row's Wo values) is the run, and each tap
// its dot product with the tap's phase rows.
template <class T>
void weight_sums(const InputPlan& plan, const FramedPlane<T>& in, const DepthwiseGeometry& g,
                 const T* dy, double* dw_tap, FramedPlane<T>& dy_run) {
  dy_run.template fill<1>(FrameLayout(g.Ho, plan.frame.width, 1, 1), dy, g.Wo, g.Ho, g.Wo, 0, 0,
                          false);
  dot_run(dy_run.data.data(), in.data.data(), plan.taps, plan.n, dw_tap);
}

// dx[i, j] = Σ of w·dy over the (output, tap) pairs that read frame position (i + pad_h, j +
// pad_w), gathered one phase of the frame at a time: phase (a, b) position (I, J) is read by the
// taps with r·dil ≡ a and s·dil ≡ b (mod k), tap (r, s) from output (I − r·dil / k, J − s·dil / k).
// So each phase is a correlation of dy, framed by (R−1)·dil / k rows and (S−1)·dil / k columns of
// zeros before it, with those taps in (R−1, S−1) … (0, 0) order (at stride 1: the flipped filter).
// Rows and columns that only ever meet padding are cropped from the frame.
struct InputGradientPlan {
  struct Phase {
    int a, b, i0, i1, j0, j1;  // the phase, and its positions [i0, i1) × [j0, j1) in the image
    RunTaps taps;
    int64_t n;
  };
  FrameLayout frame{0, 0, 1, 1};
  int top = 0, left = 0, crop_t = 0, crop_l = 0, rows = 0, cols = 0;  // where dy goes in it
  std::vector<Phase> phases;

  explicit InputGradientPlan(const DepthwiseGeometry& g) {
    const int k = g.stride;
    const int U = (g.R - 1) * g.dilation / k, V = (g.S - 1) * g.dilation / k;
    // Phase positions of image rows start at pad_h / k at the earliest (the phase of k − 1) and
    // end before ⌈(pad_h + H) / k⌉; the frame keeps what their taps reach.
    const int first_row = g.pad_h / k, first_col = g.pad_w / k;
    frame = FrameLayout((g.pad_h + g.H + k - 1) / k - first_row + U,
                        (g.pad_w + g.W + k - 1) / k - first_col + V, 1, 1);
    top = U - first_row, left = V - first_col;  // dy (0, 0)'s frame position
    crop_t = std::max(0, -top), crop_l = std::max(0, -left);
    top = std::max(0, top), left = std::max(0, left);
    rows = std::min(g.Ho - crop_t, frame.height - top);
    cols = std::min(g.Wo - crop_l, frame.width - left);
    for (int a = 0; a < k; ++a)
      for (int b = 0; b < k; ++b) {
        Phase ph{a, b, 0, 0, 0, 0, {}, 0};
        std::tie(ph.i0, ph.i1) = phase_range(g.pad_h, g.H, a, k);
        std::tie(ph.j0, ph.j1) = phase_range(g.pad_w, g.W, b, k);
        if (ph.i0 >= ph.i1 || ph.j0 >= ph.j1) continue;
        for (int r = g.R - 1; r >= 0; --r)
          for (int s = g.S - 1; s >= 0; --s) {
            const int dr = r * g.dilation, ds = s * g.dilation;
            if (dr % k == a && ds % k == b)
              ph.taps.add(frame.tap(ph.i0 - first_row + U - dr / k, ph.j0 - first_col + V - ds / k),
                          r * g.S + s);
          }
        ph.n = (ph.i1 - ph.i0 - 1) * static_cast<int64_t>(frame.width) + (ph.j1 - ph.j0);
        phases.push_back(std::move(ph));
      }
  }

  template <int K, class T>
  void run(const T* dy, const T* w, const DepthwiseGeometry& g, T* dx, FramedPlane<T>& dy_frame,
           std::vector<T>& acc) const {
    const int k = K ? K : g.stride;
    dy_frame.template fill<1>(frame, dy + crop_t * g.Wo + crop_l, g.Wo, rows, cols, top, left,
                              false);
    for (const Phase& ph : phases) {
      acc.resize(ph.n + kCopyChunk);
      correlate_run(dy_frame.data.data(), ph.taps, w, ph.n, acc.data());
      if (k == 1) {
        copy_rows(acc.data(), frame.width, dx + (ph.i0 - g.pad_h) * g.W + ph.j0 - g.pad_w, g.W,
                  ph.i1 - ph.i0, ph.j1 - ph.j0);
        continue;
      }
      for (int I = ph.i0; I < ph.i1; ++I) {
        T* dx_row = dx + static_cast<int64_t>(k * I + ph.a - g.pad_h) * g.W + ph.b - g.pad_w;
        const T* src = acc.data() + static_cast<int64_t>(I - ph.i0) * frame.width - ph.j0;
        for (int J = ph.j0; J < ph.j1; ++J) dx_row[k * J] = src[J];
      }
    }
  }
};

// Plane `plane`'s folded batch norm: channel plane % C's statistics (none without them).
template <class T>
PlaneNorm<T> plane_norm(const Tensor& mean, const Tensor& invstd, int64_t plane, int C) {
  if (!mean.defined()) return {};
  const int64_t c = plane % C;
  return {true, mean.data<T>()[c], invstd.data<T>()[c]};
}

// A thread's scratch for the per-plane work below, reused plane after plane.
template <class T>
struct PlaneScratch {
  FramedPlane<T> framed_x, framed_dy;
  std::vector<T> run, plane_dx;
};

// One plane's forward: yp from xp (through the folded norm and ReLU), w_c its channel's filter.
template <int K, class T>
void forward_plane(const InputPlan& plan, const DepthwiseGeometry& g, const T* xp, const T* w_c,
                   PlaneNorm<T> norm, T* yp, PlaneScratch<T>& s) {
  plan.frame_input<K>(s.framed_x, xp, g, norm);
  correlate_plane(plan, s.framed_x, g, w_c, yp, s.run);
}

// One plane's input gradient: dx_plane written, or with `accumulate` the plane's dx formed apart
// and then added (dx + the same sum, as the CUDA twin rounds it).
template <int K, class T>
void input_grad_plane(const InputGradientPlan& dx_plan, const DepthwiseGeometry& g, const T* xp,
                      const T* dyp, const T* w_c, PlaneNorm<T> norm, T* dx_plane,
                      bool accumulate, PlaneScratch<T>& s) {
  if (accumulate) s.plane_dx.resize(static_cast<size_t>(g.H) * g.W);
  T* dxp = accumulate ? s.plane_dx.data() : dx_plane;
  dx_plan.run<K>(dyp, w_c, g, dxp, s.framed_dy, s.run);
  // Through the folded ReLU: no gradient where the (normalised) input was clamped. A select, not
  // a conditional store, so the loop vectorises (the signs are random: a branch mispredicts half
  // the time).
  if (g.relu_input)
    for (int i = 0; i < g.H * g.W; ++i) dxp[i] = norm(xp[i]) > T(0) ? dxp[i] : T(0);
  if (accumulate)
    for (int i = 0; i < g.H * g.W; ++i) dx_plane[i] += dxp[i];
}

// One plane's backward: dx_plane (null: none wanted) as input_grad_plane; dw_taps (null: none
// wanted) gets the plane's R·S weight-gradient sums in double.
template <int K, class T>
void backward_plane(const InputPlan& plan, const InputGradientPlan& dx_plan,
                    const DepthwiseGeometry& g, const T* xp, const T* dyp, const T* w_c,
                    PlaneNorm<T> norm, T* dx_plane, bool accumulate, double* dw_taps,
                    PlaneScratch<T>& s) {
  if (dx_plane) input_grad_plane<K>(dx_plan, g, xp, dyp, w_c, norm, dx_plane, accumulate, s);
  if (!dw_taps) return;
  plan.frame_input<K>(s.framed_x, xp, g, norm);
  weight_sums(plan, s.framed_x, g, dyp, dw_taps, s.framed_dy);
}

// dw[c, tap] += Σ_n plane_dw[(n·C + c)·taps + tap]: the planes' sums added in sample order, in
// double, then once into dw.
template <class T>
void add_plane_weight_sums(const std::vector<double>& plane_dw, int64_t N, int C, int taps,
                           T* dw) {
  for (int c = 0; c < C; ++c)
    for (int t = 0; t < taps; ++t) {
      double sum = 0;
      for (int64_t n = 0; n < N; ++n) sum += plane_dw[(n * C + c) * taps + t];
      dw[c * taps + t] += static_cast<T>(sum);
    }
}

}  // namespace depthwise_planes
AN_CPU_KERNELS_END
