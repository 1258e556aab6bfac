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
struct Member {
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
struct Group {
  int count;
  Member<T> m[kMaxStencils];
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
  int64_t blocks() const { return (plane_count + planes - 1) / planes * chunks; }
  size_t shared_elements() const {
    return size_t(planes) * (region() + (keeps_outputs ? runs * kMomentRun : 0));
  }
};

// The tiling of a group's forward, or false where the tiled kernel cannot take it: members of
// different strides (their windows would not move together), or a staged region past the shared
// memory limit (very wide planes). Then the gather kernel runs.
template <class T>
bool make_stencil_tiling(const Group<T>& group, int64_t plane_count, int C, int H, int W, int Ho,
                         int Wo, StencilTiling& t) {
  t = {};
  t.H = H, t.W = W, t.Ho = Ho, t.Wo = Wo, t.C = C, t.plane_count = plane_count;
  int hi_h = 0, hi_w = 0;
  for (int k = 0; k < group.count; ++k) {
    const Member<T>& m = group.m[k];
    // Member k's window for output (oh, ow): rows oh·stride + [first_h, last_h], likewise columns.
    int stride, first_h, last_h, first_w, last_w;
    if (m.is_pool) {
      const PoolGeometry& g = m.pool;
      if (g.sh != g.sw) return false;
      stride = g.sh, first_h = -g.ph, last_h = g.kh - 1 - g.ph, first_w = -g.pw,
      last_w = g.kw - 1 - g.pw;
    } else {
      const DepthwiseGeometry& g = m.conv;
      stride = g.stride, first_h = -g.pad_h, last_h = (g.R - 1) * g.dilation - g.pad_h,
      first_w = -g.pad_w, last_w = (g.S - 1) * g.dilation - g.pad_w;
    }
    if (k > 0 && stride != t.stride) return false;
    t.stride = stride;
    t.keeps_outputs = t.keeps_outputs || m.moments != nullptr;
    if (k == 0 || first_h < t.lo_h) t.lo_h = first_h;
    if (k == 0 || first_w < t.lo_w) t.lo_w = first_w;
    if (k == 0 || last_h > hi_h) hi_h = last_h;
    if (k == 0 || last_w > hi_w) hi_w = last_w;
  }
  const int positions = Ho * Wo, run = static_cast<int>(kMomentRun);
  t.runs_per_plane = (positions + run - 1) / run;
  t.region_w = (Wo - 1) * t.stride + hi_w - t.lo_w + 1;
  for (t.runs = std::min(t.runs_per_plane, kMaxTileOutputs * kThreads / run); t.runs >= 1;
       t.runs /= 2) {
    t.plane_threads = std::min(kThreads, 32 * t.runs);  // whole warps, two outputs a lane or more
    t.per_thread = (t.runs * run + t.plane_threads - 1) / t.plane_threads;
    t.planes = kThreads / t.plane_threads;
    // A block's outputs span at most this many rows (a partial row at either end).
    const int rows = std::min(Ho, (t.runs * run + Wo - 1) / Wo + 1);
    t.region_h = (rows - 1) * t.stride + hi_h - t.lo_h + 1;
    if (t.per_thread <= kMaxTileOutputs && t.shared_elements() * sizeof(T) <= kTileSharedBytes)
      break;
  }
  if (t.runs < 1) return false;
  t.chunks = (t.runs_per_plane + t.runs - 1) / t.runs;
  return true;
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

// Element e of the block's staged region [planes, region_h, region_w]: x, or zero outside the
// image and past the last plane.
template <class T>
AN_HOST_DEVICE T staged_value(const T* __restrict__ x, const StencilTiling& t, const TileBlock& b,
                              int e) {
  const int pl = e / t.region(), at = e - pl * t.region();
  const int i = at / t.region_w, j = at - i * t.region_w;
  const int64_t plane = b.plane0 + pl;
  const int ih = b.row0 + i, iw = t.lo_w + j;
  if (plane >= t.plane_count || ih < 0 || ih >= t.H || iw < 0 || iw >= t.W) return T(0);
  return read_only(x + (plane * t.H + ih) * t.W + iw);
}

// A thread's outputs: plane pl of the block, positions q[j] for j < count, each output's
// (oh, ow) and the region offset of (oh·stride, ow·stride). Loops over j run to
// kMaxTileOutputs, unrolled, so the arrays stay in registers.
struct TileOutputs {
  int pl, count;
  int q[kMaxTileOutputs], oh[kMaxTileOutputs], ow[kMaxTileOutputs], at[kMaxTileOutputs];
};
AN_HOST_DEVICE TileOutputs tile_outputs(const StencilTiling& t, const TileBlock& b, int tid) {
  TileOutputs o;
  o.pl = tid / t.plane_threads;
  o.count = 0;
  const int first = b.q0 + tid - o.pl * t.plane_threads;
  // Threads past the block's planes (plane_threads need not divide kThreads) take nothing.
  const bool plane_inside = o.pl < t.planes && b.plane0 + o.pl < t.plane_count;
  AN_UNROLL
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    const int q = first + j * t.plane_threads;
    const int oh = q / t.Wo, ow = q - oh * t.Wo;
    o.q[j] = q, o.oh[j] = oh, o.ow[j] = ow;
    o.at[j] = (oh * t.stride - b.row0) * t.region_w + ow * t.stride - t.lo_w;
    if (plane_inside && j < t.per_thread && q < b.q1) o.count = j + 1;
  }
  return o;
}

// A depthwise output from the region: taps in (r, s) order from `first` (tap (0, 0)), rows
// `pitch` apart, as depthwise_output sums them (padding staged as zeros adds w·0 there too).
template <int R, int S, int D, class T>
AN_HOST_DEVICE T tile_taps(const T* first, int pitch, const T* w, bool relu) {
  T acc = 0;
  AN_UNROLL
  for (int r = 0; r < R; ++r) AN_UNROLL
  for (int s = 0; s < S; ++s) {
    const T v = first[r * D * pitch + s * D];
    acc += w[r * S + s] * (relu && !(v > T(0)) ? T(0) : v);
  }
  return acc;
}

// Filters of any size: the same sum with the geometry read at run time.
template <class T>
AN_HOST_DEVICE T tile_taps(const DepthwiseGeometry& g, const T* first, int pitch, const T* w) {
  T acc = 0;
  for (int r = 0; r < g.R; ++r)
    for (int s = 0; s < g.S; ++s)
      acc += w[r * g.S + s] * depthwise_value(first[r * g.dilation * pitch + s * g.dilation], g);
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

// A depthwise member's outputs at the thread's positions, its R·S weights for channel c loaded
// once (registers when the size is fixed); emit(j, value) takes output j.
template <int R, int S, int D, class T, class Emit>
AN_HOST_DEVICE void tile_depthwise(const Member<T>& m, const T* region, const StencilTiling& t,
                                   const TileOutputs& o, int c, Emit&& emit) {
  T w[R * S];
  AN_UNROLL
  for (int k = 0; k < R * S; ++k) w[k] = m.w[c * R * S + k];
  const int offset = -m.conv.pad_h * t.region_w - m.conv.pad_w;
  AN_UNROLL
  for (int j = 0; j < kMaxTileOutputs; ++j)
    if (j < o.count)
      emit(j, tile_taps<R, S, D>(region + o.at[j] + offset, t.region_w, w, m.conv.relu_input));
}

// Member m's outputs at the thread's positions of plane region `region` (channel c): emit(j, v).
template <class T, class Emit>
AN_HOST_DEVICE void tile_member_outputs(const Member<T>& m, const T* region, const StencilTiling& t,
                                        const TileBlock& b, const TileOutputs& o, int c,
                                        Emit&& emit) {
  if (m.is_pool) {
    AN_UNROLL
    for (int j = 0; j < kMaxTileOutputs; ++j)
      if (j < o.count) emit(j, tile_pool(m.pool, region, t, b, o.oh[j], o.ow[j]));
    return;
  }
  const DepthwiseGeometry& g = m.conv;
  // The DARTS filters (sep_conv 3×3, 5×5; dil_conv 3×3, 5×5) with their taps unrolled.
  const bool square3 = g.R == 3 && g.S == 3, square5 = g.R == 5 && g.S == 5;
  if (square3 && g.dilation == 1) return tile_depthwise<3, 3, 1>(m, region, t, o, c, emit);
  if (square5 && g.dilation == 1) return tile_depthwise<5, 5, 1>(m, region, t, o, c, emit);
  if (square3 && g.dilation == 2) return tile_depthwise<3, 3, 2>(m, region, t, o, c, emit);
  if (square5 && g.dilation == 2) return tile_depthwise<5, 5, 2>(m, region, t, o, c, emit);
  const int offset = -g.pad_h * t.region_w - g.pad_w;
  AN_UNROLL
  for (int j = 0; j < kMaxTileOutputs; ++j)
    if (j < o.count)
      emit(j, tile_taps(g, region + o.at[j] + offset, t.region_w, m.w + c * g.R * g.S));
}

}  // namespace autonet::cuda
