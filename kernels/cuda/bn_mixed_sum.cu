// CUDA twin of the fused batch-norm mixed sum. Forward: one kernel with a block per (candidate,
// channel) forms the statistics (one pass, batch_norm_reduce.cuh), one elementwise kernel
// normalises every candidate and sums. Backward: one kernel with a block per (candidate, channel)
// forms Σdout and Σdout·v_k, one elementwise kernel writes (or adds into) every dx_k while its
// block 0 folds the per-channel dot products into dw in a fixed order. Deterministic, no atomics.
#include "kernels/bn_mixed_sum.h"
#include "kernels/cuda/add_unfused.cuh"
#include "kernels/cuda/batch_norm_reduce.cuh"

namespace autonet::cuda {
namespace {

// The candidates by value (kernel parameter space): no device-side pointer table.
template <class T>
struct Candidates {
  const T* x[kMaxFoldedCandidates];
  T* running_mean[kMaxFoldedCandidates];  // null: untracked, or not normalised
  T* running_var[kMaxFoldedCandidates];
  T* dx[kMaxFoldedCandidates];            // null: gradient not wanted
  bool accumulate[kMaxFoldedCandidates];  // dx[k] += the gradient (else dx[k] = it)
  bool normalize[kMaxFoldedCandidates];
  bool summed[kMaxFoldedCandidates];      // backward: Σdout, Σdout·v_k wanted
  const double* moments[kMaxFoldedCandidates];  // forward: x's moment parts (null: read x)
  int64_t parts;
  int count;
};

// Block k·C + c: candidate k's statistics of channel c, into save_mean/save_invstd [K, C].
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    stats_kernel(Candidates<T> cand, ChannelLayout l, BatchNormParams p, T* save_mean,
                 T* save_invstd) {
  const uint32_t k = blockIdx.x / l.C, c = blockIdx.x % l.C;
  if (!cand.normalize[k]) {  // v_k = (x_k − 0)·1 = x_k exactly
    if (threadIdx.x == 0) save_mean[blockIdx.x] = T(0), save_invstd[blockIdx.x] = T(1);
    return;
  }
  T* running_mean = cand.running_mean[k];
  T* running_var = cand.running_var[k];
  if (!p.training) {
    if (threadIdx.x == 0) {
      save_mean[blockIdx.x] = running_mean[c];
      save_invstd[blockIdx.x] = T(bn_invstd(running_var[c], p.eps));
    }
    return;
  }
  const ShiftedMoments moments =
      block_batch_moments(cand.x[k], cand.moments[k], cand.parts, l, c);
  if (threadIdx.x != 0) return;
  bn_finish_batch_stats(moments, double(l.M), p, save_mean[blockIdx.x], save_invstd[blockIdx.x],
                        running_mean ? running_mean + c : nullptr,
                        running_var ? running_var + c : nullptr);
}

// Loops over k run to the compile-time bound and test k < count, so they unroll.
template <class T>
__global__ void apply_kernel(Candidates<T> cand, const T* __restrict__ w,
                             const T* __restrict__ mean, const T* __restrict__ invstd,
                             ChannelLayout l, uint32_t n, T* out) {
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
  if (first >= n) return;
  ChannelWalk channel(first, step, l.C, l.S);  // c = (i / S) % C by adds
  for (uint32_t i = first; i < n; i += step, channel.next()) {
    const uint32_t c = channel.c;
    T acc = 0;
#pragma unroll
    for (int k = 0; k < kMaxFoldedCandidates; ++k)
      if (k < cand.count) acc += w[k] * bn_xhat(cand.x[k][i], mean[k * l.C + c], invstd[k * l.C + c]);
    out[i] = acc;
  }
}

// Block k·C + c: Σdout and Σdout·v_k over channel c into sums [2, K, C] (when wanted), and their
// means over the channel's values into means [2, K, C] (what dx reads: each found once here, not
// divided again for every element).
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    grad_sums_kernel(Candidates<T> cand, const T* __restrict__ dout, const T* __restrict__ mean,
                     const T* __restrict__ invstd, ChannelLayout l, double* sums, T* means) {
  const uint32_t k = blockIdx.x / l.C, c = blockIdx.x % l.C;
  if (!cand.summed[k]) return;
  double sum_g, sum_gv;
  block_channel_grad_sums(cand.x[k], dout, mean[blockIdx.x], invstd[blockIdx.x], false, l, c,
                          sum_g, sum_gv);
  if (threadIdx.x != 0) return;
  sums[blockIdx.x] = sum_g;
  sums[gridDim.x + blockIdx.x] = sum_gv;
  means[blockIdx.x] = T(sum_g / l.M);
  means[gridDim.x + blockIdx.x] = T(sum_gv / l.M);
}

// Every dx_k, written or added; block 0's first K threads also add dw[k] += Σ_c Σdout·v_k (sums
// given: training BN gradients and/or dw).
template <class T>
__global__ void input_grad_kernel(Candidates<T> cand, const T* __restrict__ w,
                                  const T* __restrict__ dout, const T* __restrict__ mean,
                                  const T* __restrict__ invstd, const double* __restrict__ sums,
                                  const T* __restrict__ means, ChannelLayout l, uint32_t n,
                                  bool training, T* dweights) {
  const uint32_t kc_count = uint32_t(cand.count) * l.C;
  if (dweights && blockIdx.x == 0 && threadIdx.x < cand.count) {
    double dot = 0;
    for (uint32_t c = 0; c < l.C; ++c) dot += sums[kc_count + threadIdx.x * l.C + c];
    dweights[threadIdx.x] += T(dot);
  }
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
  if (first >= n) return;
  ChannelWalk channel(first, step, l.C, l.S);  // c = (i / S) % C by adds
  for (uint32_t i = first; i < n; i += step, channel.next()) {
    const uint32_t c = channel.c;
    const T g = dout[i];
#pragma unroll
    for (int k = 0; k < kMaxFoldedCandidates; ++k) {
      if (k >= cand.count || !cand.dx[k]) continue;
      const uint32_t kc = k * l.C + c;
      T dx;
      if (training && cand.normalize[k]) {
        const T v = bn_xhat(cand.x[k][i], mean[kc], invstd[kc]);
        dx = bn_input_grad_train(g, v, invstd[kc], w[k], means[kc], means[kc_count + kc]);
      } else {
        dx = bn_input_grad_eval(g, invstd[kc], w[k]);
      }
      cand.dx[k][i] = cand.accumulate[k] ? add_unfused(cand.dx[k][i], dx) : dx;
    }
  }
}

}  // namespace

void bn_mixed_sum_forward(const Tensor& weights, const std::vector<Tensor>& xs,
                          std::vector<Tensor>& running_means, std::vector<Tensor>& running_vars,
                          Tensor& out, Tensor& save_mean, Tensor& save_invstd,
                          const BnMixedSumParams& p, const std::vector<Tensor>& moments) {
  const ChannelLayout l = channel_layout(xs[0], "bn_mixed_sum_forward");
  const int k_count = static_cast<int>(xs.size());
  cudaStream_t s = stream(weights.device());
  dispatch_float(weights.dtype(), "bn_mixed_sum_forward", [&]<class T>() {
    Candidates<T> cand{};
    cand.count = k_count;
    for (int k = 0; k < k_count; ++k) {
      cand.x[k] = xs[k].data<T>();
      cand.running_mean[k] = data_or_null<T>(running_means[k]);
      cand.running_var[k] = data_or_null<T>(running_vars[k]);
      cand.normalize[k] = p.normalize[k];
      if (has_parts(moments, size_t(k))) {
        cand.moments[k] = moments[k].data<double>();
        cand.parts = moments[k].size(0);
      }
    }
    T *psm = save_mean.data<T>(), *psi = save_invstd.data<T>();
    stats_kernel<<<k_count * l.C, kChannelThreads, 0, s>>>(cand, l, p.bn, psm, psi);
    AN_CUDA_CHECK_LAUNCH();
    const uint32_t n = static_cast<uint32_t>(out.numel());
    if (n == 0) return;
    apply_kernel<<<grid_for(n), 256, 0, s>>>(cand, weights.data<T>(), psm, psi, l, n,
                                             out.data<T>());
    AN_CUDA_CHECK_LAUNCH();
  });
}

void bn_mixed_sum_backward(const Tensor& weights, const std::vector<Tensor>& xs,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dout,
                           std::vector<Tensor>& dxs, Tensor& dweights, const BnMixedSumParams& p,
                           const std::vector<GradMode>& dx_modes) {
  const ChannelLayout l = channel_layout(xs[0], "bn_mixed_sum_backward");
  const uint32_t n = static_cast<uint32_t>(dout.numel());
  if (n == 0) return;
  const int k_count = static_cast<int>(xs.size());
  cudaStream_t s = stream(weights.device());
  dispatch_float(weights.dtype(), "bn_mixed_sum_backward", [&]<class T>() {
    Candidates<T> cand{};
    cand.count = k_count;
    bool any_summed = false, any_dx = false;
    for (int k = 0; k < k_count; ++k) {
      cand.x[k] = xs[k].data<T>();
      cand.dx[k] = data_or_null<T>(dxs[k]);
      cand.accumulate[k] = dx_modes[k] == GradMode::Accumulate;
      cand.normalize[k] = p.normalize[k];
      cand.summed[k] =
          dweights.defined() || (p.bn.training && p.normalize[k] && dxs[k].defined());
      any_summed = any_summed || cand.summed[k];
      any_dx = any_dx || dxs[k].defined();
    }
    const T *pm = save_mean.data<T>(), *pi = save_invstd.data<T>();
    // sums [2, K, C] in double: Σdout, then Σdout·v_k; means [2, K, C]: theirs over a channel.
    Tensor sums, means;
    if (any_summed) {
      sums = Tensor::empty({2, int64_t(k_count) * l.C}, DType::f64, weights.device());
      means = Tensor::empty({2, int64_t(k_count) * l.C}, weights.dtype(), weights.device());
      grad_sums_kernel<<<k_count * l.C, kChannelThreads, 0, s>>>(
          cand, dout.data<T>(), pm, pi, l, sums.data<double>(), means.data<T>());
      AN_CUDA_CHECK_LAUNCH();
    }
    if (!any_dx && !dweights.defined()) return;
    input_grad_kernel<<<any_dx ? grid_for(n) : 1, 256, 0, s>>>(
        cand, weights.data<T>(), dout.data<T>(), pm, pi,
        sums.defined() ? sums.data<double>() : nullptr, means.defined() ? means.data<T>() : nullptr,
        l, any_dx ? n : 0, p.bn.training, data_or_null<T>(dweights));
    AN_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace autonet::cuda
