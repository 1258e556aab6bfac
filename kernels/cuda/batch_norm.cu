// CUDA twin of batch normalisation.
//
// Per-channel statistics are reduced deterministically in two stages: a grid of C × chunks
// blocks, each reducing one contiguous chunk of one channel with CUB block reductions (in the
// tensor's precision; the variance two-pass within the chunk: chunk mean, then Σ(x − mean)²),
// then one thread per channel combining its chunks in a fixed order in double (Chan et al.'s
// parallel variance update). An elementwise kernel then normalises (or forms dx). No atomics.
#include <cub/cub.cuh>

#include <algorithm>

#include "kernels/batch_norm_math.h"
#include "runtime/cuda_context.h"

namespace autonet::cuda {
namespace {

constexpr int kThreads = 256;
constexpr uint32_t kMinPerBlock = 2048;  // elements per chunk, at least: 8 per thread
constexpr uint32_t kTargetBlocks = 1024; // enough blocks to fill an H100 when C is small

// x viewed as [N, C, S] (S = H·W, 1 for [N, C]); channel c's j-th element (j = n·S + s) sits at
// (n·C + c)·S + s. Split per channel into `chunks` chunks of `chunk` elements (the last shorter).
struct Layout {
  uint32_t C, S, M, chunk, chunks;
  __device__ int64_t index(uint32_t c, uint32_t j) const {
    const uint32_t n = j / S, s = j - n * S;
    return (int64_t(n) * C + c) * S + s;
  }
  __host__ __device__ uint32_t chunk_size(uint32_t b) const {
    const uint32_t left = M - b * chunk;
    return chunk < left ? chunk : left;
  }
};

Layout make_layout(const Tensor& x, const char* what) {
  AN_CHECK(x.numel() < (int64_t(1) << 31))
      << what << ": the CUDA kernels index with 32 bits; " << x.describe() << " is too large";
  Layout l;
  l.C = static_cast<uint32_t>(x.size(1));
  l.S = static_cast<uint32_t>(x.dim() == 4 ? x.size(2) * x.size(3) : 1);
  l.M = static_cast<uint32_t>(x.size(0)) * l.S;
  const uint32_t by_size = (l.M + kMinPerBlock - 1) / kMinPerBlock;
  const uint32_t by_fill = (kTargetBlocks + l.C - 1) / l.C;
  const uint32_t want = std::max(1u, std::min(by_size, by_fill));
  l.chunk = std::max(1u, (l.M + want - 1) / want);
  l.chunks = std::max(1u, (l.M + l.chunk - 1) / l.chunk);
  return l;
}

// Block (c, b) = blockIdx.x = c·chunks + b; the chunk's elements are j ∈ [lo, lo + count).
template <class T>
__global__ void __launch_bounds__(kThreads)
    stats_partial_kernel(const T* __restrict__ x, Layout l, T* part_mean, T* part_m2) {
  const uint32_t c = blockIdx.x / l.chunks, b = blockIdx.x % l.chunks;
  const uint32_t lo = b * l.chunk, hi = lo + l.chunk_size(b);
  using Reduce = cub::BlockReduce<T, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  __shared__ T chunk_mean;

  T sum = 0;
  for (uint32_t j = lo + threadIdx.x; j < hi; j += kThreads) sum += x[l.index(c, j)];
  const T total = Reduce(temp).Sum(sum);
  if (threadIdx.x == 0) chunk_mean = total / T(hi - lo);
  __syncthreads();  // publishes chunk_mean and frees temp for the second reduction
  const T mean = chunk_mean;

  T squares = 0;  // second pass over the chunk (from L1/L2): Σ (x − chunk mean)²
  for (uint32_t j = lo + threadIdx.x; j < hi; j += kThreads) {
    const T dev = x[l.index(c, j)] - mean;
    squares += dev * dev;
  }
  const T m2 = Reduce(temp).Sum(squares);
  if (threadIdx.x == 0) {
    part_mean[blockIdx.x] = mean;
    part_m2[blockIdx.x] = m2;
  }
}

// One thread per channel: combine the chunks in order, write the saved statistics and update the
// running ones (when tracked).
template <class T>
__global__ void stats_finalize_kernel(const T* part_mean, const T* part_m2, Layout l,
                                      double momentum, double eps, T* save_mean, T* save_invstd,
                                      T* running_mean, T* running_var) {
  const uint32_t c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= l.C) return;
  double count = 0, mean = 0, m2 = 0;
  for (uint32_t b = 0; b < l.chunks; ++b) {
    const double nb = l.chunk_size(b), total = count + nb;
    const double delta = double(part_mean[c * l.chunks + b]) - mean;
    mean += delta * nb / total;
    m2 += double(part_m2[c * l.chunks + b]) + delta * delta * count * nb / total;
    count = total;
  }
  save_mean[c] = T(mean);
  save_invstd[c] = T(bn_invstd(m2 / l.M, eps));
  if (running_mean) {
    running_mean[c] = T(bn_running_update(running_mean[c], mean, momentum));
    running_var[c] = T(bn_running_update(running_var[c], m2 / (l.M - 1.0), momentum));
  }
}

template <class T>
__global__ void eval_stats_kernel(const T* running_mean, const T* running_var, uint32_t channels,
                                  double eps, T* save_mean, T* save_invstd) {
  const uint32_t c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  save_mean[c] = running_mean[c];
  save_invstd[c] = T(bn_invstd(running_var[c], eps));
}

template <class T>
__global__ void normalize_kernel(const T* __restrict__ x, const T* __restrict__ mean,
                                 const T* __restrict__ invstd, const T* __restrict__ weight,
                                 const T* __restrict__ bias, uint32_t C, uint32_t S, uint32_t n,
                                 T* y) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const uint32_t c = (i / S) % C;
    y[i] = bn_output(x[i], mean[c], invstd[c], weight ? weight[c] : T(1), bias ? bias[c] : T(0));
  }
}

// Per chunk: Σ dy and Σ dy·x̂.
template <class T>
__global__ void __launch_bounds__(kThreads)
    grad_partial_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                        const T* __restrict__ mean, const T* __restrict__ invstd, Layout l,
                        bool from_output, T* part_dy, T* part_dy_xhat) {
  const uint32_t c = blockIdx.x / l.chunks, b = blockIdx.x % l.chunks;
  const uint32_t lo = b * l.chunk, hi = lo + l.chunk_size(b);
  const T mu = mean[c], is = invstd[c];
  T sum_dy = 0, sum_dy_xhat = 0;
  for (uint32_t j = lo + threadIdx.x; j < hi; j += kThreads) {
    const int64_t i = l.index(c, j);
    const T g = dy[i];
    sum_dy += g;
    sum_dy_xhat += g * bn_saved_xhat(x[i], mu, is, from_output);
  }
  using Reduce = cub::BlockReduce<T, kThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const T total_dy = Reduce(temp).Sum(sum_dy);
  __syncthreads();  // temp is reused
  const T total_dy_xhat = Reduce(temp).Sum(sum_dy_xhat);
  if (threadIdx.x == 0) {
    part_dy[blockIdx.x] = total_dy;
    part_dy_xhat[blockIdx.x] = total_dy_xhat;
  }
}

// One thread per channel: sum the chunks in order; accumulate dweight/dbias; keep the means that
// dx needs.
template <class T>
__global__ void grad_finalize_kernel(const T* part_dy, const T* part_dy_xhat, Layout l,
                                     T* dweight, T* dbias, T* mean_dy, T* mean_dy_xhat) {
  const uint32_t c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= l.C) return;
  double sum_dy = 0, sum_dy_xhat = 0;
  for (uint32_t b = 0; b < l.chunks; ++b) {
    sum_dy += part_dy[c * l.chunks + b];
    sum_dy_xhat += part_dy_xhat[c * l.chunks + b];
  }
  if (dbias) dbias[c] += T(sum_dy);
  if (dweight) dweight[c] += T(sum_dy_xhat);
  mean_dy[c] = T(sum_dy / l.M);
  mean_dy_xhat[c] = T(sum_dy_xhat / l.M);
}

// mean_dy == nullptr: eval mode, the statistics are constants.
template <class T>
__global__ void input_grad_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                  const T* __restrict__ mean, const T* __restrict__ invstd,
                                  const T* __restrict__ weight, const T* __restrict__ mean_dy,
                                  const T* __restrict__ mean_dy_xhat, uint32_t C, uint32_t S,
                                  uint32_t n, bool from_output, T* dx) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const uint32_t c = (i / S) % C;
    const T w = weight ? weight[c] : T(1);
    dx[i] = mean_dy ? bn_input_grad_train(dy[i], bn_saved_xhat(x[i], mean[c], invstd[c], from_output),
                                          invstd[c], w, mean_dy[c], mean_dy_xhat[c])
                    : bn_input_grad_eval(dy[i], invstd[c], w);
  }
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* data_or_null(Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

unsigned channel_grid(uint32_t channels) { return (channels + 127) / 128; }

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p) {
  const Layout l = make_layout(x, "batch_norm_forward");
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "batch_norm_forward", [&]<class T>() {
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    if (p.training) {
      // part [2, C·chunks]: chunk means, then chunk Σ(x − mean)².
      Tensor part = Tensor::empty({2, int64_t(l.C) * l.chunks}, x.dtype(), x.device());
      T* part_mean = part.data<T>();
      T* part_m2 = part_mean + int64_t(l.C) * l.chunks;
      stats_partial_kernel<<<l.C * l.chunks, kThreads, 0, s>>>(x.data<T>(), l, part_mean, part_m2);
      AN_CUDA_CHECK_LAUNCH();
      stats_finalize_kernel<<<channel_grid(l.C), 128, 0, s>>>(
          part_mean, part_m2, l, p.momentum, p.eps, psm, psi, data_or_null<T>(running_mean),
          data_or_null<T>(running_var));
      AN_CUDA_CHECK_LAUNCH();
    } else {
      eval_stats_kernel<<<channel_grid(l.C), 128, 0, s>>>(running_mean.data<T>(),
                                                          running_var.data<T>(), l.C, p.eps, psm,
                                                          psi);
      AN_CUDA_CHECK_LAUNCH();
    }
    const uint32_t n = static_cast<uint32_t>(x.numel());
    if (n == 0) return;
    normalize_kernel<<<grid_for(n), 256, 0, s>>>(x.data<T>(), psm, psi, data_or_null<T>(weight),
                                                  data_or_null<T>(bias), l.C, l.S, n,
                                                  y.data<T>());
    AN_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dweight,
                         Tensor& dbias, const BatchNormParams& p) {
  const Layout l = make_layout(x, "batch_norm_backward");
  const bool need_sums = dweight.defined() || dbias.defined() || (dx.defined() && p.training);
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "batch_norm_backward", [&]<class T>() {
    const T *pm = save_mean.data<T>(), *pi = save_invstd.data<T>();
    // means [2, C]: mean(dy), mean(dy·x̂) per channel (read by dx in training).
    Tensor means;
    const T *mean_dy = nullptr, *mean_dy_xhat = nullptr;
    if (need_sums && l.M > 0) {
      Tensor part = Tensor::empty({2, int64_t(l.C) * l.chunks}, x.dtype(), x.device());
      means = Tensor::empty({2, int64_t(l.C)}, x.dtype(), x.device());
      T* part_dy = part.data<T>();
      T* part_dy_xhat = part_dy + int64_t(l.C) * l.chunks;
      grad_partial_kernel<<<l.C * l.chunks, kThreads, 0, s>>>(
          x.data<T>(), dy.data<T>(), pm, pi, l, p.backward_from_output, part_dy, part_dy_xhat);
      AN_CUDA_CHECK_LAUNCH();
      T* m = means.data<T>();
      grad_finalize_kernel<<<channel_grid(l.C), 128, 0, s>>>(
          part_dy, part_dy_xhat, l, data_or_null<T>(dweight), data_or_null<T>(dbias), m, m + l.C);
      AN_CUDA_CHECK_LAUNCH();
      if (p.training) mean_dy = m, mean_dy_xhat = m + l.C;
    }
    const uint32_t n = static_cast<uint32_t>(x.numel());
    if (!dx.defined() || n == 0) return;
    input_grad_kernel<<<grid_for(n), 256, 0, s>>>(x.data<T>(), dy.data<T>(), pm, pi,
                                                   data_or_null<T>(weight), mean_dy, mean_dy_xhat,
                                                   l.C, l.S, n, p.backward_from_output,
                                                   dx.data<T>());
    AN_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace autonet::cuda
