// Scalar formulas of batch normalisation, shared by the CPU loops and the CUDA kernels so the two
// twins round the same way.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/channel_moments.h"
#include "runtime/philox.h"  // AN_HOST_DEVICE

namespace autonet {

// x̂ = (x − mean)·invstd.
template <class T>
AN_HOST_DEVICE T bn_xhat(T x, T mean, T invstd) {
  return (x - mean) * invstd;
}

// y = x̂·w + b (w = 1, b = 0 without affine parameters).
template <class T>
AN_HOST_DEVICE T bn_output(T x, T mean, T invstd, T w, T b) {
  return bn_xhat(x, mean, invstd) * w + b;
}

// x̂ from what backward was given: the input x, or (BatchNormParams::backward_from_output) the
// output of an affine-free BN, which is x̂.
template <class T>
AN_HOST_DEVICE T bn_saved_xhat(T saved, T mean, T invstd, bool saved_is_xhat) {
  return saved_is_xhat ? saved : bn_xhat(saved, mean, invstd);
}

// dx in training, through the batch statistics:
// dx = invstd·w·(dy − mean(dy) − x̂·mean(dy·x̂)).
template <class T>
AN_HOST_DEVICE T bn_input_grad_train(T dy, T xhat, T invstd, T w, T mean_dy, T mean_dy_xhat) {
  return invstd * w * (dy - mean_dy - xhat * mean_dy_xhat);
}

// dx in eval: the statistics are constants.
template <class T>
AN_HOST_DEVICE T bn_input_grad_eval(T dy, T invstd, T w) {
  return dy * w * invstd;
}

// running ← (1 − momentum)·running + momentum·batch, in double like the rest of the per-channel
// statistics.
AN_HOST_DEVICE double bn_running_update(double running, double batch, double momentum) {
  return (1.0 - momentum) * running + momentum * batch;
}

AN_HOST_DEVICE double bn_invstd(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

// A channel's mean and variance in one pass: shifted sums in double, Σd and Σd² with d = x − shift
// and the shift one of the channel's own values, so |mean − shift| is about one standard deviation
// and Σd² − (Σd)²/m cancels little: the variance's relative error is about (1 + z²) times that of
// the sums, z = (mean − shift)/std. Both twins sum in blocks (a plane of H·W values on the CPU, a
// thread's share on the GPU) and then add the blocks, so with b values per block and m in all the
// sums carry at most about (b + m/b)·2⁻⁵³ of relative error: ~1e-13 for a DARTS channel
// (m = 65,536), far below float32's 6e-8 unless the shift lies 1,000 standard deviations out.
// Partial sums with the same shift merge by adding.
struct ShiftedMoments {
  double shift = 0, sum = 0, squares = 0;
  AN_HOST_DEVICE void add(double x) {
    const double d = x - shift;
    sum += d;
    squares += d * d;
  }
  AN_HOST_DEVICE void merge(const ShiftedMoments& other) {
    sum += other.sum;
    squares += other.squares;
  }
  AN_HOST_DEVICE double mean(double m) const { return shift + sum / m; }
  // Σ(x − mean)², never below zero (rounding).
  AN_HOST_DEVICE double m2(double m) const {
    const double v = squares - sum * sum / m;
    return v > 0 ? v : 0;
  }
};

// Merged moment parts (kernels/channel_moments.h) as shifted sums around their mean: Σd = 0 and
// Σd² = M2, which bn_finish_batch_stats turns into the batch statistics as it does a pass's.
AN_HOST_DEVICE ShiftedMoments shifted_moments(const MomentsPart& m) {
  ShiftedMoments s;
  s.shift = m.mean;
  s.squares = m.m2;
  return s;
}

// The CPU twins' blocks: channel c of x viewed as [N, C, S], a plane of S values at a time.
template <class T>
ShiftedMoments channel_moments(const T* x, int64_t N, int64_t C, int64_t S, int64_t c) {
  ShiftedMoments moments;
  moments.shift = static_cast<double>(x[c * S]);
  for (int64_t n = 0; n < N; ++n) {
    ShiftedMoments block;
    block.shift = moments.shift;
    shifted_sums(x + (n * C + c) * S, S, block.shift, block.sum, block.squares);
    moments.merge(block);
  }
  return moments;
}

// Training: the batch's mean and invstd (biased variance) from a channel's m values, and the
// running statistics' update (unbiased variance) when they are tracked.
template <class T>
AN_HOST_DEVICE void bn_finish_batch_stats(const ShiftedMoments& moments, double m,
                                          const BatchNormParams& p, T& save_mean, T& save_invstd,
                                          T* running_mean, T* running_var) {
  const double mean = moments.mean(m), m2 = moments.m2(m);
  save_mean = static_cast<T>(mean);
  save_invstd = static_cast<T>(bn_invstd(m2 / m, p.eps));
  if (running_mean) {
    *running_mean = static_cast<T>(bn_running_update(*running_mean, mean, p.momentum));
    *running_var = static_cast<T>(bn_running_update(*running_var, m2 / (m - 1), p.momentum));
  }
}

// A channel's statistics for a pass: in training the batch's, from its moments over m values (the
// running ones updated when tracked: running_* point at the channel's, or are null), in eval the
// running ones (moments unused).
template <class T>
AN_HOST_DEVICE void bn_pass_stats(const ShiftedMoments& moments, double m, const BatchNormParams& p,
                                  T* running_mean, T* running_var, T& mean, T& invstd) {
  if (p.training) {
    bn_finish_batch_stats(moments, m, p, mean, invstd, running_mean, running_var);
    return;
  }
  mean = *running_mean;
  invstd = static_cast<T>(bn_invstd(*running_var, p.eps));
}

// A member's parts (kernels/channel_moments.h: moment parts, or gradient-sum parts) as the CPU
// twins read them; data null: none, the sums come from a pass over the tensors.
struct PartsView {
  const double* data = nullptr;
  int64_t count = 0;  // parts per channel
};
inline PartsView parts_of(const std::vector<Tensor>& parts, size_t k) {
  return has_parts(parts, k) ? PartsView{parts[k].data<double>(), parts[k].size(0)} : PartsView{};
}

// The CPU twins' statistics of channel c (x viewed as [N, C, S]; running_* [C] or null): the
// batch's in training (running ones updated when tracked; merged from `parts` where given), the
// running ones in eval.
template <class T>
void bn_channel_stats(const T* x, int64_t N, int64_t C, int64_t S, int64_t c,
                      const BatchNormParams& p, T* running_mean, T* running_var, T& mean,
                      T& invstd, const PartsView& parts = {}) {
  ShiftedMoments moments;
  if (p.training)
    moments = parts.data ? shifted_moments(merged_moments(parts.data, parts.count, C, c))
                         : channel_moments(x, N, C, S, c);
  bn_pass_stats(moments, static_cast<double>(N * S), p, running_mean ? running_mean + c : nullptr,
                running_var ? running_var + c : nullptr, mean, invstd);
}

// Σg and Σg·x̂ over positions [begin, end) of one plane (saved and g at the plane), in double, in
// channel_moments.h's kSumLanes lanes (the CPU twins'). One sum per kind of x̂: a choice inside the
// loop would keep it scalar.
template <class T>
void bn_run_grad_sums(const T* saved, const T* g, int64_t begin, int64_t end, T mean, T invstd,
                      bool saved_is_xhat, double& sum_g, double& sum_g_xhat) {
  const T *gs = g + begin, *xs = saved + begin;
  auto sums = [&](auto xhat) {
    cpu::sums_in_lanes<kSumLanes, double>(
        end - begin, [&](int64_t i) { return double(gs[i]); },
        [&](int64_t i) { return double(gs[i]) * xhat(xs[i]); }, sum_g, sum_g_xhat);
  };
  if (saved_is_xhat)
    sums([](T v) { return v; });
  else
    sums([&](T v) { return bn_xhat(v, mean, invstd); });
}

// The CPU twins' Σg and Σg·x̂ over channel c, in double (x̂ from what backward keeps): a run of
// kMomentRun positions of one sample at a time, the runs added in order, so that sums merged from
// the parts of a producer (`parts`, formed by bn_run_grad_sums over the same runs) are these sums
// bit for bit.
template <class T>
void bn_channel_grad_sums(const T* saved, const T* g, int64_t N, int64_t C, int64_t S, int64_t c,
                          T mean, T invstd, bool saved_is_xhat, double& sum_g, double& sum_g_xhat,
                          const PartsView& parts = {}) {
  sum_g = 0, sum_g_xhat = 0;
  if (parts.data) {
    for (int64_t p = 0; p < parts.count; ++p) {
      sum_g += parts.data[(p * C + c) * 2];
      sum_g_xhat += parts.data[(p * C + c) * 2 + 1];
    }
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    const int64_t at = (n * C + c) * S;
    for (int64_t begin = 0; begin < S; begin += kMomentRun) {
      double run_g, run_g_xhat;
      bn_run_grad_sums(saved + at, g + at, begin, std::min(begin + kMomentRun, S), mean, invstd,
                       saved_is_xhat, run_g, run_g_xhat);
      sum_g += run_g;
      sum_g_xhat += run_g_xhat;
    }
  }
}

// The CPU twins' gradient-sum parts [P, C, 2] of g against x (x̂ = (x − mean[c])·invstd[c]), x
// and g viewed as [N, C, S]: what bn_channel_grad_sums would sum over each run.
template <class T>
void form_grad_sum_parts(const T* x, const T* g, int64_t N, int64_t C, int64_t S, const T* mean,
                         const T* invstd, double* parts) {
  const int64_t runs = (S + kMomentRun - 1) / kMomentRun;
#pragma omp parallel for if (N * C * S > 65536)
  for (int64_t plane = 0; plane < N * C; ++plane) {
    const int64_t n = plane / C, c = plane % C;
    for (int64_t r = 0; r < runs; ++r) {
      double* part = parts + ((n * runs + r) * C + c) * 2;
      bn_run_grad_sums(x + plane * S, g + plane * S, r * kMomentRun,
                       std::min((r + 1) * kMomentRun, S), mean[c], invstd[c], false, part[0],
                       part[1]);
    }
  }
}

// The CPU twins' view of x as [N, C, S] with S = H·W (1 for [N, C]): channel c's elements are
// x[(n·C + c)·S + s].
struct BnDims {
  int64_t N, C, S;
  explicit BnDims(const Tensor& x)
      : N(x.size(0)), C(x.size(1)), S(x.dim() == 4 ? x.size(2) * x.size(3) : 1) {}
  int64_t per_channel() const { return N * S; }
  int64_t at(int64_t n, int64_t c, int64_t s) const { return (n * C + c) * S + s; }
};

// y = x̂·w + b over channel c (weight, bias [C] or null: affine-free; y null: nothing to write).
template <class T>
void bn_normalize_channel(const T* x, const BnDims& d, int64_t c, T mean, T invstd,
                          const T* weight, const T* bias, T* y) {
  if (!y) return;
  const T w = weight ? weight[c] : T(1), b = bias ? bias[c] : T(0);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t s = 0; s < d.S; ++s) {
      const int64_t i = d.at(n, c, s);
      y[i] = bn_output(x[i], mean, invstd, w, b);
    }
}

// The CPU twins' forward of channel c: its statistics into save_mean[c] / save_invstd[c] (running
// ones updated in training when tracked), then y = x̂·w + b over the channel (weight, bias [C] or
// null: affine-free; y null: the statistics only).
template <class T>
void bn_forward_channel(const T* x, const BnDims& d, int64_t c, const BatchNormParams& p,
                        const T* weight, const T* bias, T* running_mean, T* running_var, T* y,
                        T* save_mean, T* save_invstd, const PartsView& parts = {}) {
  T mean, invstd;
  bn_channel_stats(x, d.N, d.C, d.S, c, p, running_mean, running_var, mean, invstd, parts);
  save_mean[c] = mean;
  save_invstd[c] = invstd;
  bn_normalize_channel(x, d, c, mean, invstd, weight, bias, y);
}

// The CPU twins' backward of channel c: Σdy and Σdy·x̂ in one pass (added into dbias[c] /
// dweight[c] when wanted), then dx over the channel when wanted (dx null: skipped). `saved` is x,
// or the output with p.backward_from_output.
template <class T>
void bn_backward_channel(const T* saved, const T* dy, const BnDims& d, int64_t c,
                         const BatchNormParams& p, const T* weight, const T* save_mean,
                         const T* save_invstd, T* dx, T* dweight, T* dbias,
                         const PartsView& parts = {}) {
  const T mean = save_mean[c], invstd = save_invstd[c];
  const bool from_output = p.backward_from_output;
  double sum_dy, sum_dy_xhat;
  bn_channel_grad_sums(saved, dy, d.N, d.C, d.S, c, mean, invstd, from_output, sum_dy,
                       sum_dy_xhat, parts);
  if (dbias) dbias[c] += static_cast<T>(sum_dy);
  if (dweight) dweight[c] += static_cast<T>(sum_dy_xhat);
  if (!dx) return;
  const double m = static_cast<double>(d.per_channel());
  const T w = weight ? weight[c] : T(1);
  const T mean_dy = static_cast<T>(sum_dy / m), mean_dy_xhat = static_cast<T>(sum_dy_xhat / m);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t s = 0; s < d.S; ++s) {
      const int64_t i = d.at(n, c, s);
      dx[i] = p.training ? bn_input_grad_train(dy[i], bn_saved_xhat(saved[i], mean, invstd,
                                                                    from_output),
                                               invstd, w, mean_dy, mean_dy_xhat)
                         : bn_input_grad_eval(dy[i], invstd, w);
    }
}

}  // namespace autonet
