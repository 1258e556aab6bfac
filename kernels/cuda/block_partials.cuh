// Deterministic parameter-gradient sums without float atomics (the α side of the mixed op and of
// the RNN cell): each block of a grid-stride pass writes its share of a few sums to a partials
// buffer [rows, blocks], and a second kernel adds each row's partials in a fixed order. With a
// grid fixed by the problem size alone, the result does not depend on the card.
#pragma once
#include <cub/cub.cuh>

#include <cstdint>

namespace autonet::cuda {

// Sum over the 32 lanes of a warp, in lane 0.
template <class T>
__device__ T warp_sum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sums each thread's dot[k] (k < count) over the block — warps first, then the warps in order —
// into partials[(row0 + k)·gridDim.x + blockIdx.x]. Every thread of the block calls it.
template <int kThreads, class T, int K>
__device__ void write_block_partials(const T (&dot)[K], int count, T* partials, int64_t row0) {
  constexpr int kWarps = kThreads / 32;
  __shared__ T warp_dots[K][kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    if (k >= count) continue;
    const T v = warp_sum(dot[k]);
    if (lane == 0) warp_dots[k][warp] = v;
  }
  __syncthreads();
  if (threadIdx.x < count) {
    T total = 0;
    for (int q = 0; q < kWarps; ++q) total += warp_dots[threadIdx.x][q];
    partials[(row0 + threadIdx.x) * int64_t(gridDim.x) + blockIdx.x] = total;
  }
}

// One block per row: out[row] += Σ_b partials[row·blocks + b], reduced in a fixed order.
template <int kThreads, class T>
__global__ void __launch_bounds__(kThreads)
    add_partials_kernel(const T* __restrict__ partials, int blocks, T* out) {
  const int64_t row = blockIdx.x;
  T acc = 0;
  for (int b = threadIdx.x; b < blocks; b += kThreads) acc += partials[row * blocks + b];
  using Reduce = cub::BlockReduce<T, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const T total = Reduce(temp).Sum(acc);
  if (threadIdx.x == 0) out[row] += total;
}

}  // namespace autonet::cuda
