// CUDA twin of the depthwise group. The members' geometry and pointers travel by value in the
// kernel parameters (no device-side table), so a group is one launch per pass, a flattened grid
// whose index picks the member (member-major, so a warp reads and writes one member's planes):
//  - forward: a block per (member, tile) stages the member's region of x as its taps read it
//    and computes the tile's outputs from shared memory (depthwise_group_tile.cuh);
//  - dx: a block per (member, tile) stages the member's region of dy and forms each input's
//    gradient, summed as the stencil group's conv members sum it (depthwise_taps.cuh), then
//    writes it or adds it once (a member written without a dy gets zeros), and sums a folded
//    BN's gradient sums per run of 64 inputs (a warp each) where they are asked for;
//  - members of different strides, or planes too wide for a staged region, take gathers through
//    the cache instead: a thread per output forward, a warp per run of inputs for dx;
//  - dw: a thread block cluster per (member, channel), as depthwise_conv2d's weight kernel:
//    blocks reduce chunks of the batch from the sample planes they stage in shared memory,
//    block 0 adds their sums in rank order through distributed shared memory. No atomics, no
//    partial buffer.
// A member with a folded BN reads x̂ = (x − mean)·invstd of its channel wherever the plain member
// reads x (PlaneNorm, depthwise_conv2d_math.h), and its dx is the gradient at x̂.
#include <algorithm>

#include "kernels/cuda/cluster_sums.cuh"
#include "kernels/cuda/depthwise_group_tile.cuh"
#include "kernels/cuda/depthwise_taps.cuh"
#include "kernels/cuda/warp_runs.cuh"
#include "kernels/depthwise_group.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

// One member as the kernels see it: its geometry and its tensors (a pass reads only its own).
template <class T>
struct Member {
  DepthwiseGeometry g;
  const T* x;
  const T* w;         // filter [C, R, S]
  T* y;               // forward output
  const T* dy;        // backward: its output gradient, null when it received none
  T* out;             // backward: dx (dx kernel) or dw (dw kernel)
  bool accumulate;    // dx kernel: add into dx
  double* grad_sums;  // dx kernel: the folded BN's gradient-sum parts [P, C, 2] (null: none)
  const T* mean;      // the folded BN's statistics [C] (null: none)
  const T* invstd;
  // Channel c's folded BN, as the taps read it.
  __device__ PlaneNorm<T> norm(int c) const {
    return mean ? PlaneNorm<T>{true, mean[c], invstd[c]} : PlaneNorm<T>{};
  }
};

// The members a pass works on, in order.
template <class T>
struct Members {
  int count;
  Member<T> m[kMaxGroupMembers];
};

// Calls f(k, at) for element `at` < n of member k < count, a grid-stride loop over the flattened
// (member, element) range, member-major.
template <class F>
__device__ void for_each_member_element(int count, int64_t n, F&& f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count * n;
       i += int64_t(gridDim.x) * blockDim.x) {
    // The member by a 32-bit division where the range allows (position_of says why).
    const int k =
        count * n <= INT_MAX ? static_cast<int>(i) / static_cast<int>(n) : static_cast<int>(i / n);
    f(k, i - k * n);
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads) forward_kernel(Members<T> group, int64_t n_out) {
  for_each_member_element(group.count, n_out, [&](int k, int64_t at) {
    const Member<T>& m = group.m[k];
    const DepthwiseGeometry& g = m.g;
    const Position o = position_of(at, g.C, g.Ho, g.Wo);
    m.y[at] = depthwise_output(g, m.w + int64_t(o.c) * g.R * g.S, m.x + o.plane * g.H * g.W, o.row,
                               o.col, m.norm(o.c));
  });
}

// group: the members whose dx is touched (dy null: written zeros). A warp per (member, run of an
// input plane) (warp_runs.cuh), member-major; a member with gradient sums sums Σg and Σg·x̂ over
// its run from the values it writes, x̂ from x as its folded BN forms it.
template <class T>
__global__ void __launch_bounds__(kThreads)
    input_grad_kernel(Members<T> group, int64_t units_per_member) {
  const int lane = threadIdx.x % kWarp;
  for_each_warp_unit(group.count * units_per_member, [&](int64_t unit) {
    const int k = static_cast<int>(unit / units_per_member);
    const Member<T>& m = group.m[k];
    const DepthwiseGeometry& g = m.g;
    const RunUnit u = run_unit(unit - k * units_per_member, g.H * g.W);
    const int c = static_cast<int>(u.plane % g.C);
    const T* xp = m.x + u.plane * g.H * g.W;
    T* dx = m.out + u.plane * g.H * g.W;
    double sum_g = 0, sum_g_xhat = 0;
    for (int half = 0; half < 2; ++half) {
      if (!u.holds(lane, half)) continue;
      const int at = u.position(lane, half);
      const T grad =
          m.dy ? depthwise_input_grad(g, m.w + int64_t(c) * g.R * g.S, xp,
                                      m.dy + u.plane * g.Ho * g.Wo, at / g.W, at % g.W, m.norm(c))
               : T(0);
      dx[at] = m.accumulate ? dx[at] + grad : grad;
      if (!m.grad_sums) continue;  // x is read here only when a folded ReLU has not read it
      sum_g += double(grad);
      sum_g_xhat += double(grad) * double(m.norm(c)(xp[at]));
    }
    if (!m.grad_sums) return;  // uniform across the warp
    sum_g = warp_sum(sum_g), sum_g_xhat = warp_sum(sum_g_xhat);
    if (lane != 0) return;
    double* part = m.grad_sums + u.part_row(g.C) * kGradSumColumns;
    part[0] = sum_g, part[1] = sum_g_xhat;
  });
}

// The tiled forward (depthwise_group_tile.cuh): blocks member-major, t.blocks() a member; a
// block stages its member's region of x as the taps read it, then computes its outputs there.
template <class T>
__global__ void __launch_bounds__(kThreads, kTileMinBlocks)
    tiled_forward_kernel(Members<T> group, StencilTiling t) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* region = reinterpret_cast<T*>(shared_raw);  // [planes, region_h, region_w]
  const int64_t tiles = t.blocks();
  const int k = static_cast<int>(blockIdx.x / tiles);
  const Member<T>& m = group.m[k];
  const DepthwiseGeometry& g = m.g;
  const TileBlock b = tile_block(t, blockIdx.x - k * tiles);
#pragma unroll 4
  for (int e = threadIdx.x; e < t.planes * t.region(); e += blockDim.x)
    region[e] = staged_tap_input(m.x, g, m.mean, m.invstd, t, b, e);
  __syncthreads();
  const ThreadPositions o = tile_outputs(t, b, threadIdx.x);
  const int64_t plane = b.plane0 + o.pl;
  const int c = static_cast<int>(plane % t.C);
  T* y = m.y + plane * t.Ho * t.Wo;
  tile_depthwise_any(g, m.w + int64_t(c) * g.R * g.S, false, region + o.pl * t.region(), t, b, o,
                     [&](int j, T v) { y[o.q[j]] = v; });
}

// The tiled dx: blocks member-major; a block stages its member's region of dy, then each
// thread's inputs' gradients (at x̂; zero where the folded ReLU clamped), written or added. A
// member with gradient sums keeps the block's gradients in shared memory, and a warp per run of
// the block sums Σg and Σg·x̂ from them as input_grad_kernel does.
template <class T>
__global__ void __launch_bounds__(kThreads)
    tiled_input_grad_kernel(Members<T> group, StencilGradTiling t) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* grad = reinterpret_cast<T*>(shared_raw);  // [planes, dy_h, dy_w]
  T* kept = grad + t.cells();                  // [planes, chunk] when keeps_inputs
  const int64_t tiles = t.blocks();
  const int k = static_cast<int>(blockIdx.x / tiles);
  const Member<T>& m = group.m[k];
  const DepthwiseGeometry& g = m.g;
  const GradBlock b = grad_block(t, blockIdx.x - k * tiles);
  if (m.dy) {  // the same for the whole block
#pragma unroll 4
    for (int e = threadIdx.x; e < t.cells(); e += blockDim.x)
      grad[e] = staged_output_grad(m.dy, t, b, e);
    __syncthreads();
  }
  const ThreadPositions o = tile_inputs(t, b, threadIdx.x);
  const int64_t plane = b.plane0 + o.pl;
  const int c = static_cast<int>(plane % t.C);
  const PlaneNorm<T> norm = m.norm(c);
  const T* xp = m.x + plane * t.H * t.W;
  T xv[kMaxTileOutputs], sum[kMaxTileOutputs];
#pragma unroll
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    sum[j] = T(0);
    xv[j] = j < o.count ? norm(xp[o.q[j]]) : T(0);
  }
  if (m.dy)
    tile_depthwise_grad_any(g, m.w + int64_t(c) * g.R * g.S, grad + o.pl * t.region(), t, b, o, xv,
                            sum);
  T* dx = m.out + plane * t.H * t.W;
#pragma unroll
  for (int j = 0; j < kMaxTileOutputs; ++j) {
    if (j >= o.count) continue;
    dx[o.q[j]] = m.accumulate ? dx[o.q[j]] + sum[j] : sum[j];
    if (m.grad_sums) kept[o.pl * t.chunk + o.q[j] - b.p0] = sum[j];
  }
  if (!m.grad_sums) return;  // the same for the whole block
  __syncthreads();
  const int lane = threadIdx.x % kWarp;
  for_each_block_run(b.plane0, t.planes, t.plane_count, b.p0, b.p1, t.H * t.W,
                     [&](const RunUnit& u, int pl) {
                       const PlaneNorm<T> run_norm = m.norm(static_cast<int>(u.plane % t.C));
                       const T* run_x = m.x + u.plane * t.H * t.W;
                       double sum_g = 0, sum_g_xhat = 0;
                       for (int half = 0; half < 2; ++half) {
                         if (!u.holds(lane, half)) continue;
                         const int at = u.position(lane, half);
                         const T gv = kept[pl * t.chunk + at - b.p0];
                         sum_g += double(gv);
                         sum_g_xhat += double(gv) * double(run_norm(run_x[at]));
                       }
                       sum_g = warp_sum(sum_g), sum_g_xhat = warp_sum(sum_g_xhat);
                       if (lane != 0) return;
                       double* part = m.grad_sums + u.part_row(t.C) * kGradSumColumns;
                       part[0] = sum_g, part[1] = sum_g_xhat;
                     });
}

// The members' common reach, or false where their strides differ.
template <class T>
bool group_reach(const Members<T>& group, WindowReach& reach) {
  for (int k = 0; k < group.count; ++k)
    if (!widen_reach(reach, reach_of(group.m[k].g), k == 0)) return false;
  return true;
}

// group: the members whose dw is wanted. A cluster of blocks per (member j, channel c), cluster
// rank = chunk of the batch; each block sums dy·input over its chunk, kTapsPerPass taps at a
// time, into its shared memory; block 0 adds the cluster's sums, ranks in order, into dw_j[c].
template <class T>
__global__ void __launch_bounds__(kThreads, kWeightGradMinBlocks)
    weight_grad_kernel(Members<T> group, int C, int64_t N, PlaneStaging staging) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  const int pair = blockIdx.x / static_cast<int>(cooperative_groups::this_cluster().num_blocks());
  const int j = pair / C, c = pair - j * C;
  const Member<T>& m = group.m[j];
  depthwise_weight_grad_in_cluster<kThreads, kTapsPerPass, 0>(
      m.x, m.dy, m.g, c, N, reinterpret_cast<T*>(shared_raw), m.out + int64_t(c) * m.g.R * m.g.S,
      m.norm(c), staging);
}

// Member k's geometry and inputs; `out` is the common output shape.
template <class T>
Member<T> member(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                 const std::vector<DepthwiseConv2dParams>& params,
                 const std::vector<InputNorm>& norms, const Shape& out, size_t k) {
  Member<T> m{};
  m.g = depthwise_geometry(xs[k].shape(), ws[k].shape(), out, params[k]);
  m.x = xs[k].data<T>();
  m.w = ws[k].data<T>();
  if (!norms.empty() && norms[k].defined()) {
    m.mean = norms[k].mean.data<T>();
    m.invstd = norms[k].invstd.data<T>();
  }
  return m;
}

}  // namespace

void depthwise_group_forward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                             std::vector<Tensor>& ys,
                             const std::vector<DepthwiseConv2dParams>& params,
                             const std::vector<InputNorm>& norms) {
  const int64_t n = ys[0].numel();
  if (n == 0) return;
  const Shape& out = ys[0].shape();
  cudaStream_t s = stream(xs[0].device());
  dispatch_float(xs[0].dtype(), "depthwise_group_forward", [&]<class scalar_t>() {
    Members<scalar_t> group{};
    for (size_t k = 0; k < params.size(); ++k) {
      Member<scalar_t>& m = group.m[group.count++];
      m = member<scalar_t>(xs, ws, params, norms, out, k);
      m.y = ys[k].data<scalar_t>();
    }
    WindowReach reach{};
    StencilTiling t;
    const Shape& x = xs[0].shape();
    if (group_reach(group, reach) &&
        plan_output_tiles(reach, x[0] * x[1], static_cast<int>(x[1]), static_cast<int>(x[2]),
                          static_cast<int>(x[3]), static_cast<int>(out[2]),
                          static_cast<int>(out[3]), false, sizeof(scalar_t), t)) {
      const int64_t blocks = group.count * t.blocks();
      AN_CHECK(blocks <= 0x7fffffff)
          << "depthwise_group_forward: too many blocks (" << blocks << ")";
      tiled_forward_kernel<<<static_cast<unsigned>(blocks), kThreads,
                             t.shared_elements() * sizeof(scalar_t), s>>>(group, t);
    } else {
      forward_kernel<<<grid_for(group.count * n, kThreads), kThreads, 0, s>>>(group, n);
    }
  });
  AN_CUDA_CHECK_LAUNCH();
}

void depthwise_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& ws,
                              const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                              std::vector<Tensor>& dws,
                              const std::vector<DepthwiseConv2dParams>& params,
                              const std::vector<GradMode>& dx_modes,
                              const std::vector<InputNorm>& norms,
                              const std::vector<Tensor>& grad_sums) {
  std::vector<Shape> x_shapes, w_shapes;
  for (size_t k = 0; k < params.size(); ++k) {
    x_shapes.push_back(xs[k].shape());
    w_shapes.push_back(ws[k].shape());
  }
  const Shape out = depthwise_group_out_shape(x_shapes, w_shapes, params);
  const int64_t N = xs[0].size(0), n_in = xs[0].numel(), n_out = shape_numel(out);
  const int C = static_cast<int>(xs[0].size(1));
  cudaStream_t s = stream(xs[0].device());
  dispatch_float(xs[0].dtype(), "depthwise_group_backward", [&]<class scalar_t>() {
    auto dy_of = [&](size_t k) { return dys[k].defined() ? dys[k].data<scalar_t>() : nullptr; };
    // dw: every member with a dw and a dy.
    Members<scalar_t> dw_group{};
    int max_taps = 0, max_cells = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      if (!dws[k].defined() || !dys[k].defined()) continue;
      Member<scalar_t>& m = dw_group.m[dw_group.count++];
      m = member<scalar_t>(xs, ws, params, norms, out, k);
      m.dy = dy_of(k);
      m.out = dws[k].data<scalar_t>();
      max_taps = std::max(max_taps, m.g.R * m.g.S);
      max_cells = std::max(max_cells, staged_plane_rows(m.g) * staged_plane_cols(m.g));
    }
    if (dw_group.count > 0 && n_out > 0) {
      // First, on the side stream: dx runs beside it (runtime/side_stream.h).
      const SideWork side(xs[0].device());
      const unsigned chunks = static_cast<unsigned>(std::clamp<int64_t>(N, 1, kWeightGradCluster));
      size_t shared_bytes = max_taps * sizeof(scalar_t);
      const PlaneStaging staging =
          plane_staging(max_taps, kTapsPerPass, max_cells, static_cast<int>(out[2] * out[3]),
                        kThreads, sizeof(scalar_t), shared_bytes);
      launch_in_clusters(weight_grad_kernel<scalar_t>, dw_group.count * C * chunks, kThreads,
                         chunks, shared_bytes, side.stream(), dw_group, C, N, staging);
    }

    // dx: every member whose dx changes (an accumulated dx without a dy stays as it is).
    Members<scalar_t> dx_group{};
    for (size_t k = 0; k < params.size(); ++k) {
      const bool accumulate = dx_modes[k] == GradMode::Accumulate;
      if (!dxs[k].defined() || (accumulate && !dys[k].defined())) continue;
      Member<scalar_t>& m = dx_group.m[dx_group.count++];
      m = member<scalar_t>(xs, ws, params, norms, out, k);
      m.dy = dy_of(k);
      m.out = dxs[k].data<scalar_t>();
      m.accumulate = accumulate;
      m.grad_sums = has_parts(grad_sums, k) ? grad_sums[k].data<double>() : nullptr;
    }
    if (dx_group.count > 0 && n_in > 0) {
      bool sums = false;
      for (int k = 0; k < dx_group.count; ++k) sums = sums || dx_group.m[k].grad_sums;
      WindowReach reach{};
      StencilGradTiling t;
      const Shape& x = xs[0].shape();
      if (group_reach(dx_group, reach) &&
          plan_input_tiles(reach, N * C, C, static_cast<int>(x[2]), static_cast<int>(x[3]),
                           static_cast<int>(out[2]), static_cast<int>(out[3]), 1, false, sums,
                           sizeof(scalar_t), t)) {
        const int64_t blocks = dx_group.count * t.blocks();
        AN_CHECK(blocks <= 0x7fffffff)
            << "depthwise_group_backward: too many blocks (" << blocks << ")";
        tiled_input_grad_kernel<<<static_cast<unsigned>(blocks), kThreads,
                                  t.shared_bytes(sizeof(scalar_t)), s>>>(dx_group, t);
      } else {
        const int64_t units = C * moment_parts(xs[0].shape());  // (plane, run) pairs per member
        input_grad_kernel<<<grid_for(dx_group.count * units * kWarp, kThreads), kThreads, 0, s>>>(
            dx_group, units);
      }
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace autonet::cuda
