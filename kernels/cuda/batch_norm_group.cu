// CUDA twin of the batch-norm group: the single op's kernels (batch_norm.cu) with the member
// picked by the grid, every member's pointers passed by value in the kernel parameters (no
// device-side table). Two launches each way for the whole group:
//  - forward: a block per (member, channel) forms the statistics in one pass
//    (batch_norm_reduce.cuh) and updates the running ones (eval: a thread per (member, channel)
//    reads them instead); then one elementwise kernel, blockIdx.y the member, normalises (none
//    when no member wants its output: the statistics alone);
//  - backward: a block per (member, channel) forms Σdy and Σdy·x̂ into the means dx needs
//    (training only; from the member's gradient-sum parts where given), then one elementwise
//    kernel writes every wanted dx.
// Deterministic: block reductions in a fixed order, no atomics.
#include "kernels/batch_norm_group.h"
#include "kernels/cuda/batch_norm_reduce.cuh"

namespace autonet::cuda {
namespace {

template <class T>
struct Members {
  const T* x[kMaxGroupMembers];       // forward input, or what backward keeps (x or y)
  T* y[kMaxGroupMembers];             // forward output
  T* running_mean[kMaxGroupMembers];  // null: untracked
  T* running_var[kMaxGroupMembers];
  T* mean[kMaxGroupMembers];    // save_mean [C]: written forward, read backward
  T* invstd[kMaxGroupMembers];  // save_invstd [C]
  const T* dy[kMaxGroupMembers];
  T* dx[kMaxGroupMembers];  // null: no gradient wanted
  const double* moments[kMaxGroupMembers];    // forward: x's moment parts (null: read x)
  const double* grad_sums[kMaxGroupMembers];  // backward: dy's gradient-sum parts (null: read)
  int64_t parts;  // parts per channel of either
  int count;
};

// Block k·C + c: member k's batch statistics of channel c, running statistics updated when
// tracked.
// A member with moment parts merges them instead (the same statistics up to rounding in double).
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    stats_kernel(Members<T> m, ChannelLayout l, BatchNormParams p) {
  const uint32_t k = blockIdx.x / l.C, c = blockIdx.x % l.C;
  const ShiftedMoments moments = block_batch_moments(m.x[k], m.moments[k], m.parts, l, c);
  if (threadIdx.x != 0) return;
  bn_finish_batch_stats(moments, double(l.M), p, m.mean[k][c], m.invstd[k][c],
                        m.running_mean[k] ? m.running_mean[k] + c : nullptr,
                        m.running_var[k] ? m.running_var[k] + c : nullptr);
}

// Thread k·C + c: member k's running statistics of channel c.
template <class T>
__global__ void eval_stats_kernel(Members<T> m, uint32_t channels, double eps) {
  const uint32_t kc = blockIdx.x * blockDim.x + threadIdx.x;
  if (kc >= uint32_t(m.count) * channels) return;
  const uint32_t k = kc / channels, c = kc % channels;
  m.mean[k][c] = m.running_mean[k][c];
  m.invstd[k][c] = T(bn_invstd(m.running_var[k][c], eps));
}

// blockIdx.y = member k: y_k = x̂_k (no y: the member's statistics were all it wanted).
template <class T>
__global__ void normalize_kernel(Members<T> m, uint32_t C, uint32_t S, uint32_t n) {
  const uint32_t k = blockIdx.y;
  const T* __restrict__ x = m.x[k];
  const T *__restrict__ mean = m.mean[k], *__restrict__ invstd = m.invstd[k];
  T* y = m.y[k];
  if (!y) return;
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
  if (first >= n) return;
  ChannelWalk channel(first, step, C, S);  // c = (i / S) % C by adds
  for (uint32_t i = first; i < n; i += step, channel.next()) {
    const uint32_t c = channel.c;
    y[i] = bn_output(x[i], mean[c], invstd[c], T(1), T(0));
  }
}

// Block k·C + c (members with a dx only): Σdy and Σdy·x̂ over channel c into
// means[k][0][c] = mean(dy), means[k][1][c] = mean(dy·x̂).
template <class T>
__global__ void __launch_bounds__(kChannelThreads)
    grad_sums_kernel(Members<T> m, ChannelLayout l, bool from_output, T* means) {
  const uint32_t k = blockIdx.x / l.C, c = blockIdx.x % l.C;
  if (!m.dx[k]) return;
  double sum_dy, sum_dy_xhat;
  block_channel_grad_sums(m.x[k], m.dy[k], m.mean[k][c], m.invstd[k][c], from_output, l, c, sum_dy,
                          sum_dy_xhat, m.grad_sums[k], m.parts);
  if (threadIdx.x != 0) return;
  T* member_means = means + int64_t(k) * 2 * l.C;
  member_means[c] = T(sum_dy / l.M);
  member_means[l.C + c] = T(sum_dy_xhat / l.M);
}

// blockIdx.y = member k: dx_k, through the batch statistics when means is given (training), else
// with the statistics as constants.
template <class T>
__global__ void input_grad_kernel(Members<T> m, const T* __restrict__ means, uint32_t C, uint32_t S,
                                  uint32_t n, bool from_output) {
  const uint32_t k = blockIdx.y;
  T* dx = m.dx[k];
  if (!dx) return;
  const T *__restrict__ x = m.x[k], *__restrict__ dy = m.dy[k];
  const T *__restrict__ mean = m.mean[k], *__restrict__ invstd = m.invstd[k];
  const T* mean_dy = means ? means + int64_t(k) * 2 * C : nullptr;
  const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x, step = gridDim.x * blockDim.x;
  if (first >= n) return;
  ChannelWalk channel(first, step, C, S);  // c = (i / S) % C by adds
  for (uint32_t i = first; i < n; i += step, channel.next()) {
    const uint32_t c = channel.c;
    dx[i] = mean_dy
                ? bn_input_grad_train(dy[i], bn_saved_xhat(x[i], mean[c], invstd[c], from_output),
                                      invstd[c], T(1), mean_dy[c], mean_dy[C + c])
                : bn_input_grad_eval(dy[i], invstd[c], T(1));
  }
}

// The member pointers of a call (unset ones null).
template <class T>
Members<T> members_of(const std::vector<Tensor>& xs, const std::vector<Tensor>& means,
                      const std::vector<Tensor>& invstds) {
  Members<T> m{};
  m.count = static_cast<int>(xs.size());
  for (int k = 0; k < m.count; ++k) {
    m.x[k] = xs[k].data<T>();
    m.mean[k] = means[k].data<T>();
    m.invstd[k] = invstds[k].data<T>();
  }
  return m;
}

}  // namespace

void batch_norm_group_forward(const std::vector<Tensor>& xs, std::vector<Tensor>& running_means,
                              std::vector<Tensor>& running_vars, std::vector<Tensor>& ys,
                              std::vector<Tensor>& save_means, std::vector<Tensor>& save_invstds,
                              const BatchNormParams& p, const std::vector<Tensor>& moments) {
  const ChannelLayout l = channel_layout(xs[0], "batch_norm_group_forward");
  const uint32_t k_count = static_cast<uint32_t>(xs.size());
  cudaStream_t s = stream(xs[0].device());
  dispatch_float(xs[0].dtype(), "batch_norm_group_forward", [&]<class T>() {
    Members<T> m = members_of<T>(xs, save_means, save_invstds);
    bool any_y = false;
    for (uint32_t k = 0; k < k_count; ++k) {
      m.y[k] = data_or_null<T>(ys[k]);
      any_y = any_y || ys[k].defined();
      m.running_mean[k] = data_or_null<T>(running_means[k]);
      m.running_var[k] = data_or_null<T>(running_vars[k]);
      if (has_parts(moments, k)) {
        m.moments[k] = moments[k].data<double>();
        m.parts = moments[k].size(0);
      }
    }
    if (p.training) {
      stats_kernel<<<k_count * l.C, kChannelThreads, 0, s>>>(m, l, p);
    } else {
      eval_stats_kernel<<<(k_count * l.C + 127) / 128, 128, 0, s>>>(m, l.C, p.eps);
    }
    AN_CUDA_CHECK_LAUNCH();
    const uint32_t n = static_cast<uint32_t>(xs[0].numel());
    if (n == 0 || !any_y) return;
    normalize_kernel<<<dim3(grid_for(n), k_count), 256, 0, s>>>(m, l.C, l.S, n);
    AN_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_group_backward(const std::vector<Tensor>& xs, const std::vector<Tensor>& save_means,
                               const std::vector<Tensor>& save_invstds,
                               const std::vector<Tensor>& dys, std::vector<Tensor>& dxs,
                               const BatchNormParams& p, const std::vector<Tensor>& grad_sums) {
  const ChannelLayout l = channel_layout(xs[0], "batch_norm_group_backward");
  const uint32_t k_count = static_cast<uint32_t>(xs.size());
  const uint32_t n = static_cast<uint32_t>(xs[0].numel());
  bool any_dx = false;
  for (const Tensor& dx : dxs) any_dx = any_dx || dx.defined();
  if (!any_dx || n == 0) return;
  cudaStream_t s = stream(xs[0].device());
  dispatch_float(xs[0].dtype(), "batch_norm_group_backward", [&]<class T>() {
    Members<T> m = members_of<T>(xs, save_means, save_invstds);
    for (uint32_t k = 0; k < k_count; ++k) {
      m.dy[k] = data_or_null<T>(dys[k]);
      m.dx[k] = data_or_null<T>(dxs[k]);
      if (has_parts(grad_sums, k)) {
        m.grad_sums[k] = grad_sums[k].data<double>();
        m.parts = grad_sums[k].size(0);
      }
    }
    // means [K, 2, C]: mean(dy), mean(dy·x̂) per member and channel (training).
    Tensor means;
    if (p.training) {
      means = Tensor::empty({int64_t(k_count), 2, int64_t(l.C)}, xs[0].dtype(), xs[0].device());
      grad_sums_kernel<<<k_count * l.C, kChannelThreads, 0, s>>>(m, l, p.backward_from_output,
                                                                 means.data<T>());
      AN_CUDA_CHECK_LAUNCH();
    }
    input_grad_kernel<<<dim3(grid_for(n), k_count), 256, 0, s>>>(
        m, p.training ? means.data<T>() : nullptr, l.C, l.S, n, p.backward_from_output);
    AN_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace autonet::cuda
