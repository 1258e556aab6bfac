// CUDA twin of batch normalisation.
//
// Training statistics in one kernel: a block per channel sums the shifted moments in one pass
// (batch_norm_reduce.cuh), then its thread 0 writes the saved statistics and updates the running
// ones. An elementwise kernel then normalises. Backward likewise: a block per channel forms Σdy
// and Σdy·x̂ (and accumulates dweight/dbias), then an elementwise kernel forms dx. No atomics.
// Narrow channels (batch_norm_in_one_launch: the recurrent cells' BNs) run each pass as one
// kernel: the channel's block goes on from its statistics or sums to the channel's outputs or
// dx, the same formulas on the same values, so the results are the two kernels' bit for bit.
#include <algorithm>

#include "kernels/cuda/batch_norm_reduce.cuh"

namespace autonet::cuda {
namespace {

// Block c: channel c's batch statistics, running statistics updated when tracked.
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    stats_kernel(const T* __restrict__ x, ChannelLayout l, BatchNormParams p, T* save_mean,
                 T* save_invstd, T* running_mean, T* running_var) {
  const uint32_t c = blockIdx.x;
  const ShiftedMoments moments = block_channel_moments(x, l, c);
  if (threadIdx.x != 0) return;
  bn_finish_batch_stats(moments, double(l.M), p, save_mean[c], save_invstd[c],
                        running_mean ? running_mean + c : nullptr,
                        running_var ? running_var + c : nullptr);
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
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
  if (first >= n) return;
  ChannelWalk channel(first, step, C, S);  // c = (i / S) % C by adds
  for (uint32_t i = first; i < n; i += step, channel.next()) {
    const uint32_t c = channel.c;
    y[i] = bn_output(x[i], mean[c], invstd[c], weight ? weight[c] : T(1), bias ? bias[c] : T(0));
  }
}

// Block c: Σdy and Σdy·x̂ over channel c; accumulates dweight/dbias and keeps the means that dx
// needs.
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    grad_sums_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                     const T* __restrict__ mean, const T* __restrict__ invstd, ChannelLayout l,
                     bool from_output, T* dweight, T* dbias, T* mean_dy, T* mean_dy_xhat) {
  const uint32_t c = blockIdx.x;
  double sum_dy, sum_dy_xhat;
  block_channel_grad_sums(x, dy, mean[c], invstd[c], from_output, l, c, sum_dy, sum_dy_xhat);
  if (threadIdx.x != 0) return;
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
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
  if (first >= n) return;
  ChannelWalk channel(first, step, C, S);  // c = (i / S) % C by adds
  for (uint32_t i = first; i < n; i += step, channel.next()) {
    const uint32_t c = channel.c;
    const T w = weight ? weight[c] : T(1);
    dx[i] = mean_dy ? bn_input_grad_train(dy[i], bn_saved_xhat(x[i], mean[c], invstd[c], from_output),
                                          invstd[c], w, mean_dy[c], mean_dy_xhat[c])
                    : bn_input_grad_eval(dy[i], invstd[c], w);
  }
}

// Block c, forward in one launch: channel c's statistics (as stats_kernel, or the running ones
// in eval), then its outputs (as normalize_kernel).
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    channel_forward_kernel(const T* __restrict__ x, ChannelLayout l, BatchNormParams p,
                           const T* __restrict__ weight, const T* __restrict__ bias, T* save_mean,
                           T* save_invstd, T* running_mean, T* running_var, T* y) {
  const uint32_t c = blockIdx.x;
  block_channel_statistics(x, l, c, c, p, save_mean, save_invstd, running_mean, running_var);
  const T mean = save_mean[c], invstd = save_invstd[c];
  const T w = weight ? weight[c] : T(1), b = bias ? bias[c] : T(0);
  for (PlaneWalk e = l.walk(); e.valid(); e.next()) {
    const int64_t i = l.index(c, e.n, e.at);
    y[i] = bn_output(x[i], mean, invstd, w, b);
  }
}

// Block c, backward in one launch: channel c's sums where wanted (as grad_sums_kernel, the means
// kept in shared memory), then its dx where wanted (as input_grad_kernel).
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    channel_backward_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                            const T* __restrict__ mean, const T* __restrict__ invstd,
                            const T* __restrict__ weight, ChannelLayout l, bool sums,
                            bool training, bool from_output, T* dweight, T* dbias, T* dx) {
  const uint32_t c = blockIdx.x;
  __shared__ T means[2];  // mean(dy), mean(dy·x̂)
  if (sums)  // uniform across the grid
    block_channel_grad_means(x, dy, mean[c], invstd[c], from_output, l, c, means, dweight, dbias);
  if (!dx) return;
  const T w = weight ? weight[c] : T(1);
  for (PlaneWalk e = l.walk(); e.valid(); e.next()) {
    const int64_t i = l.index(c, e.n, e.at);
    dx[i] = training ? bn_input_grad_train(dy[i], bn_saved_xhat(x[i], mean[c], invstd[c],
                                                                from_output),
                                           invstd[c], w, means[0], means[1])
                     : bn_input_grad_eval(dy[i], invstd[c], w);
  }
}

unsigned channel_grid(uint32_t channels) { return (channels + 127) / 128; }

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormParams& p) {
  const ChannelLayout l = channel_layout(x, "batch_norm_forward");
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "batch_norm_forward", [&]<class T>() {
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    if (batch_norm_in_one_launch(x)) {
      channel_forward_kernel<<<l.C, kChannelThreads, 0, s>>>(
          x.data<T>(), l, p, data_or_null<T>(weight), data_or_null<T>(bias), psm, psi,
          data_or_null<T>(running_mean), data_or_null<T>(running_var), y.data<T>());
      AN_CUDA_CHECK_LAUNCH();
      return;
    }
    if (p.training) {
      stats_kernel<<<l.C, kChannelThreads, 0, s>>>(x.data<T>(), l, p, psm, psi,
                                                    data_or_null<T>(running_mean),
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
  const ChannelLayout l = channel_layout(x, "batch_norm_backward");
  const bool need_sums = dweight.defined() || dbias.defined() || (dx.defined() && p.training);
  cudaStream_t s = stream(x.device());
  dispatch_float(x.dtype(), "batch_norm_backward", [&]<class T>() {
    const T *pm = save_mean.data<T>(), *pi = save_invstd.data<T>();
    if (batch_norm_in_one_launch(x)) {
      if (!need_sums && !dx.defined()) return;
      channel_backward_kernel<<<l.C, kChannelThreads, 0, s>>>(
          x.data<T>(), dy.data<T>(), pm, pi, data_or_null<T>(weight), l, need_sums, p.training,
          p.backward_from_output, data_or_null<T>(dweight), data_or_null<T>(dbias),
          data_or_null<T>(dx));
      AN_CUDA_CHECK_LAUNCH();
      return;
    }
    // means [2, C]: mean(dy), mean(dy·x̂) per channel (read by dx in training).
    Tensor means;
    const T *mean_dy = nullptr, *mean_dy_xhat = nullptr;
    if (need_sums && l.M > 0) {
      means = Tensor::empty({2, int64_t(l.C)}, x.dtype(), x.device());
      T* m = means.data<T>();
      grad_sums_kernel<<<l.C, kChannelThreads, 0, s>>>(
          x.data<T>(), dy.data<T>(), pm, pi, l, p.backward_from_output, data_or_null<T>(dweight),
          data_or_null<T>(dbias), m, m + l.C);
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
