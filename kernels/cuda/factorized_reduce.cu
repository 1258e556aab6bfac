// CUDA twin of factorized_reduce: three plain kernels, one launch each, no atomics.
//  - forward: a thread per y element sums its C products, the ReLU in the x loads;
//  - dx:      a thread per x element: on phase (even, even) the sum over Co/2 of w1 · dy's first
//             half, on (odd, odd) of w2 · dy's second half, 0 elsewhere, times relu'(x); written
//             or added;
//  - dw:      a thread block cluster (sm_90) per row o of dw1 and of dw2: its blocks split the
//             N·Ho·Wo products, each sums its share kChannels channels at a time (block_sums),
//             and block 0 adds the blocks' sums, ranks in order, into the row (cluster_sums.cuh,
//             as the pointwise group and the depthwise weight gradients do).
// Every sum runs in a fixed order: results are bit-reproducible run to run.
#include <algorithm>
#include <climits>

#include "kernels/cuda/add_unfused.cuh"
#include "kernels/cuda/cluster_sums.cuh"
#include "kernels/factorized_reduce.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWeightGradCluster = 8;  // blocks per dw row: the portable cluster size
constexpr int kChannels = 16;          // dw columns a thread accumulates per pass over its share

struct Geometry {
  int64_t N, C, H, W, half, Ho, Wo;
};
Geometry geometry_of(const Tensor& x, const Tensor& w1) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w1.size(0), x.size(2) / 2, x.size(3) / 2};
}

template <class T>
__device__ T relu(T v) {
  return v > T(0) ? v : T(0);
}

// e runs over y [N, 2·half, Ho, Wo] in memory order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const T* __restrict__ x, const T* __restrict__ w1, const T* __restrict__ w2,
                   T* __restrict__ y, Geometry g) {
  const int64_t plane = g.H * g.W, total = g.N * 2 * g.half * g.Ho * g.Wo;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % g.Wo, i = e / g.Wo % g.Ho, o = e / (g.Ho * g.Wo) % (2 * g.half);
    const int64_t n = e / (2 * g.half * g.Ho * g.Wo);
    const int64_t phase = o >= g.half ? 1 : 0;
    const T* w = phase ? w2 + (o - g.half) * g.C : w1 + o * g.C;
    const T* xp = x + n * g.C * plane + (2 * i + phase) * g.W + 2 * j + phase;
    T sum = 0;
    for (int64_t c = 0; c < g.C; ++c) sum += w[c] * relu(xp[c * plane]);
    y[e] = sum;
  }
}

// e runs over x [N, C, H, W] in memory order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    dx_kernel(const T* __restrict__ x, const T* __restrict__ w1, const T* __restrict__ w2,
              const T* __restrict__ dy, T* dx, Geometry g, bool accumulate) {
  const int64_t pixels = g.Ho * g.Wo, total = g.N * g.C * g.H * g.W;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = e % g.W, h = e / g.W % g.H, c = e / (g.H * g.W) % g.C;
    const int64_t n = e / (g.C * g.H * g.W);
    T grad = 0;
    if (h % 2 == w % 2) {
      const int64_t phase = h % 2;
      const T* wc = (phase ? w2 : w1) + c;  // column c of w [half, C]
      const T* d = dy + (n * 2 * g.half + phase * g.half) * pixels + h / 2 * g.Wo + w / 2;
      for (int64_t o = 0; o < g.half; ++o) grad += wc[o * g.C] * d[o * pixels];
      grad *= x[e] > T(0) ? T(1) : T(0);  // relu' as a product, as the CPU twin takes it
    }
    dx[e] = accumulate ? add_unfused(dx[e], grad) : grad;  // old + grad, rounded once
  }
}

// The weight rows a dw launch sums: jobs[k] is row-block `phase` (0: dw1, 1: dw2).
template <class T>
struct WeightGrads {
  int count = 0;
  int phase[2] = {0, 0};
  T* dw[2] = {nullptr, nullptr};
};

// Cluster t (blocks t·R … t·R + R − 1, R ranks) sums row o = t % half of job t / half:
// dw[o, c] += Σ_(n, i, j) dy[n, phase·half + o, i, j] · relu(x[n, c, 2i + phase, 2j + phase]),
// rank r taking products [M·r/R, M·(r+1)/R) of the M = N·Ho·Wo.
template <class T>
__global__ void __launch_bounds__(kThreads)
    weight_grad_kernel(const T* __restrict__ x, const T* __restrict__ dy, WeightGrads<T> jobs,
                       Geometry g) {
  __shared__ T sums[kChannels];
  cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
  const int64_t ranks = cluster.num_blocks(), rank = cluster.block_rank();
  const int64_t row = blockIdx.x / ranks, job = row / g.half, o = row % g.half;
  const int64_t phase = jobs.phase[job];
  T* dw_row = jobs.dw[job] + o * g.C;
  const int64_t plane = g.H * g.W, pixels = g.Ho * g.Wo, products = g.N * pixels;
  const int64_t first = products * rank / ranks, end = products * (rank + 1) / ranks;
  for (int64_t c0 = 0; c0 < g.C; c0 += kChannels) {
    const int count = static_cast<int>(std::min<int64_t>(kChannels, g.C - c0));
    T acc[kChannels];
#pragma unroll
    for (int k = 0; k < kChannels; ++k) acc[k] = 0;
    for (int64_t e = first + threadIdx.x; e < end; e += blockDim.x) {
      const int64_t n = e / pixels, q = e % pixels, i = q / g.Wo, j = q % g.Wo;
      const T grad = dy[(n * 2 * g.half + phase * g.half + o) * pixels + q];
      const T* xp = x + (n * g.C + c0) * plane + (2 * i + phase) * g.W + 2 * j + phase;
#pragma unroll
      for (int k = 0; k < kChannels; ++k)
        if (k < count) acc[k] += grad * relu(xp[k * plane]);
    }
    block_sums<kThreads>(acc, count, sums);
    add_cluster_sums(sums, count, dw_row + c0);  // ends on a cluster barrier: sums free again
  }
}

}  // namespace

void factorized_reduce_forward(const Tensor& x, const Tensor& w1, const Tensor& w2, Tensor& y) {
  if (y.numel() == 0) return;
  const Geometry g = geometry_of(x, w1);
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "factorized_reduce_forward", [&]<class scalar_t>() {
    forward_kernel<scalar_t><<<grid_for(y.numel(), kThreads), kThreads, 0, s>>>(
        x.data<scalar_t>(), w1.data<scalar_t>(), w2.data<scalar_t>(), y.data<scalar_t>(), g);
    AN_CUDA_CHECK_LAUNCH();
  });
}

void factorized_reduce_backward(const Tensor& x, const Tensor& w1, const Tensor& w2,
                                const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& dw2,
                                GradMode dx_mode) {
  const Geometry g = geometry_of(x, w1);
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "factorized_reduce_backward", [&]<class scalar_t>() {
    WeightGrads<scalar_t> jobs;
    for (int phase = 0; phase < 2; ++phase) {
      const Tensor& dw = phase == 0 ? dw1 : dw2;
      if (!dw.defined()) continue;
      jobs.phase[jobs.count] = phase;
      jobs.dw[jobs.count++] = dw.data<scalar_t>();
    }
    const int64_t products = g.N * g.Ho * g.Wo;
    if (jobs.count > 0 && products > 0 && g.C > 0 && g.half > 0) {  // else dw += 0
      // First, on the side stream: dx runs beside it (runtime/side_stream.h).
      const SideWork side(x.device());
      const int64_t ranks =
          std::clamp<int64_t>((products + kThreads - 1) / kThreads, 1, kWeightGradCluster);
      AN_CHECK(jobs.count * g.half * ranks <= INT_MAX)
          << "factorized_reduce_backward: " << g.half << " weight rows are too many for the grid";
      launch_in_clusters(weight_grad_kernel<scalar_t>,
                         static_cast<unsigned>(jobs.count * g.half * ranks), kThreads,
                         static_cast<unsigned>(ranks), 0, side.stream(), x.data<scalar_t>(),
                         dy.data<scalar_t>(), jobs, g);
    }

    if (dx.defined() && x.numel() > 0) {
      dx_kernel<scalar_t><<<grid_for(x.numel(), kThreads), kThreads, 0, s>>>(
          x.data<scalar_t>(), w1.data<scalar_t>(), w2.data<scalar_t>(), dy.data<scalar_t>(),
          dx.data<scalar_t>(), g, dx_mode == GradMode::Accumulate);
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace autonet::cuda
