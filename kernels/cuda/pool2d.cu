// CUDA twin of the pool2d family. Pooling is bandwidth-bound: one thread per output (forward) or
// per input (backward, a gather over the windows that cover it, so there are no atomics and the
// sums run in the same order as the CPU's scatter). Max backward rescans each covering window
// from x (≤ 9 windows of 9 for DARTS' 3×3, served by the cache) instead of a separate arg-max
// pass: one launch and no index buffer.
#include "kernels/pool2d_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void pool2d_forward_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeometry g,
                                      int64_t n_out) {
  const int64_t plane_out = int64_t(g.Ho) * g.Wo;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_out;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = i / plane_out;
    const int o = static_cast<int>(i - plane * plane_out);
    const int oh = o / g.Wo, ow = o - oh * g.Wo;
    const T* xp = x + plane * g.H * g.W;
    const PoolWindow win = pool_window(g, oh, ow);
    if (g.is_max) {
      y[i] = xp[pool_argmax(xp, g, win)];
    } else {
      T sum = 0;
      for (int h = win.h0; h < win.h1; ++h)
        for (int w = win.w0; w < win.w1; ++w) sum += xp[h * g.W + w];
      y[i] = sum / static_cast<T>(pool_avg_divisor(g, oh, ow, win));
    }
  }
}

// Backward, one thread per input element: sums dy over the outputs whose window covers it (max:
// only those whose arg-max, recomputed from x, it is), in ascending (oh, ow) order like the CPU
// scatter; then writes the sum or adds it to dx.
template <class T>
__global__ void pool2d_backward_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                       T* __restrict__ dx, PoolGeometry g, int64_t n_in,
                                       bool accumulate) {
  const int64_t plane_in = int64_t(g.H) * g.W, plane_out = int64_t(g.Ho) * g.Wo;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_in;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = i / plane_in;
    const int at = static_cast<int>(i - plane * plane_in);
    const int h = at / g.W, w = at - h * g.W;
    const PoolCovering covering(g, h, w);
    const T* xp = x + plane * plane_in;
    const T* dyp = dy + plane * plane_out;
    T sum = 0;
    for (int oh = covering.oh0; oh < covering.oh1; ++oh)
      for (int ow = covering.ow0; ow < covering.ow1; ++ow) {
        const int o = oh * g.Wo + ow;
        const PoolWindow win = pool_window(g, oh, ow);
        if (g.is_max) {
          if (pool_argmax(xp, g, win) == at) sum += dyp[o];
        } else {
          sum += dyp[o] / static_cast<T>(pool_avg_divisor(g, oh, ow, win));
        }
      }
    dx[i] = accumulate ? dx[i] + sum : sum;
  }
}

// One warp per (n, c) row of H·W elements.
template <class T>
__global__ void global_avg_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y,
                                               int64_t planes, int64_t hw) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t plane = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32; plane < planes;
       plane += warps) {
    const T* row = x + plane * hw;
    T sum = 0;
    for (int64_t i = lane; i < hw; i += 32) sum += row[i];
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) y[plane] = sum / static_cast<T>(hw);
  }
}

template <class T>
__global__ void global_avg_pool_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx,
                                                int64_t hw, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = dy[i / hw] / static_cast<T>(hw);
}

}  // namespace

void pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const PoolGeometry g = pool_geometry(p, x.shape(), y.shape());
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "pool2d_forward", [&]<class scalar_t>() {
    pool2d_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(x.data<scalar_t>(),
                                                                 y.data<scalar_t>(), g, n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, const Pool2dParams& p,
                     GradMode mode) {
  const int64_t n_in = dx.numel();
  if (n_in == 0) return;
  const PoolGeometry g = pool_geometry(p, x.shape(), dy.shape());
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "pool2d_backward", [&]<class scalar_t>() {
    pool2d_backward_kernel<<<grid_for(n_in, kBlock), kBlock, 0, s>>>(
        x.data<scalar_t>(), dy.data<scalar_t>(), dx.data<scalar_t>(), g, n_in,
        mode == GradMode::Accumulate);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const int64_t planes = y.numel(), hw = x.size(2) * x.size(3);
  if (planes == 0) return;
  cudaStream_t s = stream(x.device());
  const int64_t warps_per_block = kBlock / 32;
  const unsigned blocks = grid_for(planes, static_cast<int>(warps_per_block));
  dispatch_float(x.dtype(), "global_avg_pool_forward", [&]<class scalar_t>() {
    global_avg_pool_forward_kernel<<<blocks, kBlock, 0, s>>>(x.data<scalar_t>(),
                                                             y.data<scalar_t>(), planes, hw);
  });
  AN_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx) {
  const int64_t n = dx.numel(), hw = dx.size(2) * dx.size(3);
  if (n == 0) return;
  cudaStream_t s = stream(dx.device());
  dispatch_float(dx.dtype(), "global_avg_pool_backward", [&]<class scalar_t>() {
    global_avg_pool_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(
        dy.data<scalar_t>(), dx.data<scalar_t>(), hw, n);
  });
  AN_CUDA_CHECK_LAUNCH();
}

}  // namespace autonet::cuda
