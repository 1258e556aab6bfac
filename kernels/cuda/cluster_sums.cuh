// Deterministic sums of a few values over many blocks without float atomics or a partial buffer,
// on sm_90 thread block clusters: each block of a cluster sums its share in registers and
// shared memory; block 0 of the cluster then adds the blocks' sums in rank order, reading them
// through distributed shared memory. The depthwise weight gradients use it (depthwise_conv2d.cu,
// stencil_group.cu): a cluster per (filter, channel), its blocks splitting the batch.
#pragma once
#include <cooperative_groups.h>

#include "kernels/cuda/block_partials.cuh"  // warp_sum
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

// dst[k] += Σ_rank (block `rank`'s sums[k]) for k < count, by block 0 of the cluster, ranks in
// order. Every block of the cluster calls it after writing its own `sums` (shared memory).
template <class T>
__device__ void add_cluster_sums(T* sums, int count, T* dst) {
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every block's sums are in its shared memory
  if (cluster.block_rank() == 0)
    for (int k = threadIdx.x; k < count; k += blockDim.x) {
      T sum = 0;
      for (unsigned rank = 0; rank < cluster.num_blocks(); ++rank)
        sum += cluster.map_shared_rank(sums, rank)[k];
      dst[k] += sum;
    }
  cluster.sync();  // keeps the other blocks' shared memory alive until block 0 has read it
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
