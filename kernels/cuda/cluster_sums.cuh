// Deterministic sums of a few values over many blocks without float atomics or a partial buffer,
// on sm_90 thread block clusters: each block of a cluster sums its share in registers and
// shared memory; block 0 of the cluster then adds the blocks' sums in rank order, reading them
// through distributed shared memory. The depthwise weight gradients use it (depthwise_conv2d.cu,
// stencil_group.cu, depthwise_group.cu): a cluster per (filter, channel), its blocks splitting
// the batch, one pass over the batch per TAPS taps; the pointwise group's (pointwise_group.cu) a
// cluster per (member, dw tile).
#pragma once
#include <cooperative_groups.h>

#include <algorithm>

#include "kernels/cuda/block_partials.cuh"  // warp_sum
#include "kernels/cuda/plane_staging.cuh"
#include "kernels/depthwise_conv2d_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {

// out[k] = Σ over the block's threads of acc[k], for k < count: warp sums, then the warps added
// in order. Every thread of the block calls it; out is shared memory.
template <int kThreads, class T, int K>
__device__ void block_sums(const T (&acc)[K], int count, T* out) {
  constexpr int kWarps = kThreads / 32;
  __shared__ T warp_sums[K][kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const T v = warp_sum(acc[k]);
    if (lane == 0) warp_sums[k][warp] = v;
  }
  __syncthreads();
  for (int k = threadIdx.x; k < count && k < K; k += blockDim.x) {
    T sum = 0;
    for (int w = 0; w < kWarps; ++w) sum += warp_sums[k][w];
    out[k] = sum;
  }
  __syncthreads();  // warp_sums may be reused by the next call
}

// add(k, Σ_rank (block `rank`'s sums[k])) for k < count, by block 0 of the cluster, ranks added
// in order. Every block of the cluster calls it after writing its own `sums` (shared memory).
template <class T, class Add>
__device__ void for_each_cluster_sum(T* sums, int count, Add&& add) {
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every block's sums are in its shared memory
  if (cluster.block_rank() == 0)
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
      T sum = 0;
      for (unsigned rank = 0; rank < cluster.num_blocks(); ++rank)
        sum += cluster.map_shared_rank(sums, rank)[k];
      add(k, sum);
    }
  cluster.sync();  // keeps the other blocks' shared memory alive until block 0 has read it
}

// dst[k] += Σ_rank (block `rank`'s sums[k]) for k < count, as for_each_cluster_sum.
template <class T>
__device__ void add_cluster_sums(T* sums, int count, T* dst) {
  for_each_cluster_sum(sums, count, [dst](int k, T sum) { dst[k] += sum; });
}

// One block's share of a depthwise weight gradient, for channel c of the filter of geometry g
// whose output gradient is dy: the cluster's blocks split the batch by rank, each sums
// dy·input over its samples, TAPS taps at a time (KS > 0: the filter's width fixed at compile
// time), into `sums` [R·S] (shared memory); block 0 adds the cluster's sums into dw_c [R·S].
// The taps divide by nothing (a division by a runtime int is ~20 instructions, and a 5×5 filter
// makes 25 taps an element): their (r, s) and the element's (sample, position) advance by adds;
// an element divides once, for its row.
//
// With `staging`, the block goes through its elements in rounds of blockDim (thread tid's k-th
// element in round k, as without) and stages the padded planes a round meets, through the folded
// BN and ReLU, before it: each tap is then a shared-memory read of the value depthwise_input
// gives, the same products in the same order, so the same sums.
template <int kThreads, int TAPS, int KS, class T>
__device__ void depthwise_weight_grad_in_cluster(const T* __restrict__ x, const T* __restrict__ dy,
                                                 const DepthwiseGeometry& g, int c, int64_t N,
                                                 T* sums, T* dw_c, PlaneNorm<T> norm = {},
                                                 PlaneStaging staging = {}) {
  namespace cg = cooperative_groups;
  const int chunks = static_cast<int>(cg::this_cluster().num_blocks());
  const int chunk = static_cast<int>(cg::this_cluster().block_rank());
  const int S = KS > 0 ? KS : g.S, RS = KS > 0 ? KS * KS : g.R * g.S;
  const int64_t n0 = N * chunk / chunks, n1 = N * (chunk + 1) / chunks;
  const int plane_out = g.Ho * g.Wo;
  const int cols = staged_plane_cols(g), cells = staged_plane_rows(g) * cols;
  T* staged = sums + staging.offset;
  const int64_t count = (n1 - n0) * plane_out;
  for (int tap0 = 0; tap0 < RS; tap0 += TAPS) {
    T acc[TAPS];
#pragma unroll
    for (int k = 0; k < TAPS; ++k) acc[k] = 0;
    const int r0 = tap0 / S, s0 = tap0 - r0 * S;
    // The element's taps, reading input (ih0 + r·dilation, iw0 + s·dilation) through `input`.
    auto add_taps = [&](T grad, int ih0, int iw0, auto&& input) {
      int r = r0, s = s0;
#pragma unroll
      for (int k = 0; k < TAPS; ++k) {
        if (tap0 + k >= RS) break;
        acc[k] += grad * input(ih0 + r * g.dilation, iw0 + s * g.dilation);
        if (++s == S) s = 0, ++r;
      }
    };
    PlaneWalk e(n0, n1, plane_out, threadIdx.x, blockDim.x);
    if (staging.planes > 0) {
      int64_t staged_first = -1, staged_last = -1;  // the samples staged
      for (int64_t round = 0; round < count; round += blockDim.x) {
        const int64_t first = n0 + round / plane_out;
        const int64_t last = n0 + std::min<int64_t>(round + blockDim.x - 1, count - 1) / plane_out;
        if (first != staged_first || last != staged_last) {  // the same for the whole block
          __syncthreads();                                   // the previous round's reads are done
          const int n_cells = static_cast<int>(last - first + 1) * cells;
          for (int i = threadIdx.x; i < n_cells; i += blockDim.x) {
            const int pl = i / cells;
            staged[i] = staged_plane_value(x + ((first + pl) * g.C + c) * g.H * g.W, g,
                                           i - pl * cells, norm);
          }
          __syncthreads();
          staged_first = first, staged_last = last;
        }
        if (!e.valid()) continue;
        const int oh = e.at / g.Wo, ow = e.at - oh * g.Wo;
        const T grad = dy[(e.n * g.C + c) * plane_out + e.at];
        const T* plane = staged + (e.n - first) * cells;
        // Staged row h holds input row h − pad_h: tap (r, s) of (oh, ow) is cell
        // (oh·stride + r·dilation, ow·stride + s·dilation).
        add_taps(grad, oh * g.stride, ow * g.stride,
                 [&](int h, int w) { return plane[h * cols + w]; });
        e.next();
      }
    } else {
      for (; e.valid(); e.next()) {
        const int oh = e.at / g.Wo, ow = e.at - oh * g.Wo;
        const int64_t plane = e.n * g.C + c;
        const T grad = dy[plane * plane_out + e.at];
        const T* xp = x + plane * g.H * g.W;
        add_taps(grad, oh * g.stride - g.pad_h, ow * g.stride - g.pad_w,
                 [&](int ih, int iw) { return depthwise_input(xp, g, ih, iw, norm); });
      }
    }
    block_sums<kThreads>(acc, RS - tap0, sums + tap0);
  }
  add_cluster_sums(sums, RS, dw_c);
}

// Launches kernel<<<blocks, threads, shared_bytes, s>>>(args...) in clusters of cluster_blocks
// consecutive blocks (blocks must be a multiple of it).
template <class... Params, class... Args>
void launch_in_clusters(void (*kernel)(Params...), unsigned blocks, int threads,
                        unsigned cluster_blocks, size_t shared_bytes, cudaStream_t s,
                        Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(blocks);
  config.blockDim = dim3(static_cast<unsigned>(threads));
  config.dynamicSmemBytes = shared_bytes;
  config.stream = s;
  cudaLaunchAttribute cluster;
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = cluster_blocks;
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  AN_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...));
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
