// Per-channel block reductions of batch normalisation, shared by the CUDA twins of batch_norm and
// bn_mixed_sum. One block reduces one whole channel in one pass, accumulating in double like the
// CPU twins: no second kernel to combine partials, no atomics, so results are deterministic.
#pragma once
#include <cub/cub.cuh>

#include "kernels/batch_norm_math.h"
#include "kernels/channel_moments.h"
#include "kernels/plane_walk.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {

constexpr int kChannelThreads = 512;

// x viewed as [N, C, S] (S = H·W, 1 for [N, C]): channel c's j-th value (j = n·S + s < M = N·S)
// sits at (n·C + c)·S + s.
struct ChannelLayout {
  uint32_t C, S, M;
  __device__ int64_t index(uint32_t c, uint32_t j) const {
    const uint32_t n = j / S, s = j - n * S;
    return (int64_t(n) * C + c) * S + s;
  }
  // The value of channel c at sample n, position s.
  __device__ int64_t index(uint32_t c, int64_t n, int s) const { return (n * C + c) * S + s; }
  // This thread's values of a channel in a block-stride loop (j = tid, tid + blockDim.x, …), the
  // same order as j, without a division each.
  __device__ PlaneWalk walk() const {
    return PlaneWalk(0, S > 0 ? M / S : 0, static_cast<int>(S), threadIdx.x, blockDim.x);
  }
};

inline ChannelLayout channel_layout(const Tensor& x, const char* what) {
  AN_CHECK(x.numel() < (int64_t(1) << 31))
      << what << ": the CUDA kernels index with 32 bits; " << x.describe() << " is too large";
  ChannelLayout l;
  l.C = static_cast<uint32_t>(x.size(1));
  l.S = static_cast<uint32_t>(x.dim() == 4 ? x.size(2) * x.size(3) : 1);
  l.M = static_cast<uint32_t>(x.size(0)) * l.S;
  return l;
}

// Sums a and b over the block (kChannelThreads threads); the totals are valid in thread 0. Its
// shared scratch is static: call it once per kernel.
__device__ inline void block_sum(double& a, double& b) {
  using Reduce = cub::BlockReduce<double, kChannelThreads>;
  __shared__ typename Reduce::TempStorage temp;
  a = Reduce(temp).Sum(a);
  __syncthreads();  // temp is reused
  b = Reduce(temp).Sum(b);
}

// Channel c's shifted sums (batch_norm_math.h), valid in thread 0.
template <class T>
__device__ ShiftedMoments block_channel_moments(const T* __restrict__ x, ChannelLayout l,
                                                uint32_t c) {
  ShiftedMoments moments;
  moments.shift = double(x[l.index(c, 0)]);
  for (PlaneWalk e = l.walk(); e.valid(); e.next()) moments.add(double(x[l.index(c, e.n, e.at)]));
  block_sum(moments.sum, moments.squares);
  return moments;
}

// Channel c's moments from its parts [P, C, 3] (kernels/channel_moments.h), valid in thread 0:
// each thread merges parts tid, tid + blockDim.x, ... in order, then the block's partial results
// merge pairwise in a fixed tree (deterministic). Its shared scratch is static: once per kernel.
__device__ inline MomentsPart block_merged_moments(const double* __restrict__ parts, int64_t P,
                                                   uint32_t C, uint32_t c) {
  __shared__ double merged[kChannelThreads][3];  // a MomentsPart each (no constructor in shared)
  const auto at = [&](uint32_t t) { return MomentsPart{merged[t][0], merged[t][1], merged[t][2]}; };
  const auto store = [&](const MomentsPart& v) {
    double* mine = merged[threadIdx.x];
    mine[0] = v.count, mine[1] = v.mean, mine[2] = v.m2;
  };
  MomentsPart mine;
  for (int64_t p = threadIdx.x; p < P; p += blockDim.x) {
    const double* part = parts + (p * C + c) * 3;
    mine = merge_moments(mine, {part[0], part[1], part[2]});
  }
  store(mine);
  __syncthreads();
  for (uint32_t stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) store(merge_moments(at(threadIdx.x), at(threadIdx.x + stride)));
    __syncthreads();
  }
  return at(0);
}

// Channel c's batch moments, valid in thread 0: merged from x's moment parts [P, C, 3] where its
// producer formed them (parts non-null, uniform across the block), else a pass over x.
template <class T>
__device__ ShiftedMoments block_batch_moments(const T* __restrict__ x, const double* parts,
                                              int64_t P, ChannelLayout l, uint32_t c) {
  return parts ? shifted_moments(block_merged_moments(parts, P, l.C, c))
               : block_channel_moments(x, l, c);
}

// A one-launch batch norm's statistics: channel `at` of x (layout l)'s batch statistics in
// training (the running ones updated when tracked), the running ones in eval, written by thread 0
// to save_mean[c] / save_invstd[c]. Every thread of the block calls it; on return all of them see
// the statistics.
template <class T>
__device__ void block_channel_statistics(const T* __restrict__ x, ChannelLayout l, uint32_t at,
                                         uint32_t c, const BatchNormParams& p, T* save_mean,
                                         T* save_invstd, T* running_mean, T* running_var) {
  ShiftedMoments moments;
  if (p.training) moments = block_channel_moments(x, l, at);  // uniform across the grid
  if (threadIdx.x == 0)
    bn_pass_stats(moments, double(l.M), p, running_mean ? running_mean + c : nullptr,
                  running_var ? running_var + c : nullptr, save_mean[c], save_invstd[c]);
  __syncthreads();  // thread 0's statistics, written to global memory, seen by the whole block
}

// Σg and Σg·x̂ over channel c, valid in thread 0; x̂ from what backward keeps (bn_saved_xhat).
// With gradient-sum parts [P, C, 2] (kernels/channel_moments.h; non-null uniform across the
// block) their sums instead: each thread adds parts tid, tid + blockDim.x, ..., then the block.
template <class T>
__device__ void block_channel_grad_sums(const T* __restrict__ saved, const T* __restrict__ g,
                                        T mean, T invstd, bool saved_is_xhat, ChannelLayout l,
                                        uint32_t c, double& sum_g, double& sum_g_xhat,
                                        const double* __restrict__ parts = nullptr,
                                        int64_t P = 0) {
  sum_g = 0, sum_g_xhat = 0;
  if (parts) {
    for (int64_t p = threadIdx.x; p < P; p += blockDim.x) {
      sum_g += parts[(p * l.C + c) * 2];
      sum_g_xhat += parts[(p * l.C + c) * 2 + 1];
    }
  } else {
    for (PlaneWalk e = l.walk(); e.valid(); e.next()) {
      const int64_t i = l.index(c, e.n, e.at);
      const double gi = g[i];
      sum_g += gi;
      sum_g_xhat += gi * double(bn_saved_xhat(saved[i], mean, invstd, saved_is_xhat));
    }
  }
  block_sum(sum_g, sum_g_xhat);
}

// A one-launch batch norm backward's means: channel c's Σg and Σg·x̂ (block_channel_grad_sums),
// added into dbias[c] / dweight[c] where given, as means[0] = mean(g), means[1] = mean(g·x̂) in
// the block's shared memory. Every thread of the block calls it; on return all of them see them.
template <class T>
__device__ void block_channel_grad_means(const T* __restrict__ saved, const T* __restrict__ g,
                                         T mean, T invstd, bool saved_is_xhat, ChannelLayout l,
                                         uint32_t c, T* means, T* dweight = nullptr,
                                         T* dbias = nullptr) {
  double sum_g, sum_g_xhat;
  block_channel_grad_sums(saved, g, mean, invstd, saved_is_xhat, l, c, sum_g, sum_g_xhat);
  if (threadIdx.x == 0) {
    if (dbias) dbias[c] += T(sum_g);
    if (dweight) dweight[c] += T(sum_g_xhat);
    means[0] = T(sum_g / l.M);
    means[1] = T(sum_g_xhat / l.M);
  }
  __syncthreads();
}

}  // namespace autonet::cuda
