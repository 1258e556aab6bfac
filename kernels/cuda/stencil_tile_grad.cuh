// The stencil group's input gradient on staged tiles (stencil_group.cu), the forward's
// counterpart (stencil_tile.cuh): a block owns a tile of dx (runs of input positions of one or
// more planes); for each stencil with a gradient it stages the region of dy that the tile's
// inputs gather from in shared memory (an average pool's already divided by each window's
// divisor), then every thread adds the stencil's contribution to its inputs' sums from there,
// a DARTS filter's taps unrolled with its weights in registers. A max pool's arg-max of every
// window the tile meets is found once per block into a table, not once per covering input.
//
// Each contribution is the gather kernel's sum (depthwise_input_grad: taps in (r, s) order; a
// pool's covering windows in (oh, ow) order), and the contributions add in stencil order: the
// same numbers. A tap or window outside the output adds w·0 or nothing where the gather
// skipped it, which leaves a sum that started at +0 unchanged.
//
// Host and device code: a CPU test (StencilTile.*) runs the blocks on the host.
#pragma once
#include "kernels/cuda/stencil_tile.cuh"

namespace autonet::cuda {

// How the tiled input gradient cuts dx [N·C planes, H, W]: a block takes `chunk` positions of
// `planes` consecutive planes, `plane_threads` threads a plane, a thread the positions lt,
// lt + plane_threads, … of its plane's share. Output o of a member receives from input i when
// o·stride + first ≤ i ≤ o·stride + last for one of its taps or its window, so input rows
// [ih_a, ih_b] gather from output rows [⌊(ih_a − last_h)/stride⌋, ⌊(ih_b − first_h)/stride⌋],
// the union over members; the block stages those rows of dy and output columns
// [col0, col0 + dy_w) (zeros outside the output).
struct StencilGradTiling {
  int planes, chunk, plane_threads, per_thread;
  int stride;
  int first_h, last_h, first_w, last_w;  // the members' widest window offsets (as the forward's)
  int dy_h, dy_w, col0;                  // staged dy rows (most a block needs) and columns
  bool arg_max;                          // a max pool has a gradient: an arg-max table too
  // Stencils whose dy a block stages at once: their loads wait on memory together, not one
  // stencil after another (as many as fit, at most every stencil with a gradient).
  int batch;
  bool keeps_inputs;  // a block keeps its inputs' gradients in shared memory (for run sums)
  int H, W, Ho, Wo, C;
  int64_t plane_count;
  int chunks;  // blocks across one plane
  AN_HOST_DEVICE int region() const { return dy_h * dy_w; }
  AN_HOST_DEVICE int cells() const { return planes * region(); }  // one stencil's staged dy
  AN_HOST_DEVICE int64_t blocks() const { return (plane_count + planes - 1) / planes * chunks; }
  size_t shared_bytes(size_t elem) const {
    return size_t(cells()) * (batch * elem + (arg_max ? sizeof(int) : 0)) +
           (keeps_inputs ? size_t(planes) * chunk * elem : 0);
  }
};

// The input-gradient tiling for stencils of reach `reach` (the union of theirs), staging up to
// `most` of them at once; false where one stencil's region would pass the shared memory limit,
// or (keeps_inputs: runs of kMomentRun inputs summed per block) a block's share would cut a run.
inline bool plan_input_tiles(const WindowReach& reach, int64_t plane_count, int C, int H, int W,
                             int Ho, int Wo, int most, bool arg_max, bool keeps_inputs,
                             size_t elem_bytes, StencilGradTiling& t) {
  t = {};
  t.H = H, t.W = W, t.Ho = Ho, t.Wo = Wo, t.C = C, t.plane_count = plane_count;
  t.stride = reach.stride, t.first_h = reach.first_h, t.last_h = reach.last_h;
  t.first_w = reach.first_w, t.last_w = reach.last_w;
  t.arg_max = arg_max, t.keeps_inputs = keeps_inputs;
  const int s = t.stride, positions = H * W;
  t.col0 = floor_divide_by_stride(-t.last_w, s);
  t.dy_w = floor_divide_by_stride(W - 1 - t.first_w, s) - t.col0 + 1;
  for (t.chunk = std::min(positions, kMaxTileOutputs * kThreads); t.chunk >= 1; t.chunk /= 2) {
    t.plane_threads = std::min(kThreads, (t.chunk + 63) / 64 * 32);  // two positions a lane or more
    t.per_thread = (t.chunk + t.plane_threads - 1) / t.plane_threads;
    t.planes = kThreads / t.plane_threads;
    // A block's inputs span at most this many rows (a partial row at either end), whose
    // outputs span at most (rows − 1 + last − first)/stride + 2 rows.
    const int rows = std::min(H, (t.chunk + W - 1) / W + 1);
    t.dy_h = (rows - 1 + t.last_h - t.first_h) / s + 2;
    t.batch = 1;
    if (t.per_thread <= kMaxTileOutputs && t.shared_bytes(elem_bytes) <= kTileSharedBytes) break;
  }
  if (t.chunk < 1) return false;
  if (keeps_inputs && t.chunk < positions && t.chunk % kMomentRun != 0) return false;
  t.chunks = (positions + t.chunk - 1) / t.chunk;
  while (t.batch < most && t.batch < kMaxStencils) {
    ++t.batch;
    if (t.shared_bytes(elem_bytes) > kTileSharedBytes) {
      --t.batch;
      break;
    }
  }
  return true;
}

// The tiling of a stencil group's input gradient, or false where the tiled kernel cannot take
// it (as make_stencil_tiling). Only members with a gradient (dy) count.
template <class T>
bool make_stencil_grad_tiling(const StencilMembers<T>& group, int64_t plane_count, int C, int H,
                              int W, int Ho, int Wo, StencilGradTiling& t) {
  WindowReach reach{};
  int with_dy = 0;
  bool arg_max = false;
  for (int k = 0; k < group.count; ++k) {
    const StencilMember<T>& m = group.m[k];
    if (!m.dy) continue;
    if (!widen_reach(reach, reach_of(m), with_dy++ == 0)) return false;
    arg_max = arg_max || (m.is_pool && m.pool.is_max);
  }
  if (with_dy == 0) return false;
  return plan_input_tiles(reach, plane_count, C, H, W, Ho, Wo, with_dy, arg_max, false, sizeof(T),
                          t);
}

// Block `block`'s share: planes [plane0, plane0 + planes), input positions [p0, p1) of each, and
// the output row of its staged region's first row.
struct GradBlock {
  int64_t plane0;
  int p0, p1, row0;
};
AN_HOST_DEVICE GradBlock grad_block(const StencilGradTiling& t, int64_t block) {
  const int64_t plane_group = block / t.chunks;
  const int chunk = static_cast<int>(block - plane_group * t.chunks);
  GradBlock b;
  b.plane0 = plane_group * t.planes;
  b.p0 = chunk * t.chunk;
  b.p1 = b.p0 + t.chunk < t.H * t.W ? b.p0 + t.chunk : t.H * t.W;
  b.row0 = floor_divide_by_stride(b.p0 / t.W - t.last_h, t.stride);
  return b;
}

// Output (oh, ow) of the block's staged region at offset e of plane pl's part, whether it is an
// output at all.
struct StagedOutput {
  int pl, oh, ow;
  bool inside;
};
AN_HOST_DEVICE StagedOutput staged_output(const StencilGradTiling& t, const GradBlock& b, int e) {
  StagedOutput s;
  s.pl = e / t.region();
  const int at = e - s.pl * t.region(), i = at / t.dy_w;
  s.oh = b.row0 + i, s.ow = t.col0 + (at - i * t.dy_w);
  s.inside =
      b.plane0 + s.pl < t.plane_count && s.oh >= 0 && s.oh < t.Ho && s.ow >= 0 && s.ow < t.Wo;
  return s;
}

// Member m's staged value at region offset e: its dy there (an average pool's divided by the
// window's divisor, as the gather divides each term), zero outside the output.
template <class T>
AN_HOST_DEVICE T staged_grad(const StencilMember<T>& m, const StencilGradTiling& t,
                             const GradBlock& b, int e) {
  const StagedOutput s = staged_output(t, b, e);
  if (!s.inside) return T(0);
  const T g = read_only(m.dy + ((b.plane0 + s.pl) * t.Ho + s.oh) * t.Wo + s.ow);
  if (!m.is_pool || m.pool.is_max) return g;
  const PoolWindow win = pool_window(m.pool, s.oh, s.ow);
  return g / static_cast<T>(pool_avg_divisor(m.pool, s.oh, s.ow, win));
}

// The plane index of the arg-max of max pool g's window at region offset e (−1 outside the
// output): pool_argmax, as the gather finds it.
template <class T>
AN_HOST_DEVICE int staged_arg_max(const PoolGeometry& g, const T* __restrict__ x,
                                  const StencilGradTiling& t, const GradBlock& b, int e) {
  const StagedOutput s = staged_output(t, b, e);
  if (!s.inside) return -1;
  return pool_argmax(x + (b.plane0 + s.pl) * t.H * t.W, g, pool_window(g, s.oh, s.ow));
}

// Thread tid's inputs in dx block b.
AN_HOST_DEVICE ThreadPositions tile_inputs(const StencilGradTiling& t, const GradBlock& b,
                                           int tid) {
  return thread_positions(tid, t.planes, t.plane_threads, t.per_thread, b.plane0, t.plane_count,
                          b.p0, b.p1, t.W);
}

// The next batch of stencils to stage, from member `k` on: up to t.batch members with a gradient,
// written to batch[0, n); ends before a max pool whose windows differ from those of the arg-max
// table a member of the batch already reads. table_of: the max pool (same_as) whose arg-maxes the
// table holds, updated; refill: whether the batch must find them first. Returns the member to
// start the next batch from.
template <class T>
AN_HOST_DEVICE int next_grad_batch(const StencilMembers<T>& group, int k,
                                   const StencilGradTiling& t, int (&batch)[kMaxStencils], int& n,
                                   int& table_of, bool& refill) {
  n = 0;
  refill = false;
  bool reads_table = false;
  for (; k < group.count && n < t.batch; ++k) {
    const StencilMember<T>& m = group.m[k];
    if (!m.dy) continue;
    if (m.is_pool && m.pool.is_max) {
      if (table_of != m.same_as) {
        if (reads_table) break;
        table_of = m.same_as;
        refill = true;
      }
      reads_table = true;
    }
    batch[n++] = k;
  }
  return k;
}

// The staged dy a tap reads: output index o·stride = t (t = i + pad − r·dilation) if stride
// divides t, else none (the tap reads no output: zero). STRIDE > 0: the stride fixed at compile
// time (the DARTS strides 1 and 2).
template <int STRIDE, class T>
AN_HOST_DEVICE T tap_grad(const T* grad, int th, int tw, const StencilGradTiling& t,
                          const GradBlock& b) {
  const int stride = STRIDE > 0 ? STRIDE : t.stride;
  if (stride == 1) return grad[(th - b.row0) * t.dy_w + tw - t.col0];
  if (stride == 2) {
    if ((th | tw) & 1) return T(0);
    return grad[((th >> 1) - b.row0) * t.dy_w + (tw >> 1) - t.col0];
  }
  if (th % stride != 0 || tw % stride != 0) return T(0);
  return grad[(floor_divide_by_stride(th, stride) - b.row0) * t.dy_w +
              floor_divide_by_stride(tw, stride) - t.col0];
}

// A depthwise filter's contributions to the thread's inputs (geometry g, channel filter wc
// [R·S]): Σ w[r, s]·dy over its taps in (r, s) order from the staged dy `grad`, zero where the
// folded ReLU clamped the input (xv: the inputs as the taps read them). R = 0: the filter's size
// and dilation read at run time.
template <int R, int S, int D, int STRIDE, class T>
AN_HOST_DEVICE void tile_depthwise_grad(const DepthwiseGeometry& g, const T* wc, const T* grad,
                                        const StencilGradTiling& t, const GradBlock& b,
                                        const ThreadPositions& o, const T (&xv)[kMaxTileOutputs],
                                        T (&sum)[kMaxTileOutputs]) {
  const int rows = R > 0 ? R : g.R, cols = R > 0 ? S : g.S, dilation = R > 0 ? D : g.dilation;
  constexpr int kTaps = R > 0 ? R * S : 1;
  T w[kTaps];  // the fixed sizes' weights, in registers
  AN_UNROLL
  for (int k = 0; k < kTaps; ++k) w[k] = R > 0 ? wc[k] : T(0);
  AN_UNROLL
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    if (j >= o.count) continue;
    T acc = 0;
    if (!g.relu_input || xv[j] > T(0)) {
      AN_UNROLL
      for (int r = 0; r < rows; ++r) AN_UNROLL
      for (int s = 0; s < cols; ++s)
        acc += (R > 0 ? w[r * cols + s] : wc[r * cols + s]) *
               tap_grad<STRIDE>(grad, o.row[j] + g.pad_h - r * dilation,
                                o.col[j] + g.pad_w - s * dilation, t, b);
    }
    sum[j] += acc;
  }
}

// The same at the group's stride (1 and 2 fixed at compile time), and for any filter
// (with_darts_filter).
template <int R, int S, int D, class T>
AN_HOST_DEVICE void tile_depthwise_grad_at_stride(const DepthwiseGeometry& g, const T* wc,
                                                  const T* grad, const StencilGradTiling& t,
                                                  const GradBlock& b, const ThreadPositions& o,
                                                  const T (&xv)[kMaxTileOutputs],
                                                  T (&sum)[kMaxTileOutputs]) {
  if (t.stride == 1) return tile_depthwise_grad<R, S, D, 1>(g, wc, grad, t, b, o, xv, sum);
  if (t.stride == 2) return tile_depthwise_grad<R, S, D, 2>(g, wc, grad, t, b, o, xv, sum);
  tile_depthwise_grad<R, S, D, 0>(g, wc, grad, t, b, o, xv, sum);
}
template <class T>
AN_HOST_DEVICE void tile_depthwise_grad_any(const DepthwiseGeometry& g, const T* wc, const T* grad,
                                            const StencilGradTiling& t, const GradBlock& b,
                                            const ThreadPositions& o,
                                            const T (&xv)[kMaxTileOutputs],
                                            T (&sum)[kMaxTileOutputs]) {
  with_darts_filter(g, [&](auto shape) {
    using Filter = decltype(shape);
    tile_depthwise_grad_at_stride<Filter::R, Filter::S, Filter::D>(g, wc, grad, t, b, o, xv, sum);
  });
}

// Member m's contributions to the thread's inputs, added to sum[j] (arg_max: the staged arg-max
// table of m's windows when m is a max pool).
template <class T>
AN_HOST_DEVICE void tile_member_grads(const StencilMember<T>& m, const T* grad, const int* arg_max,
                                      const StencilGradTiling& t, const GradBlock& b,
                                      const ThreadPositions& o, int c,
                                      const T (&xv)[kMaxTileOutputs], T (&sum)[kMaxTileOutputs]) {
  if (m.is_pool) {
    const PoolGeometry& g = m.pool;
    AN_UNROLL
    for (int j = 0; j < kMaxTileOutputs; ++j) {
      if (j >= o.count) continue;
      const PoolCovering w(g, o.row[j], o.col[j]);
      const int self = o.q[j];
      T acc = 0;
      for (int oh = w.oh0; oh < w.oh1; ++oh)
        for (int ow = w.ow0; ow < w.ow1; ++ow) {
          const int at = (oh - b.row0) * t.dy_w + ow - t.col0;
          if (!g.is_max || arg_max[at] == self) acc += grad[at];
        }
      sum[j] += acc;
    }
    return;
  }
  tile_depthwise_grad_any(m.conv, m.w + c * m.conv.R * m.conv.S, grad, t, b, o, xv, sum);
}

}  // namespace autonet::cuda
