// CUDA twin of the mixed-op weighted sum. Forward reads all K candidates in one pass. Backward
// writes every dy_k in the same pass that forms per-block partial dot products <dout, y_k>; a
// second tiny kernel sums the partials in a fixed order (deterministic, no float atomics).
#include <cub/cub.cuh>

#include <algorithm>

#include "kernels/mixed_sum.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kMaxPartialBlocks = 1024;  // bounds the partial buffer [K, blocks]

// Candidate pointers passed by value (kernel parameter space): no device-side pointer table.
template <class T>
struct Inputs {
  const T* y[kMaxMixedInputs];
};
template <class T>
struct Grads {
  T* dy[kMaxMixedInputs];  // null: gradient not wanted
};

// Loops over k run to the compile-time bound and test k < K, so the compiler unrolls them and
// keeps the per-k weights and sums in registers.
template <class T>
__global__ void forward_kernel(const T* __restrict__ w, Inputs<T> ys, int k_count, T* out,
                               int64_t n) {
  T wk[kMaxMixedInputs];
#pragma unroll
  for (int k = 0; k < kMaxMixedInputs; ++k) wk[k] = k < k_count ? w[k] : T(0);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    T acc = 0;
#pragma unroll
    for (int k = 0; k < kMaxMixedInputs; ++k)
      if (k < k_count) acc += wk[k] * ys.y[k][i];
    out[i] = acc;
  }
}

template <class T>
__device__ T warp_sum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// dy_k = w[k]·dout; partials[k·gridDim.x + block] = this block's share of <dout, y_k> (when
// partials is non-null).
template <class T>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(const T* __restrict__ w, Inputs<T> ys, Grads<T> dys, int k_count,
                    const T* __restrict__ dout, int64_t n, T* partials) {
  T wk[kMaxMixedInputs], dot[kMaxMixedInputs];
#pragma unroll
  for (int k = 0; k < kMaxMixedInputs; ++k) {
    wk[k] = k < k_count ? w[k] : T(0);
    dot[k] = 0;
  }
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T g = dout[i];
#pragma unroll
    for (int k = 0; k < kMaxMixedInputs; ++k) {
      if (k >= k_count) continue;
      if (dys.dy[k]) dys.dy[k][i] = wk[k] * g;
      if (partials) dot[k] += g * ys.y[k][i];
    }
  }
  if (!partials) return;
  __shared__ T warp_dots[kMaxMixedInputs][kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int k = 0; k < kMaxMixedInputs; ++k) {
    if (k >= k_count) continue;
    const T v = warp_sum(dot[k]);
    if (lane == 0) warp_dots[k][warp] = v;
  }
  __syncthreads();
  if (threadIdx.x < k_count) {
    T total = 0;
    for (int j = 0; j < kWarps; ++j) total += warp_dots[threadIdx.x][j];
    partials[threadIdx.x * int64_t(gridDim.x) + blockIdx.x] = total;
  }
}

// One block per k: dweights[k] += Σ_b partials[k, b], reduced in a fixed order.
template <class T>
__global__ void __launch_bounds__(kThreads)
    sum_partials_kernel(const T* __restrict__ partials, int blocks, T* dweights) {
  const int k = blockIdx.x;
  T acc = 0;
  for (int b = threadIdx.x; b < blocks; b += kThreads) acc += partials[k * int64_t(blocks) + b];
  using Reduce = cub::BlockReduce<T, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const T total = Reduce(temp).Sum(acc);
  if (threadIdx.x == 0) dweights[k] += total;
}

}  // namespace

void mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& ys, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  cudaStream_t s = stream(weights.device());
  dispatch_float(weights.dtype(), "mixed_sum_forward", [&]<class scalar_t>() {
    Inputs<scalar_t> in{};
    for (size_t k = 0; k < ys.size(); ++k) in.y[k] = ys[k].data<scalar_t>();
    forward_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(
        weights.data<scalar_t>(), in, static_cast<int>(ys.size()), out.data<scalar_t>(), n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& ys, const Tensor& dout,
                        std::vector<Tensor>& dys, Tensor& dweights) {
  const int64_t n = dout.numel();
  if (n == 0) return;
  const int k_count = static_cast<int>(ys.size());
  cudaStream_t s = stream(weights.device());
  // A grid fixed by n alone: the partials, and so the result, do not depend on the card.
  const unsigned blocks = std::min(grid_for(n, kThreads), kMaxPartialBlocks);
  dispatch_float(weights.dtype(), "mixed_sum_backward", [&]<class scalar_t>() {
    Inputs<scalar_t> in{};
    Grads<scalar_t> grads{};
    for (int k = 0; k < k_count; ++k) {
      in.y[k] = ys[k].data<scalar_t>();
      grads.dy[k] = dys[k].defined() ? dys[k].data<scalar_t>() : nullptr;
    }
    Tensor partials;
    if (dweights.defined())
      partials = Tensor::empty({k_count, static_cast<int64_t>(blocks)}, weights.dtype(),
                               weights.device());
    scalar_t* pp = partials.defined() ? partials.data<scalar_t>() : nullptr;
    backward_kernel<<<blocks, kThreads, 0, s>>>(weights.data<scalar_t>(), in, grads, k_count,
                                                dout.data<scalar_t>(), n, pp);
    AN_CUDA_CHECK_LAUNCH();
    if (pp) {
      sum_partials_kernel<<<k_count, kThreads, 0, s>>>(pp, static_cast<int>(blocks),
                                                       dweights.data<scalar_t>());
      AN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace autonet::cuda
