// The pool2d family's CPU work a plane at a time (pool2d's CPU twin, and the stencil group's,
// which runs several stencils over each plane in turn): DARTS' 3×3 windows on framed planes, any
// other window clipped to the image (windows, divisors and arg-max rule from pool2d_math.h). Every
// definition lies in the including translation unit's CPU variant (kernels/cpu/isa.h).
#pragma once
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/row_copy.h"
#include "kernels/pool2d_math.h"

AN_CPU_KERNELS_BEGIN
namespace pool_planes {

// DARTS' windows (3×3 at stride 1 or 2) work on a framed plane: the image with rows and columns of
// a pad value around it, so every window is whole and its taps sit at fixed offsets (no clipping
// and no branch at the borders, where 14% of a 28×28 plane's outputs are). −∞ for max pools (it
// never wins a strict comparison) and 0 for averages (it adds nothing); the frame holds every
// window: rows [−ph, (Ho − 1)·sh − ph + kh) of the image, and all of it.
template <class T>
struct PoolFrame {
  std::vector<T> data;
  int width = 0;

  // The frame of g's planes with every element `value`.
  void reset(const PoolGeometry& g, T value) {
    const int height = std::max(g.H + g.ph, (g.Ho - 1) * g.sh + g.kh);
    width = std::max(g.W + g.pw, (g.Wo - 1) * g.sw + g.kw);
    data.assign(static_cast<size_t>(height) * width + kCopyChunk, value);  // copy_rows' room
  }
  // `plane` inside its pool's pad value.
  void fill(const T* plane, const PoolGeometry& g) {
    const T pad = g.is_max ? -std::numeric_limits<T>::infinity() : T(0);
    reset(g, pad);
    copy_rows(plane, g.W, at(g.ph, g.pw), width, g.H, g.W, pad, [](T v) { return v; });
  }
  T* at(int row, int col) { return data.data() + static_cast<size_t>(row) * width + col; }
  const T* at(int row, int col) const {
    return data.data() + static_cast<size_t>(row) * width + col;
  }
};

// y[o, q] = op(window (o, q)'s top-left tap) for the K×K windows of a frame, op reading the taps
// at fixed offsets. At stride 1 the frame's rows laid end to end make one run, so the loop
// vectorises across rows (DARTS' rows are 7–28 wide); the positions after each row's outputs are
// computed into `run` and dropped, as in the depthwise correlate.
template <int STRIDE, class T, class Op>
void windows_of(const PoolFrame<T>& f, int Ho, int Wo, T* y, std::vector<T>& run, Op op) {
  const T* base = f.data.data();
  if constexpr (STRIDE == 1) {
    const int64_t n = static_cast<int64_t>(Ho - 1) * f.width + Wo;
    run.resize(n + kCopyChunk);
    for (int64_t p = 0; p < n; ++p) run[p] = op(base + p);
    copy_rows(run.data(), f.width, y, Wo, Ho, Wo);
  } else {
    for (int o = 0; o < Ho; ++o)
      for (int q = 0; q < Wo; ++q) y[o * Wo + q] = op(f.at(o * STRIDE, q * STRIDE));
  }
}

// What each output of an average pool divides by (pool_avg_divisor), once per call.
template <class T>
std::vector<T> avg_divisors(const PoolGeometry& g) {
  std::vector<T> divisors(static_cast<size_t>(g.Ho) * g.Wo);
  for (int o = 0; o < g.Ho; ++o)
    for (int q = 0; q < g.Wo; ++q)
      divisors[o * g.Wo + q] = static_cast<T>(pool_avg_divisor(g, o, q, pool_window(g, o, q)));
  return divisors;
}

// A K×K window's values in row-major order: the maximum (a later value wins only if strictly
// greater, as pool_argmax), or the sum from 0.
template <int K, class T>
T window_max(const T* top, int width) {
  T best = top[0];
#pragma GCC unroll 8
  for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
    for (int w = 0; w < K; ++w) best = top[h * width + w] > best ? top[h * width + w] : best;
  return best;
}
template <int K, class T>
T window_sum(const T* top, int width) {
  T sum = 0;
#pragma GCC unroll 8
  for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
    for (int w = 0; w < K; ++w) sum += top[h * width + w];
  return sum;
}

// Calls f.template operator()<K, STRIDE>() for the square 3×3 windows at stride 1 or 2 (DARTS),
// <0, 0> (no framed path) for anything else.
template <class F>
void with_fixed_window(const PoolGeometry& g, F&& f) {
  const bool k3 = g.kh == 3 && g.kw == 3 && g.sh == g.sw;
  if (k3 && g.sh == 1) return f.template operator()<3, 1>();
  if (k3 && g.sh == 2) return f.template operator()<3, 2>();
  return f.template operator()<0, 0>();
}

// Any other geometry: each window clipped to the image (pool_window); averages divide by
// `divisors` (avg_divisors).
template <class T>
void pool_plane_clipped(const T* xp, const PoolGeometry& g, const T* divisors, T* yp) {
  for (int oh = 0; oh < g.Ho; ++oh)
    for (int ow = 0; ow < g.Wo; ++ow) {
      const PoolWindow win = pool_window(g, oh, ow);
      if (g.is_max) {
        yp[oh * g.Wo + ow] = xp[pool_argmax(xp, g, win)];
        continue;
      }
      T sum = 0;
      for (int h = win.h0; h < win.h1; ++h)
        for (int w = win.w0; w < win.w1; ++w) sum += xp[h * g.W + w];
      yp[oh * g.Wo + ow] = sum / divisors[oh * g.Wo + ow];
    }
}

// dx of one plane, scattered in ascending output order (the order the CUDA twin's gather sums
// in) into dxp (zeroed first) for any geometry.
template <class T>
void unpool_plane_clipped(const T* xp, const T* dyp, const PoolGeometry& g, const T* divisors,
                          T* dxp) {
  std::fill_n(dxp, g.H * g.W, T(0));
  for (int oh = 0; oh < g.Ho; ++oh)
    for (int ow = 0; ow < g.Wo; ++ow) {
      const PoolWindow win = pool_window(g, oh, ow);
      const T grad = dyp[oh * g.Wo + ow];
      if (g.is_max) {
        dxp[pool_argmax(xp, g, win)] += grad;
        continue;
      }
      const T share = grad / divisors[oh * g.Wo + ow];
      for (int h = win.h0; h < win.h1; ++h)
        for (int w = win.w0; w < win.w1; ++w) dxp[h * g.W + w] += share;
    }
}

// Row o's arg-maxes (positions in x's frame) into arg[q], by pool_argmax's rule: from the window's
// first image element, a later tap wins only if strictly greater. Where that element is the
// window's first tap (all but the first row and column at DARTS' padding of 1), the taps are
// compared as selects and the loop vectorises across the row: on random data a branch would
// mispredict about twice a window. The border windows start at their first image element (their
// own loop, which need not vectorise).
template <int K, int STRIDE, class T>
void row_argmax(const PoolFrame<T>& x, const PoolGeometry& g, int o, int* arg) {
  const T* v = x.data.data();
  const int width = x.width, row = o * STRIDE * width, Wo = g.Wo;  // locals: arg may alias g
  // The window's taps from `start`, compared as selects (a tap at or before it never wins).
  auto argmax_from = [&](int top, int start) {
    T best = v[start];
    int best_at = start;
#pragma GCC unroll 8
    for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
      for (int w = 0; w < K; ++w) {
        const int at = top + h * width + w;
        const bool wins = v[at] > best;
        best = wins ? v[at] : best;
        best_at = wins ? at : best_at;
      }
    return best_at;
  };
  const int q_border = o * STRIDE < g.ph ? Wo : std::min(Wo, (g.pw + STRIDE - 1) / STRIDE);
  auto border_windows = [&] {
    for (int q = 0; q < q_border; ++q)
      arg[q] = argmax_from(row + q * STRIDE,
                           std::max(o * STRIDE, g.ph) * width + std::max(q * STRIDE, g.pw));
  };
  if constexpr (STRIDE == 1) {
    // Every window from its first tap, then the border ones again: the loop over the whole row
    // vectorises with no scalar remainder (which, its selects turned into branches, took longer
    // than the vector part).
    for (int q = 0; q < Wo; ++q) arg[q] = argmax_from(row + q, row + q);
    border_windows();
  } else {  // strided taps: the inner windows' loop is scalar anyway
    border_windows();
    for (int q = q_border; q < Wo; ++q) arg[q] = argmax_from(row + q * STRIDE, row + q * STRIDE);
  }
}

// An average pool's dx at stride 1, gathered: each input adds the shares (dy / divisor) of the
// K×K windows covering it in ascending output order, the order the scatter below adds them in (so
// the same bits). The shares framed with K − 1 rows and columns of zeros before them make that a
// correlation with a window of ones, and the image's rows one run, as in windows_of.
template <int K, class T>
void unpool_avg_run(const T* dyp, const PoolGeometry& g, const T* divisors, PoolFrame<T>& shares,
                    std::vector<T>& run, T* dxp) {
  // Input (i, j) sits at frame (i + ph, j + pw); the windows covering it have o in
  // [i + ph − K + 1, i + ph], their shares at rows [i + ph, i + ph + K − 1] of this frame.
  const int height = std::max(g.H + g.ph, g.Ho) + K - 1;
  const int width = shares.width = std::max(g.W + g.pw, g.Wo) + K - 1;
  shares.data.assign(static_cast<size_t>(height) * width, T(0));
  for (int o = 0; o < g.Ho; ++o)
    for (int q = 0; q < g.Wo; ++q)
      *shares.at(o + K - 1, q + K - 1) = dyp[o * g.Wo + q] / divisors[o * g.Wo + q];
  const T* first = shares.at(g.ph, g.pw);  // input (0, 0)'s first window
  const int64_t n = static_cast<int64_t>(g.H - 1) * width + g.W;
  run.resize(n + kCopyChunk);
  for (int64_t p = 0; p < n; ++p) run[p] = window_sum<K>(first + p, width);
  copy_rows(run.data(), width, dxp, g.W, g.H, g.W);
}

// A max pool's dx at stride 1, gathered the same way: each input adds the dy of the windows
// covering it whose arg-max it is, in ascending output order. Arg-maxes (x frame positions) and dy
// are laid out at x's frame width with K − 1 rows and columns before them, so window (o, q)
// covering x frame position p = I·width + J sits at p + dr·width + ds (o = I − K + 1 + dr, q = J −
// K + 1 + ds). Where no window is, the arg-max is −1 and matches no position (a column past the
// frame's last reads the next row's first K − 1 entries: none). The arg-max table depends on x
// alone: pools of the same windows over one plane share it.
struct ArgTable {
  std::vector<int> arg;
  int width = 0;  // x's frame width, the table's row stride
};

// Plane xp's table, x framed into `frame` on the way.
template <int K, class T>
void make_arg_table(const T* xp, const PoolGeometry& g, PoolFrame<T>& frame, ArgTable& t) {
  frame.fill(xp, g);
  t.width = frame.width;
  t.arg.assign(static_cast<size_t>(std::max(g.H + g.ph, g.Ho) + K - 1) * t.width + K, -1);
  for (int o = 0; o < g.Ho; ++o)
    row_argmax<K, 1>(frame, g, o, t.arg.data() + static_cast<size_t>(o + K - 1) * t.width + K - 1);
}

template <int K, class T>
void unpool_max_run(const ArgTable& table, const T* dyp, const PoolGeometry& g, PoolFrame<T>& dy_at,
                    std::vector<T>& run, T* dxp) {
  const std::vector<int>& arg = table.arg;
  const int width = dy_at.width = table.width;
  dy_at.data.assign(arg.size(), T(0));
  for (int o = 0; o < g.Ho; ++o)
    std::copy_n(dyp + o * g.Wo, g.Wo,
                dy_at.data.data() + static_cast<size_t>(o + K - 1) * width + K - 1);
  const int first = g.ph * width + g.pw;  // input (0, 0)'s frame position
  const int64_t n = static_cast<int64_t>(g.H - 1) * width + g.W;
  run.resize(n + kCopyChunk);
  const int* a = arg.data() + first;
  const T* d = dy_at.data.data() + first;
  for (int p = 0; p < n; ++p) {
    T sum = 0;
#pragma GCC unroll 8
    for (int dr = 0; dr < K; ++dr)
#pragma GCC unroll 8
      for (int ds = 0; ds < K; ++ds) {
        const int at = p + dr * width + ds;
        sum += a[at] == first + p ? d[at] : T(0);
      }
    run[p] = sum;
  }
  copy_rows(run.data(), width, dxp, g.W, g.H, g.W);
}

// dx for a K×K window at stride 2, on framed planes: `acc` (a frame of zeros) takes the scatter,
// then dxp gets the image part of it. Max pools find their arg-maxes in x's frame
// (−∞ padding never wins) a row at a time into `arg`; averages divide by `divisors` and leave x
// unread.
template <int K, int STRIDE, class T>
void unpool_plane_framed(const PoolFrame<T>& x, const T* dyp, const PoolGeometry& g,
                         const T* divisors, PoolFrame<T>& acc, std::vector<int>& arg, T* dxp) {
  acc.reset(g, T(0));
  const int width = acc.width;
  arg.resize(g.Wo);
  for (int o = 0; o < g.Ho; ++o) {
    const T* dy_row = dyp + o * g.Wo;
    if (g.is_max) {
      row_argmax<K, STRIDE>(x, g, o, arg.data());
      for (int q = 0; q < g.Wo; ++q) acc.data[arg[q]] += dy_row[q];
      continue;
    }
    for (int q = 0; q < g.Wo; ++q) {
      const int top = o * STRIDE * width + q * STRIDE;
      const T share = dy_row[q] / divisors[o * g.Wo + q];
#pragma GCC unroll 8
      for (int h = 0; h < K; ++h)
#pragma GCC unroll 8
        for (int w = 0; w < K; ++w) acc.data[top + h * width + w] += share;
    }
  }
  copy_rows(acc.at(g.ph, g.pw), width, dxp, g.W, g.H, g.W);
}

// The windows the padding clips, by pool_argmax's rule: from the window's first image value, as
// the clipped path, backward's arg-max and the CUDA twin take it. Over the frame they started from
// its −∞, which gives the same value unless that first image value is NaN (no later value beats
// it): then the window's value is that NaN.
template <class T>
void redo_border_maxima(const T* xp, const PoolGeometry& g, T* yp) {
  auto clipped_row = [&](int o) { return o * g.sh < g.ph || o * g.sh - g.ph + g.kh > g.H; };
  auto clipped_col = [&](int q) { return q * g.sw < g.pw || q * g.sw - g.pw + g.kw > g.W; };
  auto redo = [&](int o, int q) {
    const PoolWindow win = pool_window(g, o, q);
    const T first = xp[win.h0 * g.W + win.w0];
    if (first != first) yp[o * g.Wo + q] = first;
  };
  for (int o = 0; o < g.Ho; ++o) {
    if (clipped_row(o)) {
      for (int q = 0; q < g.Wo; ++q) redo(o, q);
      continue;
    }
    int q = 0;
    for (; q < g.Wo && clipped_col(q); ++q) redo(o, q);
    for (int r = g.Wo - 1; r >= q && clipped_col(r); --r) redo(o, r);
  }
}

// A thread's scratch for the per-plane work below, reused plane after plane.
template <class T>
struct PoolScratch {
  PoolFrame<T> frame, acc;
  std::vector<int> arg;
  ArgTable table;
  std::vector<T> run, plane_dx;
};

// One plane's forward (K, STRIDE: with_fixed_window's), yp from xp; divisors: avg_divisors' (an
// average pool's).
template <int K, int STRIDE, class T>
void forward_plane(const PoolGeometry& g, const T* xp, const T* divisors, T* yp,
                   PoolScratch<T>& s) {
  if constexpr (K == 0) {
    pool_plane_clipped(xp, g, divisors, yp);
  } else if (g.is_max) {
    s.frame.fill(xp, g);
    windows_of<STRIDE>(s.frame, g.Ho, g.Wo, yp, s.run,
                       [w = s.frame.width](const T* t) { return window_max<K>(t, w); });
    redo_border_maxima(xp, g, yp);
  } else {
    s.frame.fill(xp, g);
    windows_of<STRIDE>(s.frame, g.Ho, g.Wo, yp, s.run,
                       [w = s.frame.width](const T* t) { return window_sum<K>(t, w); });
    for (int i = 0; i < g.Ho * g.Wo; ++i) yp[i] /= divisors[i];
  }
}

// Whether a pool's plane backward gathers through an arg-max table (make_arg_table).
template <int K, int STRIDE>
bool uses_arg_table(const PoolGeometry& g) {
  return K != 0 && STRIDE == 1 && g.is_max;
}

// One plane's dx: written into dx_plane, or with `accumulate` formed apart and then added (dx +
// the same sum, as the CUDA twin rounds it). A max pool at stride 1 reads its arg-max table from
// `table` where given (another pool's of the same windows over this plane), else forms it.
template <int K, int STRIDE, class T>
void backward_plane(const PoolGeometry& g, const T* xp, const T* dyp, const T* divisors,
                    T* dx_plane, bool accumulate, PoolScratch<T>& s,
                    const ArgTable* table = nullptr) {
  if (accumulate) s.plane_dx.resize(static_cast<size_t>(g.H) * g.W);
  T* dxp = accumulate ? s.plane_dx.data() : dx_plane;
  if constexpr (K == 0) {
    unpool_plane_clipped(xp, dyp, g, divisors, dxp);
  } else if (STRIDE == 1 && g.is_max) {
    if (!table) {
      make_arg_table<K>(xp, g, s.frame, s.table);
      table = &s.table;
    }
    unpool_max_run<K>(*table, dyp, g, s.acc, s.run, dxp);
  } else if (STRIDE == 1) {
    unpool_avg_run<K>(dyp, g, divisors, s.acc, s.run, dxp);
  } else {
    if (g.is_max) s.frame.fill(xp, g);
    unpool_plane_framed<K, STRIDE>(s.frame, dyp, g, divisors, s.acc, s.arg, dxp);
  }
  if (accumulate)
    for (int i = 0; i < g.H * g.W; ++i) dx_plane[i] += dxp[i];
}

}  // namespace pool_planes
AN_CPU_KERNELS_END
