// CUDA twin of the stencil group. The stencils' geometry and pointers travel by value in the
// kernel parameters (no device-side table), so a group is one launch per pass:
//  - forward: a block stages the region of x its outputs read in shared memory once and computes
//    every stencil's outputs there (stencil_tile.cuh), keeping them in shared memory for a
//    warp per moment run to sum the parts a stencil is asked for (pools of the same windows
//    computed once, `same_as`); where the members' strides
//    differ or the region would not fit (very wide planes), a warp per moment run (kMomentRun
//    output positions of one plane, two per lane) reads x through the cache instead;
//  - dx: a block stages, stencil by stencil, the region of dy its inputs gather from and adds
//    each stencil's contribution, summed as the stencil's own kernel sums it (depthwise_conv2d.cu,
//    pool2d.cu), into dx_0 + dx_1 + … (stencil_tile_grad.cuh), then writes it or adds it to dx
//    once, as the CPU twin rounds it; where strides differ or the region would not fit, a thread
//    per input element gathers the same sums through the cache;
//  - pools with the same windows (the edges leaving one state pool it alike: `same_as`) have
//    their values (forward) and arg-max hits (dx) found once and reused, the same numbers;
//  - dw: a thread block cluster per (stencil, channel), as depthwise_conv2d's weight kernel:
//    blocks reduce chunks of the batch, reading the sample planes they stage in shared memory,
//    and block 0 adds their sums in rank order through distributed shared memory. No atomics,
//    no partial buffer.
#include <algorithm>

#include "kernels/cuda/cluster_sums.cuh"
#include "kernels/cuda/depthwise_taps.cuh"
#include "kernels/cuda/stencil_tile.cuh"
#include "kernels/cuda/stencil_tile_grad.cuh"
#include "kernels/cuda/warp_runs.cuh"
#include "kernels/depthwise_conv2d_math.h"
#include "kernels/pool2d_math.h"
#include "kernels/stencil_group.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

// Stencil m's value at output (oh, ow) of plane xp (channel c); sums in the order of the
// stencil's own forward kernel.
template <class T>
__device__ T stencil_value(const StencilMember<T>& m, const T* __restrict__ xp, int c, int oh,
                           int ow) {
  if (m.is_pool) {
    const PoolGeometry& g = m.pool;
    const PoolWindow win = pool_window(g, oh, ow);
    if (g.is_max) return xp[pool_argmax(xp, g, win)];
    T sum = 0;
    for (int h = win.h0; h < win.h1; ++h)
      for (int w = win.w0; w < win.w1; ++w) sum += xp[h * g.W + w];
    return sum / static_cast<T>(pool_avg_divisor(g, oh, ow, win));
  }
  const DepthwiseGeometry& g = m.conv;
  return depthwise_output(g, m.w + int64_t(c) * g.R * g.S, xp, oh, ow);
}

// Whether a max pool's covering windows fit the hits' bits.
__device__ bool fits_bits(const PoolCovering& w) {
  return (w.oh1 - w.oh0) * (w.ow1 - w.ow0) <= 32;
}

// A max pool's covering windows, in (oh, ow) order, as bits: set where the window's arg-max is
// input `at` (at most 32 windows: fits_bits).
template <class T>
__device__ uint32_t max_pool_hits(const PoolGeometry& g, const T* __restrict__ xp,
                                  const PoolCovering& w, int at) {
  uint32_t hits = 0;
  int bit = 0;
  for (int oh = w.oh0; oh < w.oh1; ++oh)
    for (int ow = w.ow0; ow < w.ow1; ++ow, ++bit)
      if (pool_argmax(xp, g, pool_window(g, oh, ow)) == at) hits |= 1u << bit;
  return hits;
}

// Stencil m's contribution to dx at input (ih, iw) = plane offset `at` of plane `plane`. A max
// pool's arg-max hits come in `hits` where the caller found them (`found`), else are found here.
template <class T>
__device__ T stencil_input_grad(const StencilMember<T>& m, const T* __restrict__ xp, int64_t plane,
                                int c, int ih, int iw, bool found = false, uint32_t hits = 0) {
  if (m.is_pool) {
    const PoolGeometry& g = m.pool;
    const PoolCovering w(g, ih, iw);
    const T* dyp = m.dy + plane * g.Ho * g.Wo;
    const int at = ih * g.W + iw;
    T sum = 0;
    int bit = 0;
    for (int oh = w.oh0; oh < w.oh1; ++oh)
      for (int ow = w.ow0; ow < w.ow1; ++ow, ++bit) {
        if (g.is_max) {
          const bool hit =
              found ? (hits >> bit) & 1u : pool_argmax(xp, g, pool_window(g, oh, ow)) == at;
          if (hit) sum += dyp[oh * g.Wo + ow];
        } else {
          const PoolWindow win = pool_window(g, oh, ow);
          sum += dyp[oh * g.Wo + ow] / static_cast<T>(pool_avg_divisor(g, oh, ow, win));
        }
      }
    return sum;
  }
  const DepthwiseGeometry& g = m.conv;
  return depthwise_input_grad(g, m.w + int64_t(c) * g.R * g.S, xp, m.dy + plane * g.Ho * g.Wo, ih,
                              iw);
}

// A warp per moment run (warp_runs.cuh): unit = (plane, run) of the output.
template <class T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const T* __restrict__ x, StencilMembers<T> group, int C, int H, int W, int Ho,
                   int Wo, int64_t units) {
  const int S = Ho * Wo, lane = threadIdx.x % kWarp;
  for_each_warp_unit(units, [&](int64_t unit) {
    const RunUnit u = run_unit(unit, S);
    const int c = static_cast<int>(u.plane % C);
    const T* xp = x + u.plane * H * W;
    int at[2], oh[2], ow[2];  // the lane's two positions, found once for every stencil
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      at[half] = u.position(lane, half);
      oh[half] = at[half] / Wo, ow[half] = at[half] - oh[half] * Wo;
    }
    // The last max and average pools' values and whose windows they were (same_as).
    T max_values[2] = {T(0), T(0)}, avg_values[2] = {T(0), T(0)};
    int max_of = -1, avg_of = -1;
    for (int k = 0; k < group.count; ++k) {
      const StencilMember<T>& m = group.m[k];
      const bool is_max = m.is_pool && m.pool.is_max;
      const bool known = m.is_pool && (is_max ? max_of : avg_of) == m.same_as;
      T v[2] = {T(0), T(0)};
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        if (!u.holds(lane, half)) continue;
        v[half] = known ? (is_max ? max_values[half] : avg_values[half])
                        : stencil_value(m, xp, c, oh[half], ow[half]);
        m.y[u.plane * S + at[half]] = v[half];
      }
      if (m.is_pool && !known && is_max) {
        max_of = m.same_as, max_values[0] = v[0], max_values[1] = v[1];
      } else if (m.is_pool && !known) {
        avg_of = m.same_as, avg_values[0] = v[0], avg_values[1] = v[1];
      }
      if (m.moments)  // uniform across the warp
        write_run_moments(u, v, m.moments + u.part_row(C) * kMomentColumns);
    }
  });
}

// The moment parts of member outputs kept in shared memory ([planes, runs·kMomentRun] of the
// block's positions): a warp per (plane, run) of the block, as forward_kernel forms them.
template <class T>
__device__ void write_block_run_moments(const StencilTiling& t, const TileBlock& b, const T* kept,
                                        double* moments) {
  const int lane = threadIdx.x % kWarp;
  for_each_block_run(b.plane0, t.planes, t.plane_count, b.q0, b.q1, t.Ho * t.Wo,
                     [&](const RunUnit& u, int pl) {
                       const T* values = kept + pl * t.runs * kMomentRun + (u.begin - b.q0);
                       T v[2];
                       for (int half = 0; half < 2; ++half)
                         v[half] = u.holds(lane, half) ? values[lane + kWarp * half] : T(0);
                       write_run_moments(u, v, moments + u.part_row(t.C) * kMomentColumns);
                     });
}

// The tiled forward (stencil_tile.cuh): stage the block's region of x, then each member's
// outputs from it, written to y (and kept for its moment parts where it forms them).
template <class T>
__global__ void __launch_bounds__(kThreads, kTileMinBlocks)
    tiled_forward_kernel(const T* __restrict__ x, StencilMembers<T> group, StencilTiling t) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* region = reinterpret_cast<T*>(shared_raw);  // [planes, region_h, region_w]
  T* kept = region + t.planes * t.region();      // [planes, runs·kMomentRun] when kept
  const TileBlock b = tile_block(t, blockIdx.x);
#pragma unroll 4
  for (int e = threadIdx.x; e < t.planes * t.region(); e += blockDim.x)
    region[e] = staged_value(x, t, b, e);
  __syncthreads();
  const ThreadPositions o = tile_outputs(t, b, threadIdx.x);
  const int64_t plane = b.plane0 + o.pl;
  const int c = static_cast<int>(plane % t.C), S = t.Ho * t.Wo;
  const T* plane_region = region + o.pl * t.region();
  T* plane_kept = kept + o.pl * t.runs * kMomentRun;
  PoolMemo<T> memo;
  for (int k = 0; k < group.count; ++k) {
    const StencilMember<T>& m = group.m[k];
    tile_member_outputs(m, plane_region, t, b, o, c, memo, [&](int j, T v) {
      m.y[plane * S + o.q[j]] = v;
      if (m.moments) plane_kept[o.q[j] - b.q0] = v;
    });
    if (m.moments) {  // the same for the whole block
      __syncthreads();
      write_block_run_moments(t, b, kept, m.moments);
      __syncthreads();
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    input_grad_kernel(const T* __restrict__ x, StencilMembers<T> group, T* dx, int C, int H, int W,
                      int64_t n_in, bool accumulate) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_in;
       i += int64_t(gridDim.x) * blockDim.x) {
    const Position p = position_of(i, C, H, W);
    const T* xp = x + p.plane * H * W;
    T sum = 0;
    uint32_t hits = 0;  // the arg-max hits of max-pool member hits_of's windows
    int hits_of = -1;
    for (int k = 0; k < group.count; ++k) {
      const StencilMember<T>& m = group.m[k];
      if (!m.dy) continue;
      const bool max_pool = m.is_pool && m.pool.is_max;
      if (max_pool && hits_of != m.same_as) {
        const PoolCovering w(m.pool, p.row, p.col);
        if (fits_bits(w)) hits = max_pool_hits(m.pool, xp, w, p.row * W + p.col);
        hits_of = fits_bits(w) ? m.same_as : -1;
      }
      const bool found = max_pool && hits_of >= 0;
      sum += stencil_input_grad(m, xp, p.plane, p.c, p.row, p.col, found, hits);
    }
    dx[i] = accumulate ? dx[i] + sum : sum;
  }
}

// The tiled input gradient (stencil_tile_grad.cuh): stage the block's region of the dy of a batch
// of stencils (and a max pool's arg-max table, once per distinct windows), then add their
// contributions to the thread's inputs in stencil order; dx written or added once at the end.
template <class T>
__global__ void __launch_bounds__(kThreads)
    tiled_input_grad_kernel(const T* __restrict__ x, StencilMembers<T> group, T* dx,
                            StencilGradTiling t, bool accumulate) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  const int cells = t.cells();
  T* grad = reinterpret_cast<T*>(shared_raw);                     // [batch, planes, dy_h, dy_w]
  int* arg_max = reinterpret_cast<int*>(grad + t.batch * cells);  // [planes, dy_h, dy_w]
  const GradBlock b = grad_block(t, blockIdx.x);
  const ThreadPositions o = tile_inputs(t, b, threadIdx.x);
  const int64_t plane = b.plane0 + o.pl;
  const int c = static_cast<int>(plane % t.C);
  T xv[kMaxTileOutputs], sum[kMaxTileOutputs];
#pragma unroll
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    sum[j] = T(0);
    xv[j] = j < o.count ? x[plane * t.H * t.W + o.q[j]] : T(0);
  }
  int batch[kMaxStencils], n, table_of = -1;  // table_of: the max pool the arg-maxes are of
  bool refill;
  for (int k = 0; k < group.count;) {  // the same batches for the whole block
    k = next_grad_batch(group, k, t, batch, n, table_of, refill);
    if (n == 0) break;
    __syncthreads();  // the previous batch's reads of the staged cells are done
    if (refill)
      for (int e = threadIdx.x; e < cells; e += blockDim.x)
        arg_max[e] = staged_arg_max(group.m[table_of].pool, x, t, b, e);
    for (int i = 0; i < n; ++i)
#pragma unroll 4
      for (int e = threadIdx.x; e < cells; e += blockDim.x)
        grad[i * cells + e] = staged_grad(group.m[batch[i]], t, b, e);
    __syncthreads();
    for (int i = 0; i < n; ++i)
      tile_member_grads(group.m[batch[i]], grad + i * cells + o.pl * t.region(),
                        arg_max + o.pl * t.region(), t, b, o, c, xv, sum);
  }
#pragma unroll
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    if (j >= o.count) continue;
    T& d = dx[plane * t.H * t.W + o.q[j]];
    d = accumulate ? d + sum[j] : sum[j];
  }
}

// The depthwise members whose weight gradient is wanted: member index and dw pointer.
template <class T>
struct WeightGrads {
  int count;
  int member[kMaxStencils];
  T* dw[kMaxStencils];
};

// A cluster of blocks per (wanted stencil j, channel c), cluster rank = chunk of the batch. Each
// block sums dy·input over its chunk, kTapsPerPass taps at a time, into block_sums[R·S] in its
// shared memory; block 0 then adds the cluster's sums, ranks in order, into dw_j[c].
template <class T>
__global__ void __launch_bounds__(kThreads, kWeightGradMinBlocks)
    weight_grad_kernel(const T* __restrict__ x, StencilMembers<T> group, WeightGrads<T> grads,
                       int C, int64_t N, PlaneStaging staging) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  const int pair = blockIdx.x / static_cast<int>(cooperative_groups::this_cluster().num_blocks());
  const int j = pair / C, c = pair - j * C;
  const StencilMember<T>& m = group.m[grads.member[j]];
  const DepthwiseGeometry& g = m.conv;
  depthwise_weight_grad_in_cluster<kThreads, kTapsPerPass, 0>(
      x, m.dy, g, c, N, reinterpret_cast<T*>(shared_raw), grads.dw[j] + int64_t(c) * g.R * g.S, {},
      staging);
}

// The group's members for the kernels; `out` is the common output shape.
template <class T>
StencilMembers<T> make_group(const Tensor& x, const std::vector<Tensor>& weights,
                             const std::vector<Stencil>& stencils, const Shape& out) {
  StencilMembers<T> group{};
  group.count = static_cast<int>(stencils.size());
  for (size_t k = 0; k < stencils.size(); ++k) {
    StencilMember<T>& m = group.m[k];
    m.is_pool = stencils[k].kind == Stencil::Kind::pool;
    if (m.is_pool) {
      m.pool = pool_geometry(stencils[k].pool, x.shape(), out);
      m.same_as = static_cast<int>(k);
      for (size_t j = 0; j < k; ++j)
        if (group.m[j].is_pool && group.m[j].pool == m.pool) {
          m.same_as = static_cast<int>(j);
          break;
        }
    } else {
      m.conv = depthwise_geometry(x.shape(), weights[k].shape(), out, stencils[k].conv);
      m.w = weights[k].data<T>();
    }
  }
  return group;
}

}  // namespace

void stencil_group_forward(const Tensor& x, const std::vector<Tensor>& weights,
                           std::vector<Tensor>& ys, const std::vector<Stencil>& stencils,
                           const std::vector<Tensor>& moments) {
  if (ys[0].numel() == 0) return;
  const Shape& out = ys[0].shape();
  const int64_t units = out[1] * moment_parts(out);  // (plane, run) pairs of the gather kernel
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "stencil_group_forward", [&]<class scalar_t>() {
    StencilMembers<scalar_t> group = make_group<scalar_t>(x, weights, stencils, out);
    for (size_t k = 0; k < ys.size(); ++k) {
      group.m[k].y = ys[k].data<scalar_t>();
      group.m[k].moments = has_parts(moments, k) ? moments[k].data<double>() : nullptr;
    }
    const int C = static_cast<int>(x.size(1)), H = static_cast<int>(x.size(2)),
              W = static_cast<int>(x.size(3)), Ho = static_cast<int>(out[2]),
              Wo = static_cast<int>(out[3]);
    StencilTiling t;
    if (make_stencil_tiling(group, x.size(0) * C, C, H, W, Ho, Wo, t)) {
      AN_CHECK(t.blocks() <= 0x7fffffff)
          << "stencil_group_forward: too many blocks (" << t.blocks() << ")";
      tiled_forward_kernel<<<static_cast<unsigned>(t.blocks()), kThreads,
                             t.shared_elements() * sizeof(scalar_t), s>>>(x.data<scalar_t>(), group,
                                                                          t);
    } else {
      forward_kernel<<<grid_for(units * kWarp, kThreads), kThreads, 0, s>>>(
          x.data<scalar_t>(), group, C, H, W, Ho, Wo, units);
    }
  });
  AN_CUDA_CHECK_LAUNCH();
}

void stencil_group_backward(const Tensor& x, const std::vector<Tensor>& weights,
                            const std::vector<Tensor>& dys, Tensor& dx,
                            std::vector<Tensor>& dweights, const std::vector<Stencil>& stencils,
                            GradMode dx_mode) {
  const Shape out = stencil_group_out_shape(
      x.shape(),
      [&] {
        std::vector<Shape> shapes;
        for (const Tensor& w : weights) shapes.push_back(w.defined() ? w.shape() : Shape{});
        return shapes;
      }(),
      stencils);
  const int64_t N = x.size(0);
  const int C = static_cast<int>(x.size(1));
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "stencil_group_backward", [&]<class scalar_t>() {
    StencilMembers<scalar_t> group = make_group<scalar_t>(x, weights, stencils, out);
    for (size_t k = 0; k < dys.size(); ++k)
      group.m[k].dy = dys[k].defined() ? dys[k].data<scalar_t>() : nullptr;

    WeightGrads<scalar_t> grads{};
    int max_taps = 0, max_cells = 0;
    for (size_t k = 0; k < dweights.size(); ++k) {
      if (!dweights[k].defined() || !dys[k].defined()) continue;
      grads.member[grads.count] = static_cast<int>(k);
      grads.dw[grads.count++] = dweights[k].data<scalar_t>();
      const DepthwiseGeometry& g = group.m[k].conv;
      max_taps = std::max(max_taps, g.R * g.S);
      max_cells = std::max(max_cells, staged_plane_rows(g) * staged_plane_cols(g));
    }
    if (grads.count > 0 && shape_numel(out) > 0) {
      // First, on the side stream: dx runs beside it (runtime/side_stream.h).
      const SideWork side(x.device());
      const unsigned chunks = static_cast<unsigned>(std::clamp<int64_t>(N, 1, kWeightGradCluster));
      size_t shared_bytes = max_taps * sizeof(scalar_t);
      const PlaneStaging staging =
          plane_staging(max_taps, kTapsPerPass, max_cells, static_cast<int>(out[2] * out[3]),
                        kThreads, sizeof(scalar_t), shared_bytes);
      launch_in_clusters(weight_grad_kernel<scalar_t>, grads.count * C * chunks, kThreads, chunks,
                         shared_bytes, side.stream(), x.data<scalar_t>(), group, grads, C, N,
                         staging);
    }

    if (dx.defined() && dx.numel() > 0) {
      const int H = static_cast<int>(x.size(2)), W = static_cast<int>(x.size(3));
      const bool accumulate = dx_mode == GradMode::Accumulate;
      StencilGradTiling t;
      if (make_stencil_grad_tiling(group, N * C, C, H, W, static_cast<int>(out[2]),
                                   static_cast<int>(out[3]), t)) {
        AN_CHECK(t.blocks() <= 0x7fffffff)
            << "stencil_group_backward: too many blocks (" << t.blocks() << ")";
        tiled_input_grad_kernel<<<static_cast<unsigned>(t.blocks()), kThreads,
                                  t.shared_bytes(sizeof(scalar_t)), s>>>(
            x.data<scalar_t>(), group, dx.data<scalar_t>(), t, accumulate);
      } else {
        const int64_t n_in = dx.numel();
        input_grad_kernel<<<grid_for(n_in, kThreads), kThreads, 0, s>>>(
            x.data<scalar_t>(), group, dx.data<scalar_t>(), C, H, W, n_in, accumulate);
      }
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace autonet::cuda
