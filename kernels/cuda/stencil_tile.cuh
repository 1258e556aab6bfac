// The stencil group's forward on a staged tile (stencil_group.cu): a block stages the region of x
// that its outputs' windows cover — every member's taps, zero outside the image — in shared
// memory once, then computes each member's outputs from it; a DARTS filter's taps are unrolled,
// its weights held in registers across the thread's outputs. The gather it replaces read each
// tap of each member through the cache with a bounds check (~3× the work per tap of the tiled
// single-filter kernel, run 5 in docs/performance.md).
//
// Host and device code: a CPU test (StencilTile.*) runs the blocks' staging and every thread's
// outputs on the host against the CPU twin; only the moment parts' warp sums and the barriers
// are the kernel's own.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/channel_moments.h"
#include "kernels/cuda/depthwise_taps.cuh"
#include "kernels/depthwise_conv2d_math.h"
#include "kernels/pool2d_math.h"
#include "kernels/stencil_group.h"

namespace autonet::cuda {

// One stencil as the kernels see it: its geometry (only the one of its kind is read) and data.
template <class T>
struct StencilMember {
  bool is_pool;
  DepthwiseGeometry conv;
  PoolGeometry pool;
  // A pool's first member with the same windows (itself if none earlier): the edges leaving one
  // state pool it alike, so their values and arg-maxes are found once (same values, same order).
  int same_as;
  const T* w;       // depthwise filter [C, R, S]; null for a pool
  T* y;             // forward output
  double* moments;  // forward: y's moment parts [P, C, 3] (channel_moments.h), null when none
  const T* dy;      // backward: its output gradient, null when it received none
};

template <class T>
struct StencilMembers {
  int count;
  StencilMember<T> m[kMaxStencils];
};

constexpr int kMaxTileOutputs = 4;              // outputs per thread: a 32×32 plane per block
constexpr size_t kTileSharedBytes = 48 * 1024;  // the default per-block limit, no opt-in needed
// Blocks an SM keeps resident: staging waits on global loads, which other blocks' taps hide (at
// most 80 registers a thread; unbounded, a thread's four outputs of unrolled 5×5 taps took 99,
// two blocks an SM).
constexpr int kTileMinBlocks = 3;

// A load of data no kernel writes while it runs (x, dy), through the read-only path: the
// staging loops' loads then need not wait for their stores to shared memory (a plain pointer
// might point there) and several are in flight at once.
template <class T>
AN_HOST_DEVICE T read_only(const T* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

// How the tiled forward cuts the outputs [N·C planes, Ho, Wo]: a block takes `runs` moment runs
// (kMomentRun positions each, channel_moments.h) of `planes` consecutive planes, `plane_threads`
// threads a plane; a thread takes positions lt, lt + plane_threads, … of its plane's share. A
// block stages, per plane, rows [oh_a·stride + lo_h, …) of x (oh_a its first output row) and
// columns [lo_w, lo_w + region_w): every member's taps for every output of its rows.
struct StencilTiling {
  int planes, runs, plane_threads, per_thread;
  int stride;
  int lo_h, lo_w;          // the first staged row/column relative to oh·stride, ow·stride (≤ 0)
  int region_h, region_w;  // staged rows (the most any block needs) and columns, per plane
  int H, W, Ho, Wo, C;
  int64_t plane_count;
  int runs_per_plane, chunks;  // chunks: blocks across one plane's runs
  bool keeps_outputs;          // a member forms moment parts from outputs kept in shared memory
  AN_HOST_DEVICE int region() const { return region_h * region_w; }
  AN_HOST_DEVICE int64_t blocks() const { return (plane_count + planes - 1) / planes * chunks; }
  size_t shared_elements() const {
    return size_t(planes) * (region() + (keeps_outputs ? runs * kMomentRun : 0));
  }
};

// How far a stencil's windows reach: output o reads inputs o·stride + [first, last] on each
// axis. A stride of 0 marks windows that move differently along the two axes.
struct WindowReach {
  int stride, first_h, last_h, first_w, last_w;
};
AN_HOST_DEVICE WindowReach reach_of(const DepthwiseGeometry& g) {
  return {g.stride, -g.pad_h, (g.R - 1) * g.dilation - g.pad_h, -g.pad_w,
          (g.S - 1) * g.dilation - g.pad_w};
}
AN_HOST_DEVICE WindowReach reach_of(const PoolGeometry& g) {
  return {g.sh == g.sw ? g.sh : 0, -g.ph, g.kh - 1 - g.ph, -g.pw, g.kw - 1 - g.pw};
}
template <class T>
WindowReach reach_of(const StencilMember<T>& m) {
  return m.is_pool ? reach_of(m.pool) : reach_of(m.conv);
}

// Widens `all` (first: not yet set) to cover r; false where their strides differ (the tiles
// would not move with both).
inline bool widen_reach(WindowReach& all, const WindowReach& r, bool first) {
  if (r.stride == 0 || (!first && r.stride != all.stride)) return false;
  if (first) {
    all = r;
    return true;
  }
  all.first_h = std::min(all.first_h, r.first_h), all.last_h = std::max(all.last_h, r.last_h);
  all.first_w = std::min(all.first_w, r.first_w), all.last_w = std::max(all.last_w, r.last_w);
  return true;
}

// The output tiling for stencils of reach `reach` (the union of theirs), or false where the
// staged region would pass the shared memory limit (very wide planes). keeps_outputs: a block
// keeps its outputs in shared memory too.
inline bool plan_output_tiles(const WindowReach& reach, int64_t plane_count, int C, int H, int W,
                              int Ho, int Wo, bool keeps_outputs, size_t elem_bytes,
                              StencilTiling& t) {
  t = {};
  t.H = H, t.W = W, t.Ho = Ho, t.Wo = Wo, t.C = C, t.plane_count = plane_count;
  t.stride = reach.stride, t.lo_h = reach.first_h, t.lo_w = reach.first_w;
  t.keeps_outputs = keeps_outputs;
  const int positions = Ho * Wo, run = static_cast<int>(kMomentRun);
  t.runs_per_plane = (positions + run - 1) / run;
  t.region_w = (Wo - 1) * t.stride + reach.last_w - t.lo_w + 1;
  for (t.runs = std::min(t.runs_per_plane, kMaxTileOutputs * kThreads / run); t.runs >= 1;
       t.runs /= 2) {
    t.plane_threads = std::min(kThreads, 32 * t.runs);  // whole warps, two outputs a lane or more
    t.per_thread = (t.runs * run + t.plane_threads - 1) / t.plane_threads;
    t.planes = kThreads / t.plane_threads;
    // A block's outputs span at most this many rows (a partial row at either end).
    const int rows = std::min(Ho, (t.runs * run + Wo - 1) / Wo + 1);
    t.region_h = (rows - 1) * t.stride + reach.last_h - t.lo_h + 1;
    if (t.per_thread <= kMaxTileOutputs && t.shared_elements() * elem_bytes <= kTileSharedBytes)
      break;
  }
  if (t.runs < 1) return false;
  t.chunks = (t.runs_per_plane + t.runs - 1) / t.runs;
  return true;
}

// The tiling of a stencil group's forward, or false where the tiled kernel cannot take it:
// members of different strides, or a region too large. Then the gather kernel runs.
template <class T>
bool make_stencil_tiling(const StencilMembers<T>& group, int64_t plane_count, int C, int H, int W,
                         int Ho, int Wo, StencilTiling& t) {
  WindowReach reach{};
  bool keeps_outputs = false;
  for (int k = 0; k < group.count; ++k) {
    if (!widen_reach(reach, reach_of(group.m[k]), k == 0)) return false;
    keeps_outputs = keeps_outputs || group.m[k].moments != nullptr;
  }
  return plan_output_tiles(reach, plane_count, C, H, W, Ho, Wo, keeps_outputs, sizeof(T), t);
}

// Block `block`'s share: planes [plane0, plane0 + planes), positions [q0, q1) of each, whose
// first output row oh_a puts the region's first row at x row row0.
struct TileBlock {
  int64_t plane0;
  int q0, q1, oh_a, row0;
};
AN_HOST_DEVICE TileBlock tile_block(const StencilTiling& t, int64_t block) {
  const int64_t plane_group = block / t.chunks;
  const int chunk = static_cast<int>(block - plane_group * t.chunks);
  TileBlock b;
  b.plane0 = plane_group * t.planes;
  b.q0 = chunk * t.runs * static_cast<int>(kMomentRun);
  const int end = b.q0 + t.runs * static_cast<int>(kMomentRun);
  b.q1 = end < t.Ho * t.Wo ? end : t.Ho * t.Wo;
  b.oh_a = b.q0 / t.Wo;
  b.row0 = b.oh_a * t.stride + t.lo_h;
  return b;
}

// Element e of the block's staged region [planes, region_h, region_w]: its plane and input
// coordinates, and whether it lies in the image (not in the padding, not past the last plane).
struct StagedCell {
  int64_t plane;
  int ih, iw;
  bool inside;
};
AN_HOST_DEVICE StagedCell staged_cell(const StencilTiling& t, const TileBlock& b, int e) {
  const int pl = e / t.region(), at = e - pl * t.region();
  const int i = at / t.region_w;
  StagedCell cell{b.plane0 + pl, b.row0 + i, t.lo_w + (at - i * t.region_w), false};
  cell.inside =
      cell.plane < t.plane_count && cell.ih >= 0 && cell.ih < t.H && cell.iw >= 0 && cell.iw < t.W;
  return cell;
}

// The staged value of element e: x, zero outside.
template <class T>
AN_HOST_DEVICE T staged_value(const T* __restrict__ x, const StencilTiling& t, const TileBlock& b,
                              int e) {
  const StagedCell cell = staged_cell(t, b, e);
  if (!cell.inside) return T(0);
  return read_only(x + (cell.plane * t.H + cell.ih) * t.W + cell.iw);
}

// A thread's positions in a tiled block (outputs forward, inputs for dx): plane pl of the
// block, plane positions q[j] for j < count, and their rows and columns. The block's `planes`
// planes from plane0 on have `plane_threads` threads each; a thread takes positions
// begin + lt, begin + lt + plane_threads, … below end (at most per_thread). Loops over j run
// to kMaxTileOutputs, unrolled, so the arrays stay in registers.
struct ThreadPositions {
  int pl, count;
  int q[kMaxTileOutputs], row[kMaxTileOutputs], col[kMaxTileOutputs];
};
AN_HOST_DEVICE ThreadPositions thread_positions(int tid, int planes, int plane_threads,
                                                int per_thread, int64_t plane0, int64_t plane_count,
                                                int begin, int end, int width) {
  ThreadPositions o;
  o.pl = tid / plane_threads;
  o.count = 0;
  const int first = begin + tid - o.pl * plane_threads;
  // Threads past the block's planes (plane_threads need not divide kThreads) take nothing.
  const bool plane_inside = o.pl < planes && plane0 + o.pl < plane_count;
  AN_UNROLL
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    const int q = first + j * plane_threads;
    o.q[j] = q, o.row[j] = q / width, o.col[j] = q - o.row[j] * width;
    if (plane_inside && j < per_thread && q < end) o.count = j + 1;
  }
  return o;
}

// Thread tid's outputs in forward block b.
AN_HOST_DEVICE ThreadPositions tile_outputs(const StencilTiling& t, const TileBlock& b, int tid) {
  return thread_positions(tid, t.planes, t.plane_threads, t.per_thread, b.plane0, t.plane_count,
                          b.q0, b.q1, t.Wo);
}

// The region offset of output j's origin (oh·stride, ow·stride).
AN_HOST_DEVICE int tile_origin(const StencilTiling& t, const TileBlock& b, const ThreadPositions& o,
                               int j) {
  return (o.row[j] * t.stride - b.row0) * t.region_w + o.col[j] * t.stride - t.lo_w;
}

// A depthwise output from the region: taps in (r, s) order from `first` (tap (0, 0)), rows
// `pitch` apart, as depthwise_output sums them (padding staged as zeros adds w·0 there too);
// relu: the taps clamp what they read (a folded ReLU not yet applied to the region). R = 0: the
// filter's size and dilation read from g at run time, else fixed and unrolled.
template <int R, int S, int D, class T>
AN_HOST_DEVICE T tile_taps(const DepthwiseGeometry& g, const T* first, int pitch, const T* w,
                           bool relu) {
  const int rows = R > 0 ? R : g.R, cols = R > 0 ? S : g.S, dilation = R > 0 ? D : g.dilation;
  T acc = 0;
  AN_UNROLL
  for (int r = 0; r < rows; ++r) AN_UNROLL
  for (int s = 0; s < cols; ++s)
    acc += w[r * cols + s] * folded_relu(first[r * dilation * pitch + s * dilation], relu);
  return acc;
}

// A pool's output from the region: its window clipped to the image (padding never wins and an
// average divides as pool2d's), values scanned in row-major order as stencil_value does.
template <class T>
AN_HOST_DEVICE T tile_pool(const PoolGeometry& g, const T* region, const StencilTiling& t,
                           const TileBlock& b, int oh, int ow) {
  const PoolWindow win = pool_window(g, oh, ow);
  const T* row = region + (win.h0 - b.row0) * t.region_w + (win.w0 - t.lo_w);
  const int rows = win.h1 - win.h0, cols = win.w1 - win.w0;
  if (g.is_max) {
    T best = row[0];
    for (int h = 0; h < rows; ++h, row += t.region_w)
      for (int w = 0; w < cols; ++w)
        if (row[w] > best) best = row[w];
    return best;
  }
  T sum = 0;
  for (int h = 0; h < rows; ++h, row += t.region_w)
    for (int w = 0; w < cols; ++w) sum += row[w];
  return sum / static_cast<T>(pool_avg_divisor(g, oh, ow, win));
}

// A depthwise filter's outputs at the thread's positions (geometry g, channel filter wc [R·S]),
// its weights loaded once into registers when the size is fixed (R > 0); relu as tile_taps.
// emit(j, value) takes output j.
template <int R, int S, int D, class T, class Emit>
AN_HOST_DEVICE void tile_depthwise(const DepthwiseGeometry& g, const T* wc, bool relu,
                                   const T* region, const StencilTiling& t, const TileBlock& b,
                                   const ThreadPositions& o, Emit&& emit) {
  constexpr int kTaps = R > 0 ? R * S : 1;
  T w[kTaps];
  AN_UNROLL
  for (int k = 0; k < kTaps; ++k) w[k] = R > 0 ? wc[k] : T(0);
  const int offset = -g.pad_h * t.region_w - g.pad_w;
  AN_UNROLL
  for (int j = 0; j < kMaxTileOutputs; ++j)
    if (j < o.count)
      emit(j, tile_taps<R, S, D>(g, region + tile_origin(t, b, o, j) + offset, t.region_w,
                                 R > 0 ? w : wc, relu));
}

// A filter's size and dilation fixed at compile time (R = 0: read at run time).
template <int R_, int S_, int D_>
struct FilterShape {
  static constexpr int R = R_, S = S_, D = D_;
};

// Calls f(FilterShape<R, S, D>{}) with the DARTS filters fixed at compile time (sep_conv 3×3,
// 5×5; dil_conv 3×3, 5×5: their taps unrolled), f(FilterShape<0, 0, 0>{}) for any other.
template <class F>
AN_HOST_DEVICE void with_darts_filter(const DepthwiseGeometry& g, F&& f) {
  const bool square3 = g.R == 3 && g.S == 3, square5 = g.R == 5 && g.S == 5;
  if (square3 && g.dilation == 1) return f(FilterShape<3, 3, 1>{});
  if (square5 && g.dilation == 1) return f(FilterShape<5, 5, 1>{});
  if (square3 && g.dilation == 2) return f(FilterShape<3, 3, 2>{});
  if (square5 && g.dilation == 2) return f(FilterShape<5, 5, 2>{});
  f(FilterShape<0, 0, 0>{});
}

// The same for any filter (with_darts_filter).
template <class T, class Emit>
AN_HOST_DEVICE void tile_depthwise_any(const DepthwiseGeometry& g, const T* wc, bool relu,
                                       const T* region, const StencilTiling& t, const TileBlock& b,
                                       const ThreadPositions& o, Emit&& emit) {
  with_darts_filter(g, [&](auto shape) {
    using Filter = decltype(shape);
    tile_depthwise<Filter::R, Filter::S, Filter::D>(g, wc, relu, region, t, b, o, emit);
  });
}

// The last max and average pools' values at a thread's positions, and whose windows they were
// (same_as): the edges leaving one state pool it alike, so each kind is computed once.
template <class T>
struct PoolMemo {
  T max_values[kMaxTileOutputs], avg_values[kMaxTileOutputs];
  int max_of = -1, avg_of = -1;
};

// Member m's outputs at the thread's positions of plane region `region` (channel c): emit(j, v).
// A pool whose windows the memo holds takes its values (the same numbers, found once).
template <class T, class Emit>
AN_HOST_DEVICE void tile_member_outputs(const StencilMember<T>& m, const T* region,
                                        const StencilTiling& t, const TileBlock& b,
                                        const ThreadPositions& o, int c, PoolMemo<T>& memo,
                                        Emit&& emit) {
  if (m.is_pool) {
    auto pool = [&](T(&values)[kMaxTileOutputs], int& of) {
      const bool known = of == m.same_as;
      AN_UNROLL
      for (int j = 0; j < kMaxTileOutputs; ++j) {
        if (j >= o.count) continue;
        if (!known) values[j] = tile_pool(m.pool, region, t, b, o.row[j], o.col[j]);
        emit(j, values[j]);
      }
      of = m.same_as;
    };
    if (m.pool.is_max)
      pool(memo.max_values, memo.max_of);
    else
      pool(memo.avg_values, memo.avg_of);
    return;
  }
  tile_depthwise_any(m.conv, m.w + c * m.conv.R * m.conv.S, m.conv.relu_input, region, t, b, o,
                     emit);
}

}  // namespace autonet::cuda
